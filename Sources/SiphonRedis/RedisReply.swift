import CHiredis

/// A RESP2 reply, copied out of hiredis' `redisReply` so it outlives `freeReplyObject`.
public enum RedisReply: Sendable, Equatable, CustomStringConvertible {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])

    /// Converts hiredis' reply tree. Unknown types (RESP3 from a newer library) become `.error`.
    init(_ reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulk(r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: r.len)) } ?? [])
        case REDIS_REPLY_STATUS:
            self = .status(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            self = .error(r.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_INTEGER:
            self = .integer(r.integer)
        case REDIS_REPLY_NIL:
            self = .null
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let e = r.element[i] { items.append(RedisReply(e)) } else { items.append(.null) }
            }
            self = .array(items)
        default:
            self = .error("unsupported reply type \(r.type)")
        }
    }

    /// Bulk or status text; integers are rendered in decimal.
    public var string: String? {
        switch self {
        case .bulk(let b): String(decoding: b, as: UTF8.self)
        case .status(let s): s
        case .integer(let i): String(i)
        default: nil
        }
    }

    public var int: Int64? {
        switch self {
        case .integer(let i): i
        case .bulk, .status: string.flatMap { Int64($0) }
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    public var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }

    /// A flat `[field, value, field, value…]` array (HGETALL, XRANGE entries) as a dictionary.
    public var fieldMap: [String: String] {
        guard let a = array else { return [:] }
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < a.count {
            if let k = a[i].string { out[k] = a[i + 1].string ?? "" }
            i += 2
        }
        return out
    }

    public var description: String {
        switch self {
        case .status(let s): "+\(s)"
        case .error(let e): "-\(e)"
        case .integer(let i): ":\(i)"
        case .bulk: "\"\(string ?? "")\""
        case .null: "(nil)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
