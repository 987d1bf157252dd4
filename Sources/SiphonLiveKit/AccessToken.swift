import Crypto
import Foundation
import SiphonCore

/// A LiveKit access token: an HS256 JWT with `iss` the API key, `sub` the identity, `nbf`/`exp`,
/// and LiveKit's claims (livekit/protocol `auth/accesstoken.go`).
public struct AccessToken: Sendable, Equatable {
    public var identity: String
    public var claims: LiveKitClaims
    public var ttl: TimeInterval

    /// LiveKit's default lifetime is 6 h; Siphon's API calls use minutes.
    public init(identity: String = "", claims: LiveKitClaims, ttl: TimeInterval = 600) {
        (self.identity, self.claims, self.ttl) = (identity, claims, ttl)
    }

    public func jwt(apiKey: String, apiSecret: String, now: Date = Date()) throws -> String {
        guard !apiKey.isEmpty, !apiSecret.isEmpty else { throw SiphonError(.configuration, "LiveKit API key and secret are required") }
        guard ttl > 0 else { throw SiphonError.invalid("token lifetime must be positive") }
        let issued = Int64(now.timeIntervalSince1970)
        // nbf a little in the past: the server's clock may lag ours.
        let payload = Payload(iss: apiKey, sub: identity.isEmpty ? nil : identity, nbf: Double(issued - 10), exp: Double(issued + Int64(ttl)),
                              jti: nil, claims: claims)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(try encoder.encode(payload))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(apiSecret.utf8)))
        return signingInput + "." + Base64URL.encode(Data(mac))
    }

    /// What a verified token says.
    public struct Verified: Sendable, Equatable {
        public var apiKey: String
        public var identity: String
        public var notBefore: Date?
        public var expires: Date
        public var claims: LiveKitClaims
    }

    /// Verifies `jwt` as livekit-server does (`auth/verifier.go`): HS256 only, `iss` one of `keys`
    /// (API key → secret), a valid signature, `exp` required, `nbf`/`exp` with one minute of leeway.
    /// The identity is `sub`, or `jti` when `sub` is missing.
    public static func verify(_ jwt: String, keys: [String: String], now: Date = Date(), leeway: TimeInterval = 60) throws -> Verified {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(parts[0]), let payloadData = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]) else {
            throw SiphonError.invalid("token: not a JWT (three base64url parts)")
        }
        guard let header = try? JSONDecoder().decode([String: String].self, from: headerData), header["alg"] == "HS256" else {
            throw SiphonError.invalid("token: only HS256 is accepted")
        }
        let payload: Payload
        do {
            payload = try JSONDecoder().decode(Payload.self, from: payloadData)
        } catch {
            throw SiphonError.invalid("token: malformed claims")
        }
        guard let issuer = payload.iss, let secret = keys[issuer] else { throw SiphonError.invalid("token: unknown API key (iss)") }
        let signingInput = Data((parts[0] + "." + parts[1]).utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: SymmetricKey(data: Data(secret.utf8))) else {
            throw SiphonError.invalid("token: bad signature")
        }
        guard let exp = payload.exp else { throw SiphonError.invalid("token: exp is required") }
        let t = now.timeIntervalSince1970
        guard t <= exp + leeway else { throw SiphonError.invalid("token: expired") }
        if let nbf = payload.nbf, t + leeway < nbf { throw SiphonError.invalid("token: not valid yet") }
        return Verified(apiKey: issuer, identity: payload.sub ?? payload.jti ?? "", notBefore: payload.nbf.map(Date.init(timeIntervalSince1970:)),
                        expires: Date(timeIntervalSince1970: exp), claims: payload.claims)
    }

    /// Registered claims plus LiveKit's, flattened into one JSON object.
    private struct Payload: Codable {
        var iss: String?
        var sub: String?
        var nbf: Double?
        var exp: Double?
        var jti: String?
        var claims: LiveKitClaims

        enum Keys: String, CodingKey { case iss, sub, nbf, exp, jti }

        init(iss: String?, sub: String?, nbf: Double?, exp: Double?, jti: String?, claims: LiveKitClaims) {
            (self.iss, self.sub, self.nbf, self.exp, self.jti, self.claims) = (iss, sub, nbf, exp, jti, claims)
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            iss = try c.decodeIfPresent(String.self, forKey: .iss)
            sub = try c.decodeIfPresent(String.self, forKey: .sub)
            nbf = try c.decodeIfPresent(Double.self, forKey: .nbf)
            exp = try c.decodeIfPresent(Double.self, forKey: .exp)
            jti = try c.decodeIfPresent(String.self, forKey: .jti)
            claims = try LiveKitClaims(from: decoder)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encodeIfPresent(iss, forKey: .iss)
            try c.encodeIfPresent(sub, forKey: .sub)
            try c.encodeIfPresent(nbf.map { Int64($0) }, forKey: .nbf)
            try c.encodeIfPresent(exp.map { Int64($0) }, forKey: .exp)
            try c.encodeIfPresent(jti, forKey: .jti)
            try claims.encode(to: encoder)
        }
    }
}
