import Crypto
import Foundation

/// HTTP Digest for SIP (RFC 3261 22, RFC 7616 / RFC 8760): answering 401/407 challenges with MD5 or
/// SHA-256 (and their -sess forms), qop=auth with nonce counts; and, for inbound trunks that
/// authenticate their callers, issuing and checking challenges with stateless HMAC nonces.
public struct DigestChallenge: Sendable, Equatable {
    public var realm: String
    public var nonce: String
    public var algorithm: String
    public var qop: [String]
    public var opaque: String?
    public var stale: Bool

    public init(realm: String, nonce: String, algorithm: String = "MD5", qop: [String] = ["auth"], opaque: String? = nil, stale: Bool = false) {
        (self.realm, self.nonce, self.algorithm, self.qop, self.opaque, self.stale) = (realm, nonce, algorithm, qop, opaque, stale)
    }

    /// Parses one `WWW-Authenticate` / `Proxy-Authenticate` value.
    public init(parsing header: String) throws {
        let text = header.trimmingLWS()
        guard text.lowercased().hasPrefix("digest ") else { throw SIPMessageError(400, "not a Digest challenge") }
        let fields = Self.fields(String(text.dropFirst(7)))
        guard let realm = fields["realm"], let nonce = fields["nonce"] else { throw SIPMessageError(400, "Digest challenge lacks realm or nonce") }
        self.realm = realm
        self.nonce = nonce
        algorithm = fields["algorithm"] ?? "MD5"
        qop = (fields["qop"] ?? "").split(separator: ",").map { $0.trimmingLWS() }.filter { !$0.isEmpty }
        opaque = fields["opaque"]
        stale = fields["stale"]?.lowercased() == "true"
    }

    public var headerValue: String {
        var s = "Digest realm=\"\(realm)\", nonce=\"\(nonce)\", algorithm=\(algorithm)"
        if !qop.isEmpty { s += ", qop=\"\(qop.joined(separator: ","))\"" }
        if let opaque { s += ", opaque=\"\(opaque)\"" }
        if stale { s += ", stale=true" }
        return s
    }

    /// The algorithms Siphon can answer; the strongest offered wins when a server sends several challenges.
    public static let supportedAlgorithms = ["SHA-256", "SHA-256-sess", "MD5", "MD5-sess"]

    public var isSupported: Bool { Self.supportedAlgorithms.contains { $0.caseInsensitiveCompare(algorithm) == .orderedSame } }

    static func fields(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in splitOutsideQuotes(Substring(s), separator: ",") {
            guard let eq = part.firstIndex(of: "=") else { continue }
            let key = part[..<eq].trimmingLWS().lowercased()
            var value = part[part.index(after: eq)...].trimmingLWS()
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            out[key] = value
        }
        return out
    }
}

public struct DigestCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

public enum DigestAuthentication {
    /// The `Authorization` / `Proxy-Authorization` value answering `challenge` for a request.
    public static func authorization(challenge: DigestChallenge, credentials: DigestCredentials, method: String, uri: String,
                                     nonceCount: Int = 1, cnonce: String = randomHex(16)) throws -> String {
        guard challenge.isSupported else { throw SIPMessageError(401, "unsupported Digest algorithm \(challenge.algorithm)") }
        let qop = challenge.qop.contains("auth") ? "auth" : nil
        let nc = String(format: "%08x", nonceCount)
        let response = compute(algorithm: challenge.algorithm, username: credentials.username, realm: challenge.realm,
                               password: credentials.password, method: method, uri: uri, nonce: challenge.nonce,
                               qop: qop, nc: nc, cnonce: cnonce)
        var s = "Digest username=\"\(credentials.username)\", realm=\"\(challenge.realm)\", nonce=\"\(challenge.nonce)\", uri=\"\(uri)\", response=\"\(response)\", algorithm=\(challenge.algorithm)"
        if let qop { s += ", qop=\(qop), nc=\(nc), cnonce=\"\(cnonce)\"" }
        if let o = challenge.opaque { s += ", opaque=\"\(o)\"" }
        return s
    }

    static func compute(algorithm: String, username: String, realm: String, password: String, method: String, uri: String,
                        nonce: String, qop: String?, nc: String, cnonce: String) -> String {
        let base = algorithm.uppercased().replacingOccurrences(of: "-SESS", with: "")
        let h: (String) -> String = base == "SHA-256" ? { sha256Hex($0) } : { md5Hex($0) }
        var ha1 = h("\(username):\(realm):\(password)")
        if algorithm.uppercased().hasSuffix("-SESS") { ha1 = h("\(ha1):\(nonce):\(cnonce)") }
        let ha2 = h("\(method):\(uri)")
        if let qop { return h("\(ha1):\(nonce):\(nc):\(cnonce):\(qop):\(ha2)") }
        return h("\(ha1):\(nonce):\(ha2)")
    }

    /// Verifies an Authorization header against the expected credentials (server side).
    public static func verify(authorization: String, credentials: DigestCredentials, method: String, realm: String) -> Bool {
        let text = authorization.trimmingLWS()
        guard text.lowercased().hasPrefix("digest ") else { return false }
        let f = DigestChallenge.fields(String(text.dropFirst(7)))
        guard f["username"] == credentials.username, f["realm"] == realm, let nonce = f["nonce"], let uri = f["uri"],
              let response = f["response"] else { return false }
        let expected = compute(algorithm: f["algorithm"] ?? "MD5", username: credentials.username, realm: realm, password: credentials.password,
                               method: method, uri: uri, nonce: nonce, qop: f["qop"], nc: f["nc"] ?? "", cnonce: f["cnonce"] ?? "")
        return constantTimeEqual(expected, response.lowercased())
    }

    static func md5Hex(_ s: String) -> String { Insecure.MD5.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }
    static func sha256Hex(_ s: String) -> String { SHA256.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }

    public static func randomHex(_ bytes: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Stateless nonces for challenging inbound requests: `timestamp.hmac(timestamp)`, valid for a while.
public struct NonceIssuer: Sendable {
    // Raw bytes (Sendable); SymmetricKey is rebuilt per use, which costs nothing measurable here.
    private let secret: [UInt8]
    public var lifetime: TimeInterval = 300

    public init() { secret = (0..<32).map { _ in UInt8.random(in: 0...255) } }

    private var key: SymmetricKey { SymmetricKey(data: secret) }

    public func issue(now: Date = Date()) -> String {
        let ts = String(Int(now.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(ts.utf8), using: key).prefix(12).map { String(format: "%02x", $0) }.joined()
        return "\(ts).\(mac)"
    }

    public func isValid(_ nonce: String, now: Date = Date()) -> Bool {
        let parts = nonce.split(separator: ".")
        guard parts.count == 2, let ts = Int(parts[0]) else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(parts[0].utf8), using: key).prefix(12).map { String(format: "%02x", $0) }.joined()
        return DigestAuthentication.constantTimeEqual(mac, String(parts[1])) && now.timeIntervalSince1970 - Double(ts) < lifetime
    }
}
