import Foundation

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
    /// `arc4random_buf` (glibc ≥ 2.36) keeps a per-thread CSPRNG, so this costs no system call.
    public static func newCallID() -> String {
        var bits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &bits) { arc4random_buf($0.baseAddress!, $0.count) }
        var out = [UInt8]("call-".utf8)
        out.reserveCapacity(25)
        for i in 0..<20 {
            let word = i < 12 ? bits.0 : bits.1
            out.append(alphabet[Int(word & 31)])
            if i < 12 { bits.0 >>= 5 } else { bits.1 >>= 5 }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

    private static func isAlnum(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }
}
