import Crypto
import Foundation
import Logging
import SiphonCore
import SiphonRedis

/// The credentials of a carrier trunk, as a user gives them (`sip_trunk_setup`).
public struct OutboundTrunkSetup: Sendable, Equatable {
    public var name: String?
    /// Carrier host, optionally with `:port` (no `sip:`).
    public var address: String
    /// `udp`, `tcp`, `tls` or nil for LiveKit's automatic choice.
    public var transport: String?
    /// The caller ID the trunk presents, E.164.
    public var number: PhoneNumber
    public var username: String?
    public var password: String?

    public init(name: String? = nil, address: String, transport: String? = nil, number: PhoneNumber, username: String? = nil, password: String? = nil) throws {
        (self.name, self.address, self.transport, self.number, self.username, self.password) = (name, address, transport, number, username, password)
        _ = try TrunkSpec.hostPort(address)
        if let transport, !["udp", "tcp", "tls"].contains(transport) { throw SiphonError.invalid("trunk transport must be udp, tcp or tls") }
        if password != nil, username == nil { throw SiphonError.invalid("a trunk password needs a username") }
    }

    var livekitTransport: String {
        switch transport {
        case "udp": "SIP_TRANSPORT_UDP"
        case "tcp": "SIP_TRANSPORT_TCP"
        case "tls": "SIP_TRANSPORT_TLS"
        default: "SIP_TRANSPORT_AUTO"
        }
    }

    /// A TLS trunk's media is SRTP, as on the direct path (secure trunks such as Twilio's require it).
    var livekitMediaEncryption: String? { transport == "tls" ? "SIP_MEDIA_ENCRYPT_REQUIRE" : nil }
}

