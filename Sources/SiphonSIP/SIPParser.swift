/// Parses SIP messages from UDP datagrams and TCP streams (RFC 3261 7, 18.3).
///
/// Strict where the torture tests (RFC 4475) say to reject, lenient where they say to accept:
/// folded lines, compact names, any header-name case, LWS around colons are fine; extra spaces in
/// the request line, bad Content-Length, missing end of headers, oversize messages are errors with
/// the status a server answers (400, 505, 413). Never traps on any input.
public enum SIPParser {
    public static let maxMessageBytes = 65_536
    public static let maxHeaders = 256

    /// Parses one message from a datagram. Bytes after the message (beyond Content-Length) are ignored.
    public static func parse(datagram bytes: [UInt8]) throws -> SIPMessage {
        guard bytes.count <= maxMessageBytes else { throw SIPMessageError(413, "message too large") }
        var start = 0
        while start + 1 < bytes.count, bytes[start] == 13, bytes[start + 1] == 10 { start += 2 }  // keep-alive CRLFs
        guard let headerEnd = findHeaderEnd(bytes, from: start) else {
            throw SIPMessageError(400, "no empty line after the headers")
        }
        var message = try parseHead(bytes[start..<headerEnd.head])
        let bodyStart = headerEnd.body
        let available = bytes.count - bodyStart
        if let length = try contentLength(message) {
            guard length <= available else { throw SIPMessageError(400, "Content-Length \(length) exceeds the \(available) bytes received") }
            message.body = Array(bytes[bodyStart..<bodyStart + length])
        } else {
            message.body = Array(bytes[bodyStart...])  // RFC 3261 18.3: UDP framing by the datagram
        }
        return message
    }

    /// The message's Content-Length, if given. Conflicting or malformed values are errors.
    static func contentLength(_ message: SIPMessage) throws -> Int? {
        let values = message.headers.filter { $0.name == "Content-Length" }.map { $0.value.trimmingLWS() }
        guard let first = values.first else { return nil }
        guard values.allSatisfy({ $0 == first }) else { throw SIPMessageError(400, "conflicting Content-Length values") }
        guard !first.isEmpty, first.allSatisfy(\.isNumber), let n = Int(first), n <= maxMessageBytes else {
            throw SIPMessageError(400, "bad Content-Length '\(first.prefix(20))'")
        }
        return n
    }

    struct HeaderEnd {
        let head: Int  // end of the last header line (excluding the blank line)
        let body: Int  // first body byte
    }

    static func findHeaderEnd(_ b: [UInt8], from: Int) -> HeaderEnd? {
        var i = from
        while i + 3 < b.count {
            if b[i] == 13, b[i + 1] == 10, b[i + 2] == 13, b[i + 3] == 10 { return HeaderEnd(head: i, body: i + 4) }
            i += 1
        }
        return nil
    }

    /// Start line and headers (everything before the blank line), on bytes: only the start line,
    /// each header's canonical name and its trimmed value become strings.
    static func parseHead(_ head: ArraySlice<UInt8>) throws -> SIPMessage {
        try head.withUnsafeBufferPointer { b -> SIPMessage in
            // Lines end at LF; a CR before it is dropped. Splitting bytes, because in Swift "\r\n" is one Character.
            func lineEnd(from i: Int) -> (end: Int, next: Int) {
                var j = i
                while j < b.count, b[j] != 10 { j += 1 }
                return (j > i && b[j - 1] == 13 ? j - 1 : j, j + 1)
            }
            guard !b.isEmpty else { throw SIPMessageError(400, "empty message") }
            let first = lineEnd(from: 0)
            var message = SIPMessage(startLine: try parseStartLine(Substring(String(decoding: UnsafeBufferPointer(rebasing: b[0..<first.end]), as: UTF8.self))))
            var i = first.next
            var headerLines = 0
            while i < b.count {
                let (end, next) = lineEnd(from: i)
                defer { i = next }
                if end == i { continue }
                let line = UnsafeBufferPointer(rebasing: b[i..<end])
                if line[0] == 32 || line[0] == 9 {
                    // Folding: the line continues the previous header's value.
                    guard !message.headers.isEmpty else { throw SIPMessageError(400, "continuation line before any header") }
                    let more = trimmed(line)
                    if !more.isEmpty { message.headers[message.headers.count - 1].value += " " + String(decoding: more, as: UTF8.self) }
                    continue
                }
                guard let colon = line.firstIndex(of: 58) else { throw SIPMessageError(400, "header line without ':'") }
                let name = trimmed(UnsafeBufferPointer(rebasing: line[0..<colon]))
                guard !name.isEmpty, name.allSatisfy(SIPChar.isToken) else {
                    throw SIPMessageError(400, "bad header name '\(String(decoding: name.prefix(40), as: UTF8.self))'")
                }
                let canonical = SIPHeaderName.normalize(name)
                // Content-Length is left out of the count: serialising always writes one, and a
                // message that parsed must parse again after it.
                if canonical != "Content-Length" {
                    headerLines += 1
                    guard headerLines <= maxHeaders else { throw SIPMessageError(400, "too many header lines") }
                }
                let value = trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
                message.headers.append(.init(canonical, String(decoding: value, as: UTF8.self)))
            }
            return message
        }
    }

