import Crypto
import Foundation
import SiphonCore

/// A short-lived token the API mints for a web page, so the page can place a browser call to one
/// agent — and follow, re-offer and hang up the calls it placed — without holding the API token.
///
/// `swt1.<payload>.<mac>`: base64url JSON `{agent, exp, id}` and its HMAC-SHA256 under a key
/// derived from the API token (rotating the API token revokes every web token).
public struct WebClientToken: Sendable, Equatable {
    public var agent: String
    /// Expiry, Unix seconds.
    public var expires: Int64
    /// Names the token: calls it placed carry it (`metadata.web_client`).
    public var id: String

    public static let maxLifetimeSeconds = 3600
    static let prefix = "swt1."

    public init(agent: String, lifetimeSeconds: Int, now: Int64 = Timestamp.nowMs() / 1000) throws {
        try Identifier.validateAgentName(agent)
        guard (10...Self.maxLifetimeSeconds).contains(lifetimeSeconds) else {
            throw SiphonError.invalid("ttl_seconds must be 10 to \(Self.maxLifetimeSeconds)")
        }
        self.agent = agent
        self.expires = now + Int64(lifetimeSeconds)
        self.id = "wc-" + Identifier.newCallID().dropFirst("call-".count)
    }

    init(agent: String, expires: Int64, id: String) { (self.agent, self.expires, self.id) = (agent, expires, id) }

    public func encoded(key bytes: [UInt8]) -> String {
        let key = SymmetricKey(data: bytes)
        var w = JSONWriter()
        w.field("agent", agent)
        w.field("exp", Int(expires))
        w.field("id", id)
        let payload = Base64URL.encode(Data(w.finished().utf8))
        return Self.prefix + payload + "." + Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)))
    }

    /// The token, if `text` is one this key signed and it has not expired.
    public static func verify(_ text: String, key bytes: [UInt8], now: Int64 = Timestamp.nowMs() / 1000) -> WebClientToken? {
        let key = SymmetricKey(data: bytes)
        guard text.hasPrefix(prefix), text.utf8.count < 1024 else { return nil }
        let parts = text.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Base64URL.decode(parts[1]),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(parts[0].utf8), using: key),
              let json = Base64URL.decode(parts[0]),
              let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let agent = object["agent"] as? String, let exp = object["exp"] as? Int, let id = object["id"] as? String,
              Int64(exp) > now else { return nil }
        return WebClientToken(agent: agent, expires: Int64(exp), id: id)
    }

    /// The signing key: derived from the API token, or random per process without one (`--no-auth`).
    public static func key(apiToken: String?) -> [UInt8] {
        guard let apiToken else { return SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) } }
        return Array(HMAC<SHA256>.authenticationCode(for: Data("siphon web client token v1".utf8), using: SymmetricKey(data: Data(apiToken.utf8))))
    }
}
