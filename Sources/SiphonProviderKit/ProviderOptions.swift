import Logging
import SiphonAgent
import SiphonCore
import SiphonRedis

/// The resilience options every provider takes in agent configuration:
/// `timeout` (seconds to the first byte), `max_retries`, and `rate_limit` (requests per second
/// for the whole fleet, shared through Redis at `REDIS_URL`).
public struct ProviderOptions: Sendable {
    public static let keys: Set<String> = ["timeout", "max_retries", "rate_limit", "rate_burst"]

    public var retry = RetryPolicy()
    public var firstByteTimeout: Duration = .seconds(15)
    public var limiter: FleetRateLimiter?

    public init() {}

    public static func read(_ m: ConfigMap, provider: String, apiKey: String, environment: Environment) throws -> ProviderOptions {
        var o = ProviderOptions()
        if let t = try timeout(m) { o.firstByteTimeout = t }
        if let r = try m.int("max_retries") {
            guard (0...10).contains(r) else { throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "max_retries")): 0 to 10") }
            o.retry.maxRetries = r
        }
        if let rate = try m.number("rate_limit") {
            guard rate > 0, rate <= 100_000 else { throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "rate_limit")): requests per second, above 0") }
            let url = try RedisURL(environment["REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
            let redis = RedisClient(RedisClient.Configuration(url: url, connections: 1), logger: Logger(label: "siphon.providers"))
            o.limiter = FleetRateLimiter(redis: redis, provider: provider, apiKey: apiKey, ratePerSecond: rate, burst: try m.int("rate_burst"))
        }
        return o
    }

    /// `timeout`: seconds to the first byte (HTTP) or the first audio of a sentence (TTS sockets), 0.5 to 120.
    public static func timeout(_ m: ConfigMap) throws -> Duration? {
        guard let t = try m.number("timeout") else { return nil }
        guard (0.5...120).contains(t) else { throw SiphonError(.configuration, "\(ConfigValue.join(m.path, "timeout")): 0.5 to 120 seconds") }
        return .milliseconds(Int64(t * 1000))
    }
}
