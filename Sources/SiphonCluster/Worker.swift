import Foundation
import Logging
import ServiceLifecycle
import SiphonCore
import SiphonRedis
import Synchronization

public struct WorkerConfiguration: Sendable {
    public var id: String
    /// Calls this worker runs at once; it never reads more jobs than it has free slots.
    public var capacity: Int
    public var heartbeatMs: Int
    /// On SIGTERM, how long running calls may continue before they are handed off.
    public var drainTimeoutMs: Int
    /// Agents this worker serves (advertised; `sim` jobs need none).
    public var agents: [String]
    public var keys: ClusterKeys

    public init(id: String = WorkerConfiguration.defaultID(), capacity: Int = 10, heartbeatMs: Int = 500,
                drainTimeoutMs: Int = 30_000, agents: [String] = [], keys: ClusterKeys = ClusterKeys()) throws {
        try Identifier.validateID(id, what: "worker id")
        guard (1...10_000).contains(capacity) else { throw SiphonError(.configuration, "capacity must be 1 to 10000") }
        guard (20...60_000).contains(heartbeatMs) else { throw SiphonError(.configuration, "heartbeat must be 20 to 60000 ms") }
        guard drainTimeoutMs >= 0 else { throw SiphonError(.configuration, "drain timeout must not be negative") }
        for a in agents { try Identifier.validateAgentName(a) }
        (self.id, self.capacity, self.heartbeatMs, self.drainTimeoutMs, self.agents, self.keys) =
            (id, capacity, heartbeatMs, drainTimeoutMs, agents, keys)
    }

    /// The liveness key lives for 3 heartbeats: a worker is declared dead after 3 missed beats.
    public var aliveTTLms: Int { heartbeatMs * 3 }
    public var leaseMs: Int { heartbeatMs * 3 }
    /// A call falls silent this long before its lease would expire in Redis if the worker could not
    /// renew it — measured on this host's monotonic clock from when the renewal was sent, so the
    /// worker is silent before any supervisor can reassign the call, whatever the clock drift.
    public var selfFenceMarginMs: Int { max(100, leaseMs / 5) }
    var leaseNs: UInt64 { UInt64(leaseMs) * 1_000_000 }
    /// XREADGROUP BLOCK time: short, so assignments from the supervisor and drains are seen quickly.
    var blockMs: Int { max(20, min(250, heartbeatMs / 2)) }

    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let clean = String(host.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" }.prefix(40))
        return "w-\(clean.isEmpty ? "host" : clean)-\(getpid())"
    }
}

/// A stateless call worker: claims jobs from `siphon:calls` up to its capacity, runs each call as a
/// child task, heartbeats its liveness and its calls' leases, adopts calls the supervisor assigns to
/// it, and drains gracefully on shutdown.
public final class Worker: Service, Sendable {
    public let configuration: WorkerConfiguration
    let client: RedisClient
    /// A separate connection for the blocking XREADGROUP, so it never delays heartbeats.
    let blocking: RedisClient
    let runners: [Transport: any CallRunner]
    let store: SessionStore
    let queue: CallQueue
    let logger: Logger
    private let state: Mutex<State>

    struct State {
        var running: [String: Running] = [:]
        /// Entries admitted or running here: adoption skips them.
        var known: Set<String> = []
        /// Entries pending for this worker that it must not touch yet (owned elsewhere, or awaiting reassignment).
        var ignoredUntil: [String: UInt64] = [:]
        /// This worker's pending entries as of the last heartbeat.
        var pending: [String] = []
        /// Calls owned here (per Redis) that are not running: assigned by the supervisor.
        var assigned: [String] = []
        /// Calls stopped because their lease could not be renewed (cut off from Redis), kept until
        /// Redis says whether they are still ours: then resumed, or dropped if fenced.
        var suspended = SuspendedCalls()
        /// Where new local calls (answered inbound) are handed to the run loop.
        var starts: AsyncStream<Admitted>.Continuation?
        /// Calls being re-admitted after a suspension (their `resumed` event says so); back to
        /// `suspended` if the claim cannot reach Redis.
        var resumingAfterSuspension: [String: CallLease] = [:]
        var draining = false
        var heartbeatsStopped = false
        var maxActive = 0
    }

