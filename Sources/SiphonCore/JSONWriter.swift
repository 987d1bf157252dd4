/// A small canonical JSON writer for hot paths (enqueueing, turns): Foundation's `JSONEncoder`
/// costs several microseconds per object, which bounds enqueue throughput.
/// Callers write keys in sorted order to keep the output canonical.
public struct JSONWriter {
    public private(set) var text = "{"
    private var first = true

    public init() { text.reserveCapacity(256) }

    public mutating func field(_ key: String, _ value: String) {
        keyPrefix(key)
        Self.appendQuoted(value, to: &text)
    }

    public mutating func field(_ key: String, _ value: Int) {
        keyPrefix(key)
        text += String(value)
    }

    /// A finite number, in Swift's shortest round-tripping form (valid JSON).
    public mutating func field(_ key: String, _ value: Double) {
        keyPrefix(key)
        text += value.isFinite ? String(value) : "0"
    }

    public mutating func field(_ key: String, _ value: Bool) {
        keyPrefix(key)
        text += value ? "true" : "false"
    }

    /// Writes a nested object produced by another writer.
    public mutating func field(_ key: String, object: JSONWriter) {
        keyPrefix(key)
        text += object.finished()
    }

    public func finished() -> String { text + "}" }

    private mutating func keyPrefix(_ key: String) {
        if !first { text += "," }
        first = false
        Self.appendQuoted(key, to: &text)
        text += ":"
    }

    /// RFC 8259 string escaping: quote, backslash and control characters.
    public static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { needsEscape = true; break }
        if !needsEscape {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