    /// Without leading and trailing spaces and tabs.
    private static func trimmed(_ x: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var lo = 0, hi = x.count
        while lo < hi, x[lo] == 32 || x[lo] == 9 { lo += 1 }
        while hi > lo, x[hi - 1] == 32 || x[hi - 1] == 9 || x[hi - 1] == 13 { hi -= 1 }
        return UnsafeBufferPointer(rebasing: x[lo..<hi])
    }

    /// Header lines read leniently (no validation), to address an error response to a message
    /// that failed to parse.
    static func salvageHeaders(_ bytes: [UInt8]) -> [SIPMessage.Header] {
        let end = findHeaderEnd(bytes, from: 0)?.head ?? min(bytes.count, maxMessageBytes)
        var out: [SIPMessage.Header] = []
        for line in bytes[0..<end].split(separator: 10).dropFirst() {
            let text = String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":"), !(text.first?.isWhitespace ?? true) else { continue }
            out.append(.init(SIPHeaderName.normalize(text[..<colon].trimmingLWS()), text[text.index(after: colon)...].trimmingLWS()))
        }
        return out
    }

    static func parseStartLine(_ line: Substring) throws -> SIPMessage.StartLine {
        if line.utf8.starts(with: "SIP/".utf8) {
            // SIP-Version SP Status-Code SP Reason-Phrase (the phrase may be empty, not the SP)
            let parts = line.utf8.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false).map { Substring($0) }
            guard parts.count == 3 else { throw SIPMessageError(400, "malformed status line") }
            guard parts[0] == "SIP/2.0" else { throw SIPMessageError(505, "version \(parts[0].prefix(16)) not supported") }
            guard parts[1].utf8.count == 3, parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let code = Int(parts[1]), (100...699).contains(code) else {
                throw SIPMessageError(400, "bad status code")
            }
            return .response(status: code, reason: String(parts[2]))
        }
        // Method SP Request-URI SP SIP-Version, single spaces only (lwsstart, trws, lwsruri)
        let parts = line.utf8.split(separator: 0x20, omittingEmptySubsequences: false).map { Substring($0) }
        guard parts.count == 3, !parts.contains(where: \.isEmpty) else { throw SIPMessageError(400, "malformed request line") }
        guard SIPChar.isToken(parts[0]) else { throw SIPMessageError(400, "bad method") }
        guard parts[2].utf8.starts(with: "SIP/".utf8) else { throw SIPMessageError(400, "malformed request line") }
        guard parts[2] == "SIP/2.0" else { throw SIPMessageError(505, "version \(parts[2].prefix(16)) not supported") }
        let uri = try SIPURI(parsing: parts[1])
        if uri.isSIP, uri.headers != nil { throw SIPMessageError(400, "Request-URI carries escaped headers") }
        return .request(method: String(parts[0]), uri: String(parts[1]))
    }
}

/// Reassembles SIP messages from a TCP byte stream (framing by Content-Length, required there).
public struct SIPStreamFramer {
    private var buffer: [UInt8] = []

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete message, nil if more bytes are needed. Throws on a framing error, after
    /// which the connection must be closed.
    public mutating func next() throws -> SIPMessage? {
        var start = 0
        while start + 1 < buffer.count, buffer[start] == 13, buffer[start + 1] == 10 { start += 2 }
        if start > 0 { buffer.removeFirst(start) }
        guard let end = SIPParser.findHeaderEnd(buffer, from: 0) else {
            if buffer.count > SIPParser.maxMessageBytes { throw SIPMessageError(413, "headers too large") }
            return nil
        }
        var message = try SIPParser.parseHead(buffer[0..<end.head])
        guard let length = try SIPParser.contentLength(message) else { throw SIPMessageError(400, "Content-Length is required over TCP") }
        guard buffer.count >= end.body + length else { return nil }
        message.body = Array(buffer[end.body..<end.body + length])
        buffer.removeFirst(end.body + length)
        return message
    }
}
