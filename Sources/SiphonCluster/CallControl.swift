import Synchronization

/// Why the worker stops a call from outside the runner.
public enum StopReason: Sendable, Equatable {
    /// Another worker owns the call now: stop at once, write nothing.
    case fenced
    /// `DELETE /v1/calls/{id}`: hang up and record `canceled`.
    case canceled
    /// Drain or no room: release the call for immediate reassignment.
    case handoff(String)
    /// This worker could not renew the call's lease in time (cut off from Redis): fall silent at
    /// once and write nothing — another worker may own the call by now. The worker resumes it if
    /// Redis answers and it still owns the call at the same epoch.
    case suspended

    /// Whether the runner ends the call leg itself (sends BYE, deletes the room). Only a cancel
    /// does: on every other stop the leg belongs to whoever owns the call next.
    public var hangsUp: Bool { self == .canceled }
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

    /// Returns false when the call was already stopped (for another reason, which stands).
    @discardableResult
    func stop(_ reason: StopReason) -> Bool {
        let first = state.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        if first {
            continuation.yield(reason)
            continuation.finish()
        }
        return first
    }

    /// Returns the stop reason, or nil if the waiting task is cancelled first.
    func wait() async -> StopReason? {
        for await r in stream { return r }
        return nil
    }
}
