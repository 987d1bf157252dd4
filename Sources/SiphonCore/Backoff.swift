/// Exponential backoff with full jitter (the AWS architecture-blog variant): the n-th delay is
/// uniform in [0, min(cap, base·2ⁿ)], so a fleet reconnecting after an outage spreads out
/// instead of stampeding.
public struct Backoff: Sendable {
    public var baseMs: Double
    public var capMs: Double
    public private(set) var attempt = 0

    public init(baseMs: Double = 50, capMs: Double = 2000) {
        self.baseMs = baseMs
        self.capMs = capMs
    }

    /// The next delay in milliseconds, advancing the attempt counter.
    public mutating func next() -> Double {
        let ceiling = min(capMs, baseMs * Double(1 << min(attempt, 30)))
        attempt += 1
        return Double.random(in: 0...ceiling)
    }

    public mutating func reset() { attempt = 0 }
}
