/// A phone number in E.164 form: `+`, a country code that does not start with 0, at most 15 digits.
///
/// Visual separators users paste from address books (spaces, `-`, `.`, `(`, `)`) are removed;
/// anything else is an error that says what was expected.
public struct PhoneNumber: Hashable, Sendable, Codable, CustomStringConvertible {
    public let e164: String

    /// The fewest digits accepted. E.164 sets no minimum; the shortest numbers in service
    /// (small island plans) have 7 digits including the country code.
    public static let minimumDigits = 7
    public static let maximumDigits = 15

    public init(_ text: String) throws {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.first == "+" else {
            throw SiphonError.invalid("'\(trimmed.prefix(32))' is not an E.164 number: it must start with '+' and the country code")
        }
        var digits = ""
        for ch in trimmed.dropFirst() {
            if ch.isASCII, ch.isNumber {
                digits.append(ch)
            } else if ch == " " || ch == "-" || ch == "." || ch == "(" || ch == ")" {
                continue
            } else {
                throw SiphonError.invalid("'\(trimmed.prefix(32))' is not an E.164 number: unexpected character '\(ch)'")
            }
        }
        guard let first = digits.first, first != "0" else {
            throw SiphonError.invalid("'\(trimmed.prefix(32))' is not an E.164 number: the country code cannot start with 0")
        }
        guard (Self.minimumDigits...Self.maximumDigits).contains(digits.count) else {
            throw SiphonError.invalid(
                "'\(trimmed.prefix(32))' is not an E.164 number: \(digits.count) digits, expected \(Self.minimumDigits) to \(Self.maximumDigits)")
        }
        self.e164 = "+" + digits
    }

    public var description: String { e164 }
    /// The digits without the leading `+` (the SIP user part most carriers expect).
    public var digits: Substring { e164.dropFirst() }

    public init(from decoder: any Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(e164)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
