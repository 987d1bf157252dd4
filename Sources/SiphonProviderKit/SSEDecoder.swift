/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var id: String?
}

/// Incremental `text/event-stream` parser (WHATWG rules, as the OpenAI and Anthropic SDKs apply
/// them): lines end at CR, LF or CRLF — also when the CR and LF arrive in different chunks; a
/// blank line dispatches; `:` starts a comment; one space after the colon is dropped; several
/// `data:` lines join with "\n".
public struct SSEDecoder: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var event: String?
    private var data: [String] = []
    private var id: String?
    /// Longest line accepted; a peer that never ends a line must not grow memory without bound.
    public var maxLineBytes = 1 << 20

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [SSEEvent] {
        var out: [SSEEvent] = []
        for b in bytes {
            if afterCR {
                afterCR = false
                if b == 0x0A { continue }
            }
            if b == 0x0D || b == 0x0A {
                afterCR = b == 0x0D
                if let e = endLine() { out.append(e) }
            } else {
                line.append(b)
                if line.count > maxLineBytes { throw SSEError.lineTooLong(maxLineBytes) }
            }
        }
        return out
    }

    private mutating func endLine() -> SSEEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard !data.isEmpty || event != nil else { return nil }
            let e = SSEEvent(event: event, data: data.joined(separator: "\n"), id: id)
            (event, data) = (nil, [])
            return e
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let field: String
        let value: String
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = colon + 1
            if start < line.count, line[start] == UInt8(ascii: " ") { start += 1 }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "data": data.append(value)
        case "event": event = value
        case "id": if !value.contains("\0") { id = value }
        default: break  // retry and unknown fields: ignored
        }
        return nil
    }
}

public enum SSEError: Error, Sendable, CustomStringConvertible {
    case lineTooLong(Int)
    public var description: String {
        switch self { case .lineTooLong(let n): "event stream line longer than \(n) bytes" }
    }
}
