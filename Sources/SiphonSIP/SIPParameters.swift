/// `;name=value` parameters in order (URI parameters, header parameters); names match case-insensitively.
public struct SIPParameters: Sendable, Equatable, CustomStringConvertible {
    public var items: [(name: String, value: String?)] = []

    public init() {}

    public static func == (a: SIPParameters, b: SIPParameters) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name.lowercased() == $1.name.lowercased() && $0.value == $1.value }
    }

    public subscript(name: String) -> String? {
        get { items.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value ?? nil }
        set {
            if let i = items.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) {
                items[i].value = newValue
            } else {
                items.append((name, newValue))
            }
        }
    }

    public func has(_ name: String) -> Bool { items.contains { $0.name.caseInsensitiveCompare(name) == .orderedSame } }

    public mutating func remove(_ name: String) { items.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame } }

    /// Parses `;a=b;c` (the text after the first `;`, or with it). Empty names are errors (badinv01).
    static func parse(_ text: Substring, strict: Bool = true) throws -> SIPParameters {
        var p = SIPParameters()
        var rest = Substring(text.trimmingLWS())
        if rest.first == ";" { rest = rest.dropFirst() }
        if rest.trimmingLWS().isEmpty { return p }
        for part in splitOutsideQuotes(rest, separator: ";") {
            let item = part.trimmingLWS()
            guard !item.isEmpty else { throw SIPMessageError(400, "empty parameter") }
            if let eq = item.firstIndex(of: "=") {
                let name = item[..<eq].trimmingLWS()
                let value = item[item.index(after: eq)...].trimmingLWS()
                guard SIPChar.isToken(name) else { throw SIPMessageError(400, "bad parameter name '\(name.prefix(32))'") }
                if strict, value.isEmpty { throw SIPMessageError(400, "parameter \(name) has an empty value") }
                p.items.append((name, value))
            } else {
                guard SIPChar.isToken(item) else { throw SIPMessageError(400, "bad parameter '\(item.prefix(32))'") }
                p.items.append((item, nil))
            }
        }
        return p
    }

    public var description: String {
        items.map { ";" + $0.name + ($0.value.map { "=" + $0 } ?? "") }.joined()
    }
}

/// Splits on a separator outside double quotes. SIP syntax is ASCII, so the scan runs on UTF-8
/// bytes (a Character walk costs grapheme breaking on every step).
func splitOutsideQuotes(_ s: Substring, separator: Character) -> [Substring] {
    let sep = separator.asciiValue ?? 0
    var parts: [Substring] = []
    let u = s.utf8
    var start = u.startIndex
    var inQuotes = false, escaped = false
    var i = u.startIndex
    while i < u.endIndex {
        let c = u[i]
        if escaped { escaped = false } else if inQuotes && c == 0x5C { escaped = true } else if c == 0x22 { inQuotes.toggle() } else if c == sep && !inQuotes {
            parts.append(Substring(u[start..<i]))
            start = u.index(after: i)
        }
        i = u.index(after: i)
    }
    parts.append(Substring(u[start..<u.endIndex]))
    return parts
}
