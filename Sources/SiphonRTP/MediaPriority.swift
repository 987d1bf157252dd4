import Foundation
import Logging
import NIOCore
import NIOPosix
import SiphonCore

/// The scheduling priority of the threads that pace media: the event loops that run every call's
/// 20 ms clock and its RTP, SRTP and Opus work (`LoopMediaClock`). On a saturated host they
/// compete with the conversations on Swift's pool and the offline engines' decoders; at a lower
/// nice value than those they are served first, so a busy worker answers later rather than let
/// its calls' packets slip. A nice value, not a real-time class: the loops also parse SIP and
/// provider streams, and a runaway loop at SCHED_FIFO would starve the host.
public enum MediaPriority {
    /// What raising the loops did.
    public enum Outcome: Sendable, Equatable {
        /// Every loop thread runs at this nice value.
        case set(Int32)
        /// Not permitted (a nice value below the current one needs CAP_SYS_NICE, or an
        /// RLIMIT_NICE that allows it): the loops run at the process's own priority.
        case denied(Int32, errno: Int32)
    }

    /// The nice value `SIPHON_MEDIA_NICE` asks for: -10 by default; 0 leaves the loops as the
    /// process is. Nice values run -20 (first) to 19.
    public static func requested(_ text: String?) throws -> Int32 {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return -10 }
        guard let value = Int32(text), (-20...19).contains(value) else {
            throw SiphonError(.configuration, "SIPHON_MEDIA_NICE must be a whole number from -20 to 19 (got \"\(text)\")")
        }
        return value
    }

    /// Sets the nice value of every thread of `group` (Linux keeps one per thread:
    /// `setpriority(PRIO_PROCESS, 0, …)` on a thread sets that thread's).
    public static func apply(_ nice: Int32, to group: any EventLoopGroup) async -> Outcome {
        var failure: Int32?
        for loop in group.makeIterator() {
            let result = try? await loop.submit { () -> Int32 in
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) == 0 ? 0 : errno
            }.get()
            if let result, result != 0 { failure = result }
        }
        if let failure { return .denied(nice, errno: failure) }
        return .set(nice)
    }

    /// At a worker's start: the nice value `SIPHON_MEDIA_NICE` asks for (`requested`) on the shared
    /// event loops every call's media runs on, said in the log; nil when 0 asked for none.
    @discardableResult
    public static func configure(_ text: String?, logger: Logger) async throws -> Outcome? {
        let nice = try requested(text)
        guard nice != 0 else { return nil }
        let outcome = await apply(nice, to: MultiThreadedEventLoopGroup.singleton)
        switch outcome {
        case .set:
            logger.info("media threads raised", metadata: ["media.nice": "\(nice)"])
        case .denied(_, let code):
            logger.warning("media threads run at the process's priority: a nice value below it needs CAP_SYS_NICE or RLIMIT_NICE of \(20 - nice) (compose: ulimits: nice: \(20 - nice)); SIPHON_MEDIA_NICE=0 asks for none", metadata: [
                "media.nice": "\(nice)", "error": "\(String(cString: strerror(code)))",
            ])
        }
        return outcome
    }

    /// The nice value of the calling thread.
    public static func current() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }
}
