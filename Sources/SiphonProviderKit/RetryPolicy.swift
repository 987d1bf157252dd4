import Foundation

/// When and how long to wait before another attempt: exponential backoff with jitter, the
/// provider's `Retry-After` honoured when it is reasonable (the SDKs' behaviour: base 0.5 s,
/// doubling to 8 s, minus up to 25 % jitter; Retry-After above 120 s means "do not retry").
public struct RetryPolicy: Sendable, Equatable {
    public var maxRetries: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    public var maxRetryAfter: Duration

    public init(maxRetries: Int = 2, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(8),
                maxRetryAfter: Duration = .seconds(120)) {
        (self.maxRetries, self.baseDelay, self.maxDelay, self.maxRetryAfter) = (maxRetries, baseDelay, maxDelay, maxRetryAfter)
    }

    public static let none = RetryPolicy(maxRetries: 0)

    /// The wait before retry number `attempt` (0 = the first retry), or nil to give up.
    public func delay(beforeRetry attempt: Int, after error: any Error, jitter: Double = Double.random(in: 0...0.25)) -> Duration? {
        guard attempt < maxRetries else { return nil }
        guard let e = error as? ProviderError, e.isRetryable else { return nil }
        if let wait = e.retryAfter {
            return wait <= maxRetryAfter ? max(wait, .zero) : nil
        }
        let exponential = baseDelay * (1 << min(attempt, 16))
        return min(exponential, maxDelay) * (1 - jitter)
    }

    /// Parses `retry-after-ms`, then `retry-after` (seconds, fractional, or an HTTP-date).
    public static func retryAfter(_ header: (String) -> String?, now: Date = Date()) -> Duration? {
        if let ms = header("retry-after-ms").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), let wait = bounded(seconds: ms / 1000) {
            return wait
        }
        guard let value = header("retry-after")?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return bounded(seconds: seconds) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = f.date(from: value) else { return nil }
        return bounded(seconds: max(0, date.timeIntervalSince(now)))
    }

    /// A provider's wait as a Duration: negative, NaN and infinite values ("inf" parses as a
    /// Double) are ignored rather than trapping in the Int conversion; huge ones are capped at a
    /// day, which is "do not retry" all the same.
    static func bounded(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0 else { return nil }
        return .milliseconds(Int64(min(seconds, 86_400) * 1000))
    }
}
