import Crypto
import Foundation

/// Seals secrets that must travel through Redis (inline trunk passwords in a job) with
/// AES-256-GCM under `SIPHON_SECRET_KEY`, shared by dispatchers and workers. Redis only ever
/// holds the sealed form; a worker without the key cannot open it and says so.
public struct SecretBox: Sendable {
    private let key: [UInt8]

    /// `keyText`: 32 bytes, base64 or 64 hex characters (`openssl rand -base64 32`).
    public init(keyText: String) throws {
        let trimmed = keyText.trimmingCharacters(in: .whitespacesAndNewlines)
        if let data = Data(base64Encoded: trimmed), data.count == 32 {
            key = [UInt8](data)
        } else if trimmed.count == 64, let bytes = Self.hex(trimmed) {
            key = bytes
        } else {
            throw SiphonError(.configuration, "SIPHON_SECRET_KEY must be 32 bytes, base64 or hex (e.g. openssl rand -base64 32)")
        }
    }

    public static func from(_ env: Environment) throws -> SecretBox? {
        try env["SIPHON_SECRET_KEY"].map { try SecretBox(keyText: $0) }
    }

    public func seal(_ secret: String) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: SymmetricKey(data: key))
        guard let combined = box.combined else { throw SiphonError(.internal, "sealing failed") }
        return "v1:" + combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> String {
        guard sealed.hasPrefix("v1:"), let data = Data(base64Encoded: String(sealed.dropFirst(3))) else {
            throw SiphonError.invalid("sealed secret is malformed")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            return String(decoding: try AES.GCM.open(box, using: SymmetricKey(data: key)), as: UTF8.self)
        } catch {
            throw SiphonError(.configuration, "cannot open a sealed secret: SIPHON_SECRET_KEY differs from the dispatcher's")
        }
    }

    static func hex(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let v = UInt8(String([a, b]), radix: 16) else { return nil }
            out.append(v)
        }
        return out.count == 32 ? out : nil
    }
}