/// Finds the LiveKit outbound trunk that carries exactly these credentials, or creates it.
///
/// A trunk matches on address, number, username **and** password, so a rotated password gets a
/// trunk of its own instead of silently dialling with the stale one. Workers race for the same
/// credentials at start-up, so creation happens under a Redis lock per credential set, and the
/// answer is cached in Redis (the id, keyed by an HMAC of the credentials under the API secret:
/// Redis never sees the password, nor anything a dictionary attack could reverse without the
/// secret) and in memory.
public actor OutboundTrunkProvisioner {
    let api: LiveKitAPI
    let redis: RedisClient?
    let prefix: String
    let logger: Logger
    private var cache: [String: String] = [:]

    public static let lockTTLms = 15_000
    public static let cacheTTLs = 3_600

    public init(api: LiveKitAPI, redis: RedisClient?, keyPrefix: String = "siphon", logger: Logger = Logger(label: "siphon.livekit")) {
        (self.api, self.redis, self.prefix, self.logger) = (api, redis, keyPrefix, logger)
    }

    public struct Outcome: Sendable, Equatable {
        public var trunkID: String
        /// True when this call created the trunk (false: reused one).
        public var created: Bool
    }

    public func ensure(_ setup: OutboundTrunkSetup) async throws -> Outcome {
        let fp = fingerprint(setup)
        if let id = cache[fp] { return Outcome(trunkID: id, created: false) }
        guard let redis else { return try await findOrCreate(setup, fingerprint: fp) }
        let cacheKey = "\(prefix):livekit:trunk:\(fp)"
        let lockKey = cacheKey + ":lock"
        let token = Identifier.newCallID()
        let deadline = ContinuousClock.now + .milliseconds(Self.lockTTLms * 2)
        while true {
            if let id = try await redis.send("GET", cacheKey).string {
                cache[fp] = id
                return Outcome(trunkID: id, created: false)
            }
            if try await redis.send("SET", lockKey, token, "NX", "PX", String(Self.lockTTLms)).string == "OK" { break }
            guard ContinuousClock.now < deadline else {
                throw SiphonError(.unavailable, "another worker holds the LiveKit trunk lock for \(setup.address) and never finished")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        do {
            let outcome = try await findOrCreate(setup, fingerprint: fp)
            _ = try await redis.send("SET", cacheKey, outcome.trunkID, "EX", String(Self.cacheTTLs))
            _ = try? await redis.eval(Self.release, keys: [lockKey], args: [token])
            return outcome
        } catch {
            _ = try? await redis.eval(Self.release, keys: [lockKey], args: [token])
            throw error
        }
    }

    /// Forgets a trunk id that LiveKit no longer knows (deleted by an operator): the next `ensure`
    /// looks again.
    public func invalidate(_ setup: OutboundTrunkSetup) async {
        let fp = fingerprint(setup)
        cache[fp] = nil
        _ = try? await redis?.send("DEL", "\(prefix):livekit:trunk:\(fp)")
    }

    private func findOrCreate(_ setup: OutboundTrunkSetup, fingerprint fp: String) async throws -> Outcome {
        let existing = try await api.listOutboundTrunks(numbers: [setup.number.e164])
        if let match = existing.first(where: { Self.matches($0, setup, fingerprint: fp) }), let id = match.sipTrunkId {
            cache[fp] = id
            return Outcome(trunkID: id, created: false)
        }
        let stale = existing.filter { Self.sameRoute($0, setup) }.compactMap(\.sipTrunkId)
        if !stale.isEmpty {
            logger.notice("credentials or media encryption changed for this trunk; creating a new LiveKit trunk (delete the stale one when no call uses it)",
                          metadata: ["address": "\(setup.address)", "stale_trunks": "\(stale.joined(separator: ","))"])
        }
        var trunk = SIPOutboundTrunkInfo(
            name: setup.name ?? "siphon \(setup.number.e164) via \(setup.address)", metadata: Self.metadata(fp), address: setup.address,
            transport: setup.livekitTransport, numbers: [setup.number.e164], authUsername: setup.username, authPassword: setup.password)
        trunk.sipTrunkId = nil
        trunk.mediaEncryption = setup.livekitMediaEncryption
        let created = try await api.createOutboundTrunk(trunk)
        guard let id = created.sipTrunkId, !id.isEmpty else {
            throw SiphonError(.internal, "LiveKit created the trunk but answered no sip_trunk_id")
        }
        logger.info("created LiveKit outbound trunk", metadata: ["trunk_id": "\(id)", "address": "\(setup.address)", "number": "\(setup.number.e164)"])
        cache[fp] = id
        return Outcome(trunkID: id, created: true)
    }

    static func sameRoute(_ t: SIPOutboundTrunkInfo, _ s: OutboundTrunkSetup) -> Bool {
        (t.address ?? "").lowercased() == s.address.lowercased() && (t.numbers ?? []).contains(s.number.e164)
            && (t.authUsername ?? "") == (s.username ?? "")
    }

    /// Same route, the same password and, for a TLS trunk, SRTP required (a TLS trunk made before
    /// Siphon required it carries plain media: it is replaced, not reused). Servers that do not echo
    /// passwords are matched on the fingerprint Siphon wrote in the trunk's metadata.
    static func matches(_ t: SIPOutboundTrunkInfo, _ s: OutboundTrunkSetup, fingerprint fp: String) -> Bool {
        guard sameRoute(t, s) else { return false }
        if let required = s.livekitMediaEncryption, t.mediaEncryption != required { return false }
        if let stored = t.authPassword, !stored.isEmpty { return stored == (s.password ?? "") }
        if let meta = t.metadata, meta.contains(fp) { return true }
        return (s.password ?? "").isEmpty
    }

    static func metadata(_ fp: String) -> String { #"{"siphon_credentials":"\#(fp)"}"# }

    /// Covers what makes a trunk: media encryption only when required, so the other trunks keep
    /// the fingerprints (and the Redis cache entries) they were made with.
    func fingerprint(_ s: OutboundTrunkSetup) -> String {
        let settings = [s.address.lowercased(), s.transport ?? "", s.number.e164, s.username ?? "", s.password ?? ""] + (s.livekitMediaEncryption.map { [$0] } ?? [])
        return CredentialFingerprint.of(settings, secret: api.twirp.credentials.apiSecret)
    }

    /// Deletes the lock only if this worker still holds it.
    static let release = RedisScript(name: "livekit_trunk_unlock", source: """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)
}
