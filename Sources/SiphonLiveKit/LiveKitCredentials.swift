import Foundation
import SiphonCore

/// The API key pair that signs Siphon's tokens (`LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`): all a
/// token needs — minting one talks to no server. The secret is never printed.
public struct LiveKitKeyPair: Sendable, CustomStringConvertible {
    public let apiKey: String
    let apiSecret: String

    public init(apiKey: String, apiSecret: String) throws {
        let missing = [("LIVEKIT_API_KEY", apiKey), ("LIVEKIT_API_SECRET", apiSecret)].filter { $0.1.isEmpty }.map(\.0)
        guard missing.isEmpty else { throw LiveKitCredentials.missing(missing) }
        (self.apiKey, self.apiSecret) = (apiKey, apiSecret)
    }

    public static func from(_ environment: Environment) throws -> LiveKitKeyPair {
        try LiveKitKeyPair(apiKey: environment["LIVEKIT_API_KEY"] ?? "", apiSecret: environment["LIVEKIT_API_SECRET"] ?? "")
    }

    public var description: String { "LiveKit key \(apiKey)" }

    /// A token for `identity` with `claims`, signed with this key pair.
    public func token(identity: String = "", claims: LiveKitClaims, ttl: TimeInterval = 600, now: Date = Date()) throws -> String {
        try AccessToken(identity: identity, claims: claims, ttl: ttl).jwt(apiKey: apiKey, apiSecret: apiSecret, now: now)
    }
}

/// Where LiveKit is (`LIVEKIT_URL`) and the key pair that signs requests to it.
public struct LiveKitCredentials: Sendable, CustomStringConvertible {
    /// The server's HTTP base (a `ws://`/`wss://` URL is turned into `http://`/`https://`).
    public let httpURL: String
    public let keys: LiveKitKeyPair

    public var apiKey: String { keys.apiKey }
    var apiSecret: String { keys.apiSecret }

    public init(url: String, apiKey: String, apiSecret: String) throws {
        var base = url.trimmingCharacters(in: .whitespaces)
        if base.hasPrefix("wss://") { base = "https://" + base.dropFirst(6) }
        if base.hasPrefix("ws://") { base = "http://" + base.dropFirst(5) }
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://"), let parsed = URL(string: base), parsed.host != nil else {
            throw SiphonError(.configuration, "LIVEKIT_URL must be an http(s):// or ws(s):// URL, got '\(url.prefix(80))'")
        }
        (self.httpURL, self.keys) = (base, try LiveKitKeyPair(apiKey: apiKey, apiSecret: apiSecret))
    }

    /// nil when none of the three variables is set (the deployment does not use LiveKit); an error
    /// naming exactly the missing ones when only some are.
    public static func from(_ environment: Environment) throws -> LiveKitCredentials? {
        let names = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
        let absent = names.filter { environment[$0] == nil }
        if absent.count == names.count { return nil }
        guard absent.isEmpty else { throw missing(absent) }
        return try LiveKitCredentials(url: environment["LIVEKIT_URL"]!, apiKey: environment["LIVEKIT_API_KEY"]!,
                                      apiSecret: environment["LIVEKIT_API_SECRET"]!)
    }

    /// `LIVEKIT_URL is not set`, `LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set`, …
    static func missing(_ names: [String]) -> SiphonError {
        let list = names.count < 3 ? names.joined(separator: " and ") : names.dropLast().joined(separator: ", ") + " and " + names.last!
        return SiphonError(.configuration, "\(list) \(names.count == 1 ? "is" : "are") not set")
    }

    public var description: String { "LiveKit at \(httpURL) (key \(apiKey))" }

    public func token(identity: String = "", claims: LiveKitClaims, ttl: TimeInterval = 600, now: Date = Date()) throws -> String {
        try keys.token(identity: identity, claims: claims, ttl: ttl, now: now)
    }
}
