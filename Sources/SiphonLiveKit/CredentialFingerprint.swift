import Crypto
import Foundation

/// HMAC-SHA256 of a trunk's settings (credentials included) under the LiveKit API secret, 128 bits
/// in hex. Siphon writes it into the trunk's metadata and Redis keys so it can tell an unchanged
/// trunk from a changed one without storing a password anywhere, and without anything a dictionary
/// attack could reverse without the secret.
enum CredentialFingerprint {
    static func of(_ fields: [String], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(fields.joined(separator: "\n").utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
