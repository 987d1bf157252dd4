import Crypto
import Foundation
import SiphonRedis

/// A token bucket per provider key in Redis, shared by every worker: the fleet as a whole stays
/// under the provider's requests-per-second limit instead of each worker guessing its share. The
/// bucket is keyed by a hash of the API key (never the key) and uses Redis's clock.
public struct FleetRateLimiter: Sendable {
    let redis: RedisClient
    let key: String
    public let ratePerSecond: Double
    public let burst: Int
    /// Longest a request waits for a token before it fails as rate limited.
    public var maxWait: Duration = .seconds(10)

    public init(redis: RedisClient, provider: String, apiKey: String, ratePerSecond: Double, burst: Int? = nil, prefix: String = "siphon") {
        let digest = SHA256.hash(data: Data(apiKey.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        self.redis = redis
        self.key = "\(prefix):ratelimit:\(provider):\(digest)"
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst ?? Int(ratePerSecond.rounded(.up)))
    }

    /// Waits for a token.
    public func acquire(provider: String) async throws {
        let deadline = ContinuousClock.now + maxWait
        while true {
            let wait = try await redis.eval(Self.script, keys: [key], args: [String(ratePerSecond), String(burst)]).int ?? 0
            if wait <= 0 { return }
            guard ContinuousClock.now + .milliseconds(wait) < deadline else {
                throw ProviderError(provider: provider, kind: .rateLimited, message: "fleet rate limit of \(ratePerSecond)/s reached",
                                    retryAfter: .milliseconds(wait))
            }
            try await Task.sleep(for: .milliseconds(wait))
        }
    }

    /// Returns 0 and takes a token, or the milliseconds until one is available.
    static let script = RedisScript(name: "provider_token_bucket", source: """
        local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(b[1]) or burst
        local ts = tonumber(b[2]) or now
        tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
        local wait = 0
        if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
        return wait
        """)
}
