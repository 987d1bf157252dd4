/// A SIP request or response (RFC 3261 7): start line, headers in order, body bytes.
///
/// Headers keep their wire order and values; names are stored in canonical form (compact forms
/// expanded). Structured views (`vias`, `from`, `cseq`, …) parse on access and throw
/// `SIPMessageError` for malformed values.
public struct SIPMessage: Sendable, Equatable {
    public enum StartLine: Sendable, Equatable {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var startLine: StartLine
    public var headers: [Header]
    public var body: [UInt8]

    public init(startLine: StartLine, headers: [Header] = [], body: [UInt8] = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    // MARK: start line

    public var isRequest: Bool { if case .request = startLine { return true } else { return false } }

    public var method: String? { if case .request(let m, _) = startLine { return m } else { return nil } }

    public var status: Int? { if case .response(let s, _) = startLine { return s } else { return nil } }

    public var reason: String? { if case .response(_, let r) = startLine { return r } else { return nil } }

    public var requestURI: SIPURI? {
        if case .request(_, let u) = startLine { return try? SIPURI(u) }
        return nil
    }

    // MARK: headers

    public func header(_ name: String) -> String? {
        let n = SIPHeaderName.normalize(name)
        return headers.first { $0.name == n }?.value
    }

    /// Every value of a header, comma-separated lists split, across repeated header lines.
    public func values(_ name: String) -> [String] {
        let n = SIPHeaderName.normalize(name)
        return headers.filter { $0.name == n }.flatMap { splitHeaderValues($0.value) }.filter { !$0.isEmpty }
    }

    public mutating func set(_ name: String, _ value: String) {
        let n = SIPHeaderName.normalize(name)
        if let i = headers.firstIndex(where: { $0.name == n }) {
            headers[i].value = value
            headers.removeAll { $0.name == n && $0.value != value }
            if let j = headers.firstIndex(where: { $0.name == n }), j != i { headers.remove(at: j) }
        } else {
            headers.append(Header(n, value))
        }
    }

    public mutating func add(_ name: String, _ value: String) { headers.append(Header(SIPHeaderName.normalize(name), value)) }

    public mutating func remove(_ name: String) {
        let n = SIPHeaderName.normalize(name)
        headers.removeAll { $0.name == n }
    }

    // MARK: structured views

    public var callID: String? { header("Call-ID")?.trimmingLWS() }

    public var cseq: (number: UInt32, method: String)? { try? parsedCSeq() }

    public func parsedCSeq() throws -> (number: UInt32, method: String) {
        guard let v = header("CSeq") else { throw SIPMessageError(400, "missing CSeq") }
        let parts = v.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, parts[0].allSatisfy(\.isNumber), let n = UInt32(parts[0]), SIPChar.isToken(parts[1]) else {
            throw SIPMessageError(400, "bad CSeq '\(v.prefix(40))'")
        }
        return (n, String(parts[1]))
    }

    /// The Session-Expires header (RFC 4028), nil when absent or malformed.
    public var sessionExpires: SessionExpires? { header("Session-Expires").flatMap(SessionExpires.init(parsing:)) }

    /// The status code in a message/sipfrag body (RFC 3515 NOTIFY progress: "SIP/2.0 180 Ringing").
    public static func sipfragStatus(_ body: [UInt8]) -> Int? {
        let line = body.prefix { $0 != 13 && $0 != 10 }
        guard let start = try? SIPParser.parseStartLine(Substring(String(decoding: line, as: UTF8.self))),
              case .response(let status, _) = start else { return nil }
        return status
    }

    public func vias() throws -> [ViaHeader] { try values("Via").map { try ViaHeader(parsing: $0) } }

    public var topVia: ViaHeader? { values("Via").first.flatMap { try? ViaHeader(parsing: $0) } }

    public func from() throws -> NameAddress {
        guard let v = header("From") else { throw SIPMessageError(400, "missing From") }
        return try NameAddress(parsing: v)
    }

    public func to() throws -> NameAddress {
        guard let v = header("To") else { throw SIPMessageError(400, "missing To") }
        return try NameAddress(parsing: v)
    }

    public func contacts() throws -> [NameAddress] { try values("Contact").map { try NameAddress(parsing: $0) } }

    public var fromTag: String? { (try? from())?.tag }
    public var toTag: String? { (try? to())?.tag }

    public var contentType: String? { header("Content-Type")?.split(separator: ";").first.map { $0.trimmingLWS().lowercased() } }

    public var maxForwards: Int? { header("Max-Forwards").flatMap { Int($0.trimmingLWS()) } }

    // MARK: serialization

    /// The wire form, with Content-Length set from the body.
    public func serialized() -> [UInt8] {
        var s: String
        switch startLine {
        case .request(let m, let u): s = "\(m) \(u) SIP/2.0\r\n"
        case .response(let code, let reason): s = "SIP/2.0 \(code) \(reason)\r\n"
        }
        for h in headers where h.name != "Content-Length" { s += "\(h.name): \(h.value)\r\n" }
        s += "Content-Length: \(body.count)\r\n\r\n"
        return Array(s.utf8) + body
    }

    public var text: String { String(decoding: serialized(), as: UTF8.self) }
}
