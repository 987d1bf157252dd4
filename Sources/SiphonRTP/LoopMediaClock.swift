import Logging
import NIOCore
import Synchronization

/// The 20 ms timers of the calls whose media runs on one event loop: a few phases 5 ms apart, each
/// ticking its calls one after the other at the same absolute deadline. A timer per call would
/// wake the loop (and, through each call's frame, Swift's pool) at as many scattered instants as
/// there are calls; one timer for all would put every call's work, and every packet, in one burst.
/// A call joins the phase with the fewest calls. Deadlines are absolute: ticks a stalled loop held
/// back follow at once, so no stream drifts.
public final class LoopMediaClock: @unchecked Sendable {
    // @unchecked: the phases are touched on `loop` only.
    public let loop: any EventLoop
    private let phases: [Phase]
    /// Every phase's deadlines are `epoch + offset + k × 20 ms`: the phases stay 5 ms apart.
    private let epoch = NIODeadline.now()
    private static let period: Int64 = 20_000_000
    /// A tick this late is an audible gap on every call of the loop: said, at most every 5 s.
    private static let lateWarning: Int64 = 100_000_000
    private var lastWarning: NIODeadline?
    private static let logger = Logger(label: "siphon.media")

    private final class Phase {
        let offset: Int64
        var tickers: [() -> Bool] = []
        /// The next tick's k.
        var next: Int64 = 0
        var scheduled = false
        init(offset: Int64) { self.offset = offset }
    }

    public static let phaseCount = 4

    private init(loop: any EventLoop) {
        self.loop = loop
        phases = (0..<Self.phaseCount).map { Phase(offset: Self.period / Int64(Self.phaseCount) * Int64($0)) }
    }

    /// Event loops live as long as their group; the clock keeps its loop, so an identifier is
    /// never reused for another loop while it is in the table.
    private static let clocks = Mutex<[ObjectIdentifier: LoopMediaClock]>([:])

    /// The clock of `loop`.
    public static func on(_ loop: any EventLoop) -> LoopMediaClock {
        clocks.withLock { table in
            if let clock = table[ObjectIdentifier(loop)] { return clock }
            let clock = LoopMediaClock(loop: loop)
            table[ObjectIdentifier(loop)] = clock
            return clock
        }
    }

    /// Runs `tick` on the loop every 20 ms from its phase's next tick, until it returns false.
    public func attach(_ tick: @escaping @Sendable () -> Bool) {
        loop.execute { [self] in
            let phase = phases.min { $0.tickers.count < $1.tickers.count }!
            phase.tickers.append(tick)
            guard !phase.scheduled else { return }
            let elapsed = (NIODeadline.now() - epoch).nanoseconds - phase.offset
            phase.next = elapsed / Self.period + 1
            scheduleNext(phase)
        }
    }

    /// Calls attached to each phase now (for tests and diagnostics).
    public var attached: EventLoopFuture<[Int]> { loop.submit { self.phases.map(\.tickers.count) } }

    private func scheduleNext(_ phase: Phase) {
        phase.scheduled = true
        let deadline = epoch + .nanoseconds(phase.offset + Self.period * phase.next)
        phase.next += 1
        loop.scheduleTask(deadline: deadline) { [self] in
            let now = NIODeadline.now()
            if (now - deadline).nanoseconds > Self.lateWarning, lastWarning.map({ (now - $0).nanoseconds > 5_000_000_000 }) ?? true {
                lastWarning = now
                Self.logger.warning("media clock late: the event loop was held", metadata: [
                    "media.late_ms": "\((now - deadline).nanoseconds / 1_000_000)", "media.calls": "\(phases.map(\.tickers.count).reduce(0, +))",
                ])
            }
            phase.tickers.removeAll { !$0() }
            if phase.tickers.isEmpty { phase.scheduled = false } else { scheduleNext(phase) }
        }
    }
}
