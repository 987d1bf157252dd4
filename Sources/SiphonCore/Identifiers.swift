/// Validation of the names and ids that become parts of Redis keys and log metadata.
public enum Identifier {
    /// Call ids, worker ids: letters, digits, `_`, `-`, `.`; starting with a letter or digit; at most 64.
    public static func validateID(_ text: String, what: String) throws {
        guard !text.isEmpty, text.utf8.count <= 64 else {
            throw SiphonError.invalid("\(what) must be 1 to 64 characters")
        }
        guard let first = text.unicodeScalars.first, isAlnum(first),
              text.unicodeScalars.allSatisfy({ isAlnum($0) || $0 == "_" || $0 == "-" || $0 == "." })
        else {
            throw SiphonError.invalid("\(what) '\(text.prefix(64))' may only contain letters, digits, '_', '-' and '.', starting with a letter or digit")
        }
    }

    /// Agent names: like ids, but spaces are allowed inside ("Front Desk").
    public static func validateAgentName(_ text: String) throws {
        guard !text.isEmpty, text.utf8.count <= 64 else {
            throw SiphonError.invalid("agent name must be 1 to 64 characters")
        }
        guard let first = text.unicodeScalars.first, isAlnum(first), text.last != " ",
              text.unicodeScalars.allSatisfy({ isAlnum($0) || "_-. ".unicodeScalars.contains($0) })
        else {
            throw SiphonError.invalid("agent name '\(text.prefix(64))' may only contain letters, digits, spaces, '_', '-' and '.'")
        }
    }

    /// A fresh call id: `call-` and 20 characters of lower-case base-32 randomness (100 bits).
    public static func newCallID() -> String {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return "call-" + String((0..<20).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    private static func isAlnum(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }
}