    struct Running {
        let lease: CallLease
        let control: CallControl
        /// Monotonic time (ns) until which Redis surely holds the lease: when the last renewal that
        /// succeeded was sent, plus the lease time.
        var leaseValidUntil: UInt64
    }

    /// A call admitted to a slot, ready to run.
    struct Admitted: Sendable {
        let job: CallJob
        let lease: CallLease
        let isResume: Bool
        let status: CallStatus
        let lastSeq: Int
        let control: CallControl
        var afterSuspension = false
    }

    private let startedAt = Timestamp.nowMs()

    public init(configuration: WorkerConfiguration, redis: RedisURL, runners: [Transport: any CallRunner] = [.sim: SimCallRunner()],
                logger: Logger = Logger(label: "siphon.worker")) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker.id"] = "\(configuration.id)"
        self.logger = logger
        self.client = RedisClient(RedisClient.Configuration(url: redis, connections: 2), logger: logger)
        self.blocking = RedisClient(
            RedisClient.Configuration(url: redis, connections: 1, commandTimeoutMs: configuration.blockMs + 5000), logger: logger)
        self.runners = runners
        self.store = SessionStore(client: client, keys: configuration.keys)
        self.queue = CallQueue(client: client, keys: configuration.keys)
        self.state = Mutex(State())
    }

    var keys: ClusterKeys { configuration.keys }
    var id: String { configuration.id }

    /// Number of calls running now, and the most ever run at once (for the capacity tests).
    public var activeCalls: Int { state.withLock { $0.running.count } }
    /// Calls silenced because their leases could not be renewed, waiting for Redis.
    public var suspendedCalls: Int { state.withLock { $0.suspended.count } }
    public var maxActiveCalls: Int { state.withLock { $0.maxActive } }

    /// Starts draining: stop claiming, let calls finish up to the drain timeout, hand off the rest.
    public func drain() { state.withLock { $0.draining = true } }
    public var isDraining: Bool { state.withLock { $0.draining } }

    public func run() async throws {
        try await client.load(ClusterScripts.all)
        try await queue.ensureGroup()
        try await heartbeat()
        logger.info("worker started", metadata: [
            "worker.capacity": "\(configuration.capacity)", "worker.agents": "\(configuration.agents)",
            "worker.transports": "\(runners.keys.map(\.rawValue).sorted())",
        ])
        let (starts, startsContinuation) = AsyncStream<Admitted>.makeStream()
        state.withLock { $0.starts = startsContinuation }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.selfFenceLoop() }
                group.addTask {
                    await self.claimLoop(startsContinuation)
                    await self.finishDrain()
                    self.state.withLock { $0.starts = nil }
                    startsContinuation.finish()
                }
                for await admitted in starts {
                    group.addTask { await self.runCall(admitted) }
                }
                await self.waitUntilIdle()
                self.state.withLock { $0.heartbeatsStopped = true }
            }
        } onGracefulShutdown: {
            self.logger.info("draining: no new calls", metadata: ["worker.drain_timeout_ms": "\(self.configuration.drainTimeoutMs)"])
            self.drain()
        }
        do {
            try await client.eval(WorkerScripts.deregister, args: [keys.prefix, id])
        } catch {
            logger.warning("could not deregister", metadata: ["error": "\(error)"])
        }
        logger.info("worker stopped")
    }

    // MARK: claiming

    private func claimLoop(_ starts: AsyncStream<Admitted>.Continuation) async {
        var backoff = Backoff(baseMs: 50, capMs: 2000)
        while !state.withLock({ $0.draining }) {
            await adoptPending(starts)
            let free = state.withLock { configuration.capacity - $0.running.count - $0.suspended.count - $0.resumingAfterSuspension.count }
            if free <= 0 {
                try? await Task.sleep(for: .milliseconds(10))
                continue
            }
            do {
                let reply = try await blocking.send([
                    "XREADGROUP", "GROUP", ClusterKeys.group, id, "COUNT", String(free),
                    "BLOCK", String(configuration.blockMs), "STREAMS", keys.calls, ">",
                ])
                backoff.reset()
                let entries = Self.streamEntries(reply)
                state.withLock { s in for e in entries { s.known.insert(e.id) } }
                for entry in entries {
                    if let admitted = await admit(entry: entry.id, fields: entry.fields) { starts.yield(admitted) }
                }
            } catch let e as RedisError where e.code == .server && e.message.hasPrefix("NOGROUP") {
                logger.warning("consumer group missing (stream deleted?); recreating it")
                try? await queue.ensureGroup()
            } catch {
                logger.warning("claiming failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(backoff.next()))
            }
        }
    }

    /// Entries pending for this worker that it is not running: calls the supervisor assigned to it
    /// and jobs routed to it by another worker. Runs on the claim loop's task, after that loop's own
    /// admissions, so an entry is never admitted twice.
    private func adoptPending(_ starts: AsyncStream<Admitted>.Continuation) async {
        let now = Timestamp.monotonicNs()
        let fresh: [String] = state.withLock { s in
            // A silenced call's entry is pending here too: only the heartbeat's verdict on it
            // (`SuspendedCalls.settle`) brings it back, never a reply that was merely late.
            let silenced = Set(s.suspended.leases.map(\.entry) + s.resumingAfterSuspension.values.map(\.entry))
            let list = s.pending.filter { !s.known.contains($0) && (s.ignoredUntil[$0] ?? 0) < now && !silenced.contains($0) }
            s.pending = []
            for e in list { s.known.insert(e) }
            s.ignoredUntil = s.ignoredUntil.filter { $0.value > now }
            return list
        }
        let assigned: [String] = state.withLock { s in
            let list = s.assigned.filter { s.running[$0] == nil && !s.known.contains("call:" + $0) }
            s.assigned = []
            for id in list { s.known.insert("call:" + id) }
            return list
        }
        for id in assigned {
            defer { _ = state.withLock { $0.known.remove("call:" + id) } }
            guard let h = try? await client.send("HMGET", keys.call(id), "job", "entry").array, h.count == 2, let job = h[0].string else {
                staySuspended(id)
                continue
            }
            let entry = h[1].string ?? ""
            if !entry.isEmpty, state.withLock({ $0.known.contains(entry) }) { continue }
            if let admitted = await admit(entry: entry, fields: ["job": job]) {
                starts.yield(admitted)
            } else {
                // Not resumed, nor silenced again (`staySuspended`): its slot is free.
                state.withLock { _ = $0.resumingAfterSuspension.removeValue(forKey: id) }
            }
        }
        for entry in fresh {
            do {
                let reply = try await client.send("XRANGE", keys.calls, entry, entry)
                guard let first = Self.entries(reply).first else {
                    // The entry is gone from the stream (deleted by hand): nothing can run it.
                    try await client.send("XACK", keys.calls, ClusterKeys.group, entry)
                    _ = state.withLock { $0.known.remove(entry) }
                    continue
                }
                if let admitted = await admit(entry: entry, fields: first.fields) { starts.yield(admitted) }
            } catch {
                logger.warning("adopting a pending entry failed", metadata: ["stream.entry": "\(entry)", "error": "\(error)"])
                _ = state.withLock { $0.known.remove(entry) }
            }
        }
    }

    /// A silenced call whose resumption could not reach Redis stays silenced: the next heartbeat
    /// that gets through resumes or drops it.
    private func staySuspended(_ callID: String) {
        state.withLock { s in
            if let lease = s.resumingAfterSuspension.removeValue(forKey: callID) {
                s.suspended.silence(lease, at: Timestamp.monotonicNs())
            }
        }
    }

    /// Validates a delivered job and claims (or resumes) its call. Bad jobs are dead-lettered with
    /// the reason; the worker carries on.
    private func admit(entry: String, fields: [String: String]) async -> Admitted? {
        func forget(ignoreForMs: Int = 0) {
            state.withLock { s in
                s.known.remove(entry)
                if ignoreForMs > 0 { s.ignoredUntil[entry] = Timestamp.monotonicNs() + UInt64(ignoreForMs) * 1_000_000 }
            }
        }
        guard let raw = fields["job"] else {
            await deadLetter(entry: entry, callID: "", reason: "stream entry has no 'job' field",
                             raw: fields.keys.sorted().joined(separator: ","))
            forget()
            return nil
        }
        let job: CallJob
        do {
            job = try CallJob.parse(raw, defaultID: "call-\(entry)")
        } catch {
            let reason = (error as? SiphonError)?.message ?? "\(error)"
            await deadLetter(entry: entry, callID: Self.looseID(raw) ?? "", reason: reason, raw: raw)
            forget()
            return nil
        }
        var logger = self.logger
        logger[metadataKey: "call.id"] = "\(job.id)"

        let servesAgent = job.transport == .sim || configuration.agents.contains(job.agent)
        guard runners[job.transport] != nil, servesAgent else {
            do {
                let target = try await client.eval(WorkerScripts.route, args: [keys.prefix, entry, job.agent, job.transport.rawValue, id])
                if let t = target.string {
                    logger.info("job routed to a worker that serves it", metadata: ["worker.target": "\(t)"])
                } else {
                    await deadLetter(entry: entry, callID: job.id,
                                     reason: "no live worker serves agent '\(job.agent)' over \(job.transport.rawValue)", raw: raw)
                }
            } catch {
                logger.warning("routing failed; will retry", metadata: ["error": "\(error)"])
                forget(ignoreForMs: 1000)
                return nil
            }
            forget()
            return nil
        }

        let reply: RedisReply
        let claimSent = Timestamp.monotonicNs()
        do {
            reply = try await client.eval(WorkerScripts.claim, args: [
                keys.prefix, id, entry, String(Timestamp.nowMs()), job.id, job.json(), String(configuration.leaseMs),
            ])
        } catch {
            logger.warning("claim failed; will retry from the pending list", metadata: ["error": "\(error)"])
            forget(ignoreForMs: 500)
            staySuspended(job.id)
            return nil
        }
        let parts = (reply.array ?? []).map { $0.string ?? "" }
        switch parts.first {
        case "claimed", "resume":
            guard parts.count >= 4, let epoch = Int(parts[1]) else { forget(); return nil }
            let lease = CallLease(callID: job.id, worker: id, epoch: epoch, entry: entry)
            let control = CallControl()
            if state.withLock({ $0.running[job.id] != nil }) {
                forget()
                return nil  // already running here (adopted through another path)
            }
            let admitted = state.withLock { s -> Bool in
                guard s.running.count < configuration.capacity, !s.draining else { return false }
                s.running[job.id] = Running(lease: lease, control: control, leaseValidUntil: claimSent + configuration.leaseNs)
                s.suspended.remove(job.id)
                s.maxActive = max(s.maxActive, s.running.count)
                return true
            }
            guard admitted else {
                // No room (an assignment raced with our own claims): give it straight back.
                try? await store.handoff(lease: lease, reason: "no free slot on \(id)")
                forget()
                return nil
            }
            let isResume = parts[0] == "resume"
            ClusterMetrics.activeCalls(worker: id, state.withLock { $0.running.count })
            // The entry id's first part is the XADD time in ms: enqueue to claim.
            if !isResume, let added = entry.split(separator: "-").first.flatMap({ Int64($0) }) {
                ClusterMetrics.claimLatency(ms: Timestamp.nowMs() - added)
            }
            let afterSuspension = state.withLock { $0.resumingAfterSuspension.removeValue(forKey: job.id) != nil }
            return Admitted(job: job, lease: lease, isResume: isResume, status: CallStatus(rawValue: parts[3]) ?? .claimed,
                            lastSeq: Int(parts[2]) ?? 0, control: control, afterSuspension: afterSuspension)
        case "done":
            forget()
        case "duplicate":
            await deadLetter(entry: entry, callID: "", reason: "duplicate job: call \(job.id) already exists with entry \(parts.count > 1 ? parts[1] : "?")", raw: raw)
            forget()
        case "taken":
            // Owned by another worker, or awaiting reassignment: look again later.
            forget(ignoreForMs: 1000)
            if state.withLock({ $0.resumingAfterSuspension.removeValue(forKey: job.id) != nil }) {
                logger.warning("a silenced call belongs to another worker now; dropped it", metadata: ["call.id": "\(job.id)"])
            }
        default:
            logger.error("unexpected claim reply", metadata: ["reply": "\(reply)"])
            forget(ignoreForMs: 1000)
        }
        return nil
    }

    private func deadLetter(entry: String, callID: String, reason: String, raw: String) async {
        let redacted = Redaction.redact(String(raw.prefix(8192)))
        do {
            let written = try await client.eval(WorkerScripts.deadLetter, args: [
                keys.prefix, entry, callID, reason, redacted, id, String(Timestamp.nowMs()),
            ])
            guard written.int == 1 else { return }  // dead-lettered already (delivered twice)
            logger.warning("job dead-lettered", metadata: ["stream.entry": "\(entry)", "reason": "\(reason)"])
            ClusterMetrics.deadLettered()
        } catch {
            logger.error("could not dead-letter a job", metadata: ["stream.entry": "\(entry)", "error": "\(error)"])
        }
    }

    /// Runs a call this worker took on itself (an inbound call it is answering): recorded in
    /// Redis as owned here, then run like any other. Returns false when there is no free slot
    /// (the caller then gets 486 Busy) or the worker is draining.
    public func admitLocal(_ job: CallJob, detail: String) async throws -> Bool {
        let control = CallControl()
        let lease = CallLease(callID: job.id, worker: id, epoch: 1, entry: "")
        let registerSent = Timestamp.monotonicNs()
        let reserved = state.withLock { s -> Bool in
            guard s.running.count < configuration.capacity, !s.draining, s.starts != nil else { return false }
            s.running[job.id] = Running(lease: lease, control: control, leaseValidUntil: registerSent + configuration.leaseNs)
            s.maxActive = max(s.maxActive, s.running.count)
            return true
        }
        guard reserved else { return false }
        do {
            try await client.eval(WorkerScripts.registerInbound, args: [
                keys.prefix, id, job.id, job.json(), String(Timestamp.nowMs()), String(configuration.leaseMs), detail,
            ])
        } catch {
            _ = state.withLock { $0.running.removeValue(forKey: job.id) }
            throw error
        }
        let admitted = Admitted(job: job, lease: lease, isResume: false, status: .claimed, lastSeq: 0, control: control)
        guard let starts = state.withLock({ $0.starts }) else { return false }
        starts.yield(admitted)
        return true
    }

    // MARK: running calls

    private enum Outcome: Sendable {
        case finished(CallEnd)
        case failed(any Error)
        case stopped(StopReason)
    }

    private func runCall(_ a: Admitted) async {
        var logger = self.logger
        logger[metadataKey: "call.id"] = "\(a.lease.callID)"
        logger[metadataKey: "call.epoch"] = "\(a.lease.epoch)"
        defer {
            let active = state.withLock { s -> Int in
                s.running[a.lease.callID] = nil
                s.known.remove(a.lease.entry)
                return s.running.count
            }
            ClusterMetrics.activeCalls(worker: id, active)
        }
        guard let runner = runners[a.job.transport] else { return }
        let context = CallContext(job: a.job, lease: a.lease, isResume: a.isResume, statusAtStart: a.status,
                                  lastSeq: a.lastSeq, store: store, logger: logger, control: a.control)
        if a.isResume {
            logger.info("resuming call", metadata: ["call.last_seq": "\(a.lastSeq)"])
            do {
                try await context.record(event: "resumed", detail: a.afterSuspension
                    ? "after turn \(a.lastSeq), by the same worker once Redis answered again" : "after turn \(a.lastSeq)")
            } catch {
                logger.warning("call lost before resuming", metadata: ["error": "\(error)"])
                return
            }
        } else {
            logger.info("call claimed", metadata: ["call.transport": "\(a.job.transport.rawValue)", "call.agent": "\(a.job.agent)"])
        }

        let outcome = await withTaskGroup(of: Outcome?.self) { group -> Outcome in
            group.addTask {
                do { return .finished(try await runner.run(context)) } catch { return .failed(error) }
            }
            group.addTask { await a.control.wait().map(Outcome.stopped) }
            var result: Outcome = .stopped(.fenced)
            if let first = await group.next(), let value = first { result = value }
            group.cancelAll()
            return result
        }

        do {
            switch outcome {
            case .finished(let end):
                try await context.transition(end.status, detail: end.detail)
                ClusterMetrics.callEnded(end.status)
                logger.info("call ended", metadata: ["call.status": "\(end.status.rawValue)", "call.detail": "\(end.detail)"])
            case .failed(let error as SiphonError) where error.code == .fenced:
                logger.warning("fenced: another worker owns this call now; stopped it", metadata: ["error": "\(error.message)"])
            case .failed(let error):
                let message = Redaction.redact((error as? SiphonError)?.message ?? "\(error)")
                try await context.transition(.failed, detail: message)
                ClusterMetrics.callEnded(.failed)
                logger.error("call failed", metadata: ["error": "\(message)"])
            case .stopped(.fenced):
                logger.warning("fenced: another worker owns this call now; stopped it")
            case .stopped(.canceled):
                try await context.transition(.canceled, detail: "canceled by API")
                ClusterMetrics.callEnded(.canceled)
                logger.info("call canceled")
            case .stopped(.handoff(let reason)):
                try await context.retrying { try await store.handoff(lease: a.lease, reason: reason) }
                logger.info("call handed off", metadata: ["reason": "\(reason)"])
            case .stopped(.suspended):
                // Nothing is written: Redis is what we cannot reach, and the call may be someone
                // else's. The self-fence loop has it in `suspended` already.
                break
            }
        } catch let error as SiphonError where error.code == .fenced {
            logger.warning("fenced while finishing the call", metadata: ["error": "\(error.message)"])
        } catch {
            logger.error("could not record the call's end", metadata: ["error": "\(error)"])
        }
    }

    // MARK: heartbeats

    private func heartbeatLoop() async {
        var failing = false
        while !state.withLock({ $0.heartbeatsStopped }) {
            let started = Timestamp.monotonicNs()
            do {
                try await heartbeat()
                if failing { logger.info("heartbeats restored") }
                failing = false
            } catch {
                if !failing { logger.warning("heartbeat failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
            let elapsedMs = Int((Timestamp.monotonicNs() - started) / 1_000_000)
            try? await Task.sleep(for: .milliseconds(max(1, configuration.heartbeatMs - elapsedMs)))
        }
    }

    /// Silences every call whose lease this worker could not renew in time (a partition from
    /// Redis: the heartbeat itself may be stuck on a socket nobody answers). Runs apart from the
    /// heartbeat for that reason.
    private func selfFenceLoop() async {
        let period = max(10, min(50, configuration.heartbeatMs / 5))
        let margin = UInt64(configuration.selfFenceMarginMs) * 1_000_000
        while !state.withLock({ $0.heartbeatsStopped }) {
            let now = Timestamp.monotonicNs()
            let late = state.withLock { s in s.running.values.filter { now + margin >= $0.leaseValidUntil && $0.control.reason == nil } }
            for call in late {
                // Suspended from now on (the heartbeat asks Redis about it), resumed only once its
                // runner has stopped (`running` no longer holds it). Stopped and listed as suspended
                // in one step: a heartbeat in between would list the call nowhere, and Redis would
                // hand it back as owned here and not running, resumed without a verdict.
                let silenced = state.withLock { s -> Bool in
                    guard call.control.stop(.suspended) else { return false }
                    s.suspended.silence(call.lease, at: now)
                    return true
                }
                guard silenced else { continue }
                ClusterMetrics.callSuspended()
                logger.warning("call silenced: its lease could not be renewed in time; resumed if Redis says it is still ours",
                               metadata: ["call.id": "\(call.lease.callID)", "call.epoch": "\(call.lease.epoch)",
                                          "call.lease_ms": "\(configuration.leaseMs)"])
            }
            try? await Task.sleep(for: .milliseconds(period))
        }
    }

    /// One heartbeat: liveness + info, leases of the calls running here (fenced), and news.
    private func heartbeat() async throws {
        let sentAt = Timestamp.monotonicNs()
        let (calls, info) = state.withLock { s -> ([CallLease], [String]) in
            let info = [
                "capacity", String(configuration.capacity), "active", String(s.running.count),
                "max_active", String(s.maxActive), "draining", s.draining ? "1" : "0",
                "agents", configuration.agents.joined(separator: "\n"),
                "transports", runners.keys.map(\.rawValue).sorted().joined(separator: "\n"),
                "host", ProcessInfo.processInfo.hostName, "pid", String(getpid()), "version", SiphonVersion.current,
                "heartbeat_ms", String(configuration.heartbeatMs), "started_at", String(startedAt),
            ]
            // Suspended calls too: renewing their leases tells whether they are still ours.
            let running = s.running.values.filter { $0.control.reason != .suspended }.map(\.lease)
            return (running + s.suspended.leases, info)
        }
        var args = [keys.prefix, id, String(Timestamp.nowMs()), String(configuration.aliveTTLms),
                    String(configuration.leaseMs), String(info.count / 2)] + info
        for lease in calls { args += [lease.callID, String(lease.epoch), lease.entry] }
        let reply = try await client.eval(WorkerScripts.heartbeat, args: args)
        let parts = reply.array ?? []
        guard parts.count >= 3 else { throw SiphonError(.internal, "unexpected heartbeat reply \(reply)") }
        let fenced = (parts[0].array ?? []).compactMap(\.string)
        let cancels = (parts[1].array ?? []).compactMap(\.string)
        let pending = (parts[2].array ?? []).compactMap(\.string)
        let assigned = parts.count > 3 ? (parts[3].array ?? []).compactMap(\.string) : []
        let fencedSet = Set(fenced)
        let (controls, dropped, resumed) = state.withLock { s -> ([(CallControl, StopReason)], [String], [String]) in
            s.pending = pending
            s.assigned = assigned
            for id in s.running.keys where !fencedSet.contains(id) {
                s.running[id]?.leaseValidUntil = sentAt + configuration.leaseNs
            }
            let running = s.running
            let (dropped, resumed) = s.suspended.settle(fenced: fencedSet, heartbeatSentAt: sentAt) { running[$0] != nil }
            for lease in resumed {
                s.assigned.append(lease.callID)
                s.resumingAfterSuspension[lease.callID] = lease
            }
            let stops = fenced.compactMap { id in s.running[id].map { ($0.control, StopReason.fenced) } }
                + cancels.compactMap { id in s.running[id].map { ($0.control, StopReason.canceled) } }
            return (stops, dropped, resumed.map(\.callID))
        }
        for (control, reason) in controls { control.stop(reason) }
        for id in dropped { logger.warning("a silenced call belongs to another worker now; dropped it", metadata: ["call.id": "\(id)"]) }
        for id in resumed { logger.info("Redis answers again and the call is still ours: resuming it", metadata: ["call.id": "\(id)"]) }
    }

    // MARK: draining

    /// After claiming stops: wait up to the drain timeout, then hand off what still runs.
    private func finishDrain() async {
        let deadline = Timestamp.monotonicNs() + UInt64(configuration.drainTimeoutMs) * 1_000_000
        while activeCalls > 0, Timestamp.monotonicNs() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = state.withLock { $0.running.values.map(\.control) }
        if !remaining.isEmpty {
            logger.info("drain timeout: handing off calls", metadata: ["calls": "\(remaining.count)"])
        }
        for control in remaining { control.stop(.handoff("worker \(id) draining")) }
    }

    private func waitUntilIdle() async {
        while activeCalls > 0 { try? await Task.sleep(for: .milliseconds(20)) }
    }

    // MARK: helpers

    struct StreamEntry {
        let id: String
        let fields: [String: String]
    }

    /// Parses an XREADGROUP reply: [[stream, [[id, [f, v, …]], …]]].
    static func streamEntries(_ reply: RedisReply) -> [StreamEntry] {
        (reply.array ?? []).flatMap { s -> [StreamEntry] in
            guard let pair = s.array, pair.count == 2 else { return [] }
            return entries(pair[1])
        }
    }

    /// Parses an XRANGE-shaped list: [[id, [f, v, …]], …]. A trimmed entry has a nil body (no fields).
    static func entries(_ list: RedisReply) -> [StreamEntry] {
        (list.array ?? []).compactMap { e in
            guard let p = e.array, p.count == 2, let eid = p[0].string else { return nil }
            return StreamEntry(id: eid, fields: p[1].fieldMap)
        }
    }

    /// The `id` of a job that failed validation, if it can be read at all.
    static func looseID(_ raw: String) -> String? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any],
              let id = obj["id"] as? String, (try? Identifier.validateID(id, what: "id")) != nil else { return nil }
        return id
    }
}
