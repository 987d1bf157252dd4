import Foundation
import SiphonCore

/// Where LiveKit is and the API key pair that signs Siphon's tokens (`LIVEKIT_URL`,
/// `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`). The secret is never printed: `description` omits it.
public struct LiveKitCredentials: Sendable, CustomStringConvertible {
    /// The server's HTTP base (a `ws://`/`wss://` URL is turned into `http://`/`https://`).
    public let httpURL: String
    public let apiKey: String
    let apiSecret: String

    public init(url: String, apiKey: String, apiSecret: String) throws {
        var base = url.trimmingCharacters(in: .whitespaces)
        if base.hasPrefix("wss://") { base = "https://" + base.dropFirst(6) }
        if base.hasPrefix("ws://") { base = "http://" + base.dropFirst(5) }
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://"), let parsed = URL(string: base), parsed.host != nil else {
            throw SiphonError(.configuration, "LIVEKIT_URL must be an http(s):// or ws(s):// URL, got '\(url.prefix(80))'")
        }
        guard !apiKey.isEmpty, !apiSecret.isEmpty else {
            throw SiphonError(.configuration, "LIVEKIT_API_KEY and LIVEKIT_API_SECRET are required")
        }
        (self.httpURL, self.apiKey, self.apiSecret) = (base, apiKey, apiSecret)
    }

    /// nil when `LIVEKIT_URL` is unset (the deployment does not use LiveKit).
    public static func from(_ environment: Environment) throws -> LiveKitCredentials? {
        guard let url = environment["LIVEKIT_URL"] else { return nil }
        return try LiveKitCredentials(url: url, apiKey: environment["LIVEKIT_API_KEY"] ?? "", apiSecret: environment["LIVEKIT_API_SECRET"] ?? "")
    }

    public var description: String { "LiveKit at \(httpURL) (key \(apiKey))" }

    /// A token for `identity` with `claims`, signed with this key pair.
    public func token(identity: String = "", claims: LiveKitClaims, ttl: TimeInterval = 600, now: Date = Date()) throws -> String {
        try AccessToken(identity: identity, claims: claims, ttl: ttl).jwt(apiKey: apiKey, apiSecret: apiSecret, now: now)
    }
}
