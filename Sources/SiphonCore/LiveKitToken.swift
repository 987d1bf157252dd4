import Crypto
import Foundation

/// A LiveKit access token: a JWT signed with HS256 by the API secret, `iss` the API key, `sub` the
/// identity, and LiveKit's grants (`video: {roomJoin, room, roomList, roomAdmin, …}`, `sip: {…}`).
public enum LiveKitToken {
    /// `grants`: the claims besides iss/sub/nbf/exp, e.g. `["video": ["roomList": true]]`.
    public static func make(apiKey: String, apiSecret: String, identity: String = "", grants: [String: Any],
                            ttl: TimeInterval = 600, now: Date = Date()) throws -> String {
        guard !apiKey.isEmpty, !apiSecret.isEmpty else { throw SiphonError(.configuration, "LiveKit API key and secret are required") }
        var claims = grants
        claims["iss"] = apiKey
        claims["nbf"] = Int(now.timeIntervalSince1970) - 10
        claims["exp"] = Int(now.timeIntervalSince1970 + ttl)
        if !identity.isEmpty { claims["sub"] = identity }
        let header = try JSONSerialization.data(withJSONObject: ["alg": "HS256", "typ": "JWT"], options: [.sortedKeys])
        let body = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        let signingInput = base64url(header) + "." + base64url(body)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(apiSecret.utf8)))
        return signingInput + "." + base64url(Data(mac))
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
