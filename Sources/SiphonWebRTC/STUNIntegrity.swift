import Crypto
import Foundation

/// STUN's keyed parts (RFC 8489 §14.5, §9.2.2): MESSAGE-INTEGRITY with HMAC-SHA1 and the
/// long-term key. Apart from the parser so the parser builds (and is fuzzed) without a crypto
/// library.
extension STUNMessage {
    /// The message on the wire, with MESSAGE-INTEGRITY (HMAC-SHA1 with `integrityKey`) and
    /// FINGERPRINT when asked for.
    public func serialized(integrityKey: [UInt8]? = nil, fingerprint: Bool = false) -> [UInt8] {
        var out = encoded()
        if let key = integrityKey {
            Self.setLength(&out, out.count - 20 + 24)
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: out, using: SymmetricKey(data: key))
            Self.append(Attribute(.messageIntegrity, Array(mac)), to: &out)
        }
        if fingerprint { Self.appendFingerprint(&out) }
        Self.setLength(&out, out.count - 20)
        return out
    }

    /// The HMAC over the message up to MESSAGE-INTEGRITY, with the header length counting up to and
    /// including it. False when absent or wrong.
    public static func verifyIntegrity(_ raw: [UInt8], key: [UInt8]) -> Bool {
        guard let offset = attributeOffset(raw, .messageIntegrity), offset + 24 <= raw.count else { return false }
        var covered = Array(raw[0..<offset])
        setLength(&covered, offset - 20 + 24)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: covered, using: SymmetricKey(data: key))
        return Array(mac) == Array(raw[(offset + 4)..<(offset + 24)])
    }

    /// The long-term credential key: MD5(username:realm:password).
    public static func longTermKey(username: String, realm: String, password: String) -> [UInt8] {
        Array(Insecure.MD5.hash(data: Data("\(username):\(realm):\(password)".utf8)))
    }
}
