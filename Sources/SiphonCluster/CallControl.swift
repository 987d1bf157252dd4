import Synchronization

/// Why the worker stops a call from outside the runner.
public enum StopReason: Sendable, Equatable {
    /// Another worker owns the call now: stop at once, write nothing.
    case fenced
    /// `DELETE /v1/calls/{id}`: hang up and record `canceled`.
    case canceled
    /// Drain or no room: release the call for immediate reassignment.
    case handoff(String)
}

/// A one-shot stop signal for one call: the first reason wins; one watcher waits for it.
final class CallControl: Sendable {
    private let state = Mutex<StopReason?>(nil)
    private let stream: AsyncStream<StopReason>
    private let continuation: AsyncStream<StopReason>.Continuation

    init() {
        (stream, continuation) = AsyncStream<StopReason>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var reason: StopReason? { state.withLock { $0 } }

    func stop(_ reason: StopReason) {
        let first = state.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        if first {
            continuation.yield(reason)
            continuation.finish()
        }
    }

    /// Returns the stop reason, or nil if the waiting task is cancelled first.
    func wait() async -> StopReason? {
        for await r in stream { return r }
        return nil
    }
}
