import Synchronization

/// A media clock a test drives: each `advance` runs one tick of every session attached to it (on
/// the session's event loop, as the real 20 ms timer does), so a test can count frames per tick
/// without measuring time.
public final class ManualMediaClock: Sendable {
    private let tickers = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    func attach(_ tick: @escaping @Sendable () -> Void) { tickers.withLock { $0.append(tick) } }

    /// Sessions whose clock runs on this one.
    public var attached: Int { tickers.withLock { $0.count } }

    /// `ticks` ticks of every attached session (20 ms of media each).
    public func advance(_ ticks: Int = 1) {
        let all = tickers.withLock { $0 }
        for _ in 0..<ticks { for t in all { t() } }
    }
}
