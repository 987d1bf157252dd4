/// One Via value: `SIP/2.0/UDP host:port;branch=z9hG4bK…;rport;received=…`.
public struct ViaHeader: Sendable, Equatable, CustomStringConvertible {
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters = SIPParameters()

    public static let magicCookie = "z9hG4bK"

    public init(transport: String, host: String, port: Int?, branch: String) {
        self.transport = transport
        self.host = host
        self.port = port
        parameters["branch"] = branch
        parameters["rport"] = nil
    }

    public var branch: String? { parameters["branch"] }

    public init(parsing raw: String) throws {
        let text = raw.trimmingLWS()
        let semi = text.firstIndex(of: ";") ?? text.endIndex
        let head = text[..<semi]
        // "SIP / 2.0 / UDP host:port" — LWS allowed around the slashes (wsinv)
        let slashParts = head.split(separator: "/", maxSplits: 2).map { $0.trimmingLWS() }
        guard slashParts.count == 3 else { throw SIPMessageError(400, "malformed Via") }
        guard slashParts[0].uppercased() == "SIP" else { throw SIPMessageError(400, "Via protocol is not SIP") }
        guard slashParts[1] == "2.0" else { throw SIPMessageError(505, "SIP version \(slashParts[1]) not supported") }
        let rest = slashParts[2].split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
        guard rest.count == 2, SIPChar.isToken(rest[0]) else { throw SIPMessageError(400, "malformed Via sent-by") }
        transport = rest[0].uppercased()
        let sentBy = rest[1].trimmingLWS()
        if sentBy.hasPrefix("[") {
            guard let close = sentBy.firstIndex(of: "]") else { throw SIPMessageError(400, "bad Via host") }
            host = String(sentBy[sentBy.index(after: sentBy.startIndex)..<close])
            let after = sentBy[sentBy.index(after: close)...].trimmingLWS()
            if !after.isEmpty {
                guard after.first == ":", let p = Int(after.dropFirst().trimmingLWS()), (1...65535).contains(p) else { throw SIPMessageError(400, "bad Via port") }
                port = p
            }
        } else if let c = sentBy.lastIndex(of: ":") {
            host = sentBy[..<c].trimmingLWS()
            guard let p = Int(sentBy[sentBy.index(after: c)...].trimmingLWS()), (1...65535).contains(p) else { throw SIPMessageError(400, "bad Via port") }
            port = p
        } else {
            host = sentBy
        }
        guard !host.isEmpty, !host.contains(" ") else { throw SIPMessageError(400, "bad Via host") }
        if semi < text.endIndex { parameters = try SIPParameters.parse(text[semi...], strict: false) }
        if let b = parameters["branch"] {
            guard !b.isEmpty, b != Self.magicCookie else { throw SIPMessageError(400, "Via branch has no transaction id") }
        }
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "SIP/2.0/\(transport) \(h)\(port.map { ":\($0)" } ?? "")\(parameters)"
    }
}
