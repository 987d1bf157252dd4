import Logging
import SiphonCore
import SiphonRedis

/// Runs one call over one transport (sim, sip, livekit) for the worker.
///
/// The runner owns the media and the conversation; the worker owns admission, leases, fencing and
/// the call's final status. A runner returns how the call ended, or throws (the call fails with the
/// error's message). It is cancelled when the call must stop (fenced, canceled, handed off).
public protocol CallRunner: Sendable {
    func run(_ call: CallContext) async throws -> CallEnd
}

/// How a call ended, from the runner's point of view.
public struct CallEnd: Sendable, Equatable {
    public var status: CallStatus
    public var detail: String

    public init(_ status: CallStatus, _ detail: String = "") {
        precondition(status.isTerminal, "a call ends with a terminal status")
        self.status = status
        self.detail = detail
    }
}

/// Everything a runner may know and do about its call. Writes go through the fenced session store
/// and are retried across Redis outages (they are idempotent: turns are keyed by `seq`, status
/// transitions are no-ops when repeated), until they succeed or the call is stopped.
public struct CallContext: Sendable {
    public let job: CallJob
    public let lease: CallLease
    /// True when another worker ran this call before (takeover after a failure or a drain).
    public let isResume: Bool
    /// The status the call had when this worker took it.
    public let statusAtStart: CallStatus
    /// The last persisted turn (0 for a fresh call).
    public let lastSeq: Int
    public let store: SessionStore
    public let logger: Logger
    let control: CallControl

    init(job: CallJob, lease: CallLease, isResume: Bool, statusAtStart: CallStatus, lastSeq: Int,
         store: SessionStore, logger: Logger, control: CallControl) {
        (self.job, self.lease, self.isResume, self.statusAtStart, self.lastSeq) = (job, lease, isResume, statusAtStart, lastSeq)
        (self.store, self.logger, self.control) = (store, logger, control)
    }

    /// Set once the worker has been told to stop the call; runners check it between media frames.
    public var stopRequested: Bool { control.reason != nil }

    /// Why the worker stopped the call: a runner hangs up on `canceled`, and leaves the call
    /// leg alone on `handoff` and `fenced` (another worker carries on with it).
    public var stopReason: StopReason? { control.reason }

    @discardableResult
    public func appendTurn(_ turn: Turn) async throws -> Bool {
        try await retrying { try await store.appendTurn(turn, lease: lease) }
    }

    public func transition(_ status: CallStatus, detail: String = "") async throws {
        try await retrying { try await store.transition(status, lease: lease, detail: detail) }
    }

    public func setContext(_ fields: [String: String]) async throws {
        try await retrying { try await store.setContext(fields, lease: lease) }
    }

    /// Figures written as the call ends (its media's). A call canceled through the API (a browser
    /// call's page hanging up) ends with its runner cancelled, which would lose them: the write
    /// then goes on as a task of its own, once. Any other way, as `setContext`; nothing thrown.
    public func setClosingContext(_ fields: [String: String]) async {
        guard stopReason == .canceled else {
            try? await setContext(fields)
            return
        }
        let (store, lease) = (store, lease)
        _ = await Task { try? await store.setContext(fields, lease: lease) }.value
    }

    public func record(event: String, detail: String = "", fields: [String: String] = [:]) async throws {
        // One time for every attempt, so a retry after a lost reply is recognised and not recorded twice.
        let at = Timestamp.nowMs()
        try await retrying { try await store.record(event: event, detail: detail, fields: fields, lease: lease, at: at) }
    }

    /// Transport state kept in the call hash (the SIP dialog snapshot for takeover).
    public func setFields(_ fields: [String: String]) async throws {
        try await retrying { try await store.setFields(fields, lease: lease) }
    }

    public func fields(_ names: [String]) async throws -> [String: String] {
        try await retrying { try await store.fields(lease.callID, names) }
    }

    /// Every turn persisted so far (for history re-injection on resume).
    public func history() async throws -> [Turn] {
        try await retrying { try await store.turns(lease.callID) }
    }

    public func sessionContext() async throws -> [String: String] {
        try await retrying { try await store.context(lease.callID) }
    }

    /// `webrtc`: the browser's next offer newer than `gen` (nil after `timeout`).
    public func nextWebRTCOffer(after gen: Int, timeout: Duration) async throws -> WebRTCSignals.Description? {
        try await retrying { try await WebRTCSignals(client: store.client, keys: store.keys).nextOffer(call: lease.callID, after: gen, timeout: timeout) }
    }

    /// `webrtc`: whether the page has offered again since the last answer.
    public func hasPendingWebRTCOffer() async -> Bool {
        (try? await WebRTCSignals(client: store.client, keys: store.keys).hasPendingOffer(call: lease.callID)) ?? false
    }

    /// `webrtc`: this worker's answer to offer `answer.gen`, for the dispatcher holding the browser's request.
    public func postWebRTCAnswer(_ answer: WebRTCSignals.Description) async throws {
        try await retrying { try await WebRTCSignals(client: store.client, keys: store.keys).postAnswer(call: lease.callID, answer) }
    }

    func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var backoff = Backoff(baseMs: 20, capMs: 500)
        var warned = false
        while true {
            do {
                return try await body()
            } catch let e as RedisError where e.isConnectivity {
                if !warned {
                    logger.warning("session write waiting for redis", metadata: ["error": "\(e.message)"])
                    warned = true
                }
                try Task.checkCancellation()
                try await Task.sleep(for: .milliseconds(backoff.next()))
            }
        }
    }
}

