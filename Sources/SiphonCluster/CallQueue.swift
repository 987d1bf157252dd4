import Foundation
import SiphonCore
import SiphonRedis

/// The dispatcher side of the cluster: enqueue, cancel, and what the live workers offer.
public struct CallQueue: Sendable {
    public let client: RedisClient
    public let keys: ClusterKeys
    /// How long an idempotency key keeps returning its first call.
    public var idempotencyTTLms = 24 * 3600 * 1000
    /// Seals inline trunk passwords before they reach Redis (`SIPHON_SECRET_KEY`).
    public var secretBox: SecretBox?

    public init(client: RedisClient, keys: ClusterKeys) {
        self.client = client
        self.keys = keys
    }

    /// Creates the consumer group (and the stream) if missing. Starting at `0` means jobs
    /// enqueued before the first worker ever started are delivered too.
    public func ensureGroup() async throws {
        do {
            try await client.send("XGROUP", "CREATE", keys.calls, ClusterKeys.group, "0", "MKSTREAM")
        } catch let e as RedisError where e.message.hasPrefix("BUSYGROUP") {
            return
        }
    }

    public struct Enqueued: Sendable, Equatable, Codable {
        public var id: String
        /// False when the idempotency key matched an earlier call (whose id this is).
        public var created: Bool
    }

    /// Validates that someone can run the job, then writes the call record and XADDs the job.
    public func enqueue(_ job: CallJob) async throws -> Enqueued {
        var job = job
        try job.validate()
        try job.sealSecrets(with: secretBox)
        if job.transport != .sim {
            let workers = try await liveWorkers()
            let serving = workers.filter { $0.transports.contains(job.transport.rawValue) && $0.agents.contains(job.agent) }
            guard !serving.isEmpty else {
                let known = Set(workers.filter { $0.transports.contains(job.transport.rawValue) }.flatMap(\.agents)).sorted()
                throw SiphonError(.notFound, "no live worker serves agent '\(job.agent)' over \(job.transport.rawValue)"
                    + (known.isEmpty ? " (no live worker offers that transport)" : " (served: \(known.joined(separator: ", ")))"))
            }
        }
        return try await enqueueUnchecked(job)
    }

    /// Enqueue without the agent check (benchmarks; workers check again anyway).
    public func enqueueUnchecked(_ job: CallJob) async throws -> Enqueued {
        guard let result = try await enqueueBatch([job]).first else { throw SiphonError(.internal, "empty enqueue reply") }
        return try result.get()
    }

    /// Enqueues many jobs in one round trip. Results are in the order of `jobs`; a job whose id
    /// already exists fails with `.conflict` without failing the others.
    ///
    /// Jobs with an idempotency key or a caller-chosen id need a check first and go through the
    /// `enqueue` script. The rest — generated 100-bit ids cannot collide — are written with a plain
    /// MULTI/EXEC (call hash and job entry), which costs Redis about half as much per job.
    public func enqueueBatch(_ jobs: [CallJob]) async throws -> [Result<Enqueued, SiphonError>] {
        if jobs.isEmpty { return [] }
        let now = String(Timestamp.nowMs())
        var results = [Result<Enqueued, SiphonError>?](repeating: nil, count: jobs.count)
        var checked: [Int] = []
        var commands: [[String]] = []
        var plain: [Int] = []
        for (i, job) in jobs.enumerated() {
            if job.idempotencyKey != nil || !job.idWasGenerated {
                checked.append(i)
                continue
            }
            plain.append(i)
            let json = job.json()
            commands.append(["MULTI"])
            commands.append(["HSET", keys.call(job.id), "status", "queued", "job", json, "created_at", now])
            commands.append(["XADD", keys.calls, "*", "job", json])
            commands.append(["EXEC"])
        }
        if !commands.isEmpty {
            let errors = try await client.pipelineErrors(commands)
            for (n, i) in plain.enumerated() {
                if let e = errors[(4 * n)..<(4 * n + 4)].compactMap({ $0 }).first {
                    results[i] = .failure(SiphonError(.internal, "enqueue failed: \(e)"))
                } else {
                    results[i] = .success(Enqueued(id: jobs[i].id, created: true))
                }
            }
        }
        if !checked.isEmpty {
            var args = [keys.prefix, now, String(idempotencyTTLms)]
            for i in checked {
                let job = jobs[i]
                args += [job.id, job.json(), job.idempotencyKey ?? ""]
            }
            let reply = try await client.eval(ClusterScripts.enqueue, args: args)
            guard let flat = reply.array, flat.count == 2 * checked.count else {
                throw SiphonError(.internal, "unexpected enqueue reply \(reply)")
            }
            for (n, i) in checked.enumerated() {
                let id = flat[2 * n].string ?? ""
                switch flat[2 * n + 1].int {
                case 1: results[i] = .success(Enqueued(id: id, created: true))
                case 0: results[i] = .success(Enqueued(id: id, created: false))
                default: results[i] = .failure(SiphonError(.conflict, "call \(id) already exists"))
                }
            }
        }
        return results.map { $0! }
    }

    public enum CancelResult: Sendable, Equatable {
        case canceled
        case requested(worker: String)
        case alreadyEnded(CallStatus)
        case notFound
    }

    /// Cancels a queued call, or asks the owning worker to hang up a running one.
    public func cancel(_ id: String, reason: String = "canceled by API") async throws -> CancelResult {
        try Identifier.validateID(id, what: "call id")
        let reply = try await client.eval(ClusterScripts.cancel, args: [keys.prefix, id, String(Timestamp.nowMs()), reason])
        let a = reply.array ?? []
        switch a.first?.string {
        case "canceled": return .canceled
        case "requested": return .requested(worker: a.count > 1 ? a[1].string ?? "" : "")
        case "terminal": return .alreadyEnded(a.count > 1 ? CallStatus(rawValue: a[1].string ?? "") ?? .ended : .ended)
        default: return .notFound
        }
    }

    /// Every registered worker, alive or not yet reaped.
    public func workers() async throws -> [WorkerInfo] {
        let ids = (try await client.send("ZRANGE", keys.workers, "0", "-1").array ?? []).compactMap(\.string)
        if ids.isEmpty { return [] }
        let replies = try await client.pipeline(ids.flatMap { [["HGETALL", keys.worker($0)], ["EXISTS", keys.workerAlive($0)]] })
        var out: [WorkerInfo] = []
        for (i, id) in ids.enumerated() {
            let h = replies[2 * i].fieldMap
            out.append(WorkerInfo(
                id: id, alive: replies[2 * i + 1].int == 1, capacity: Int(h["capacity"] ?? "") ?? 0,
                active: Int(h["active"] ?? "") ?? 0, draining: h["draining"] == "1",
                agents: (h["agents"] ?? "").split(separator: "\n").map(String.init),
                transports: (h["transports"] ?? "").split(separator: "\n").map(String.init),
                host: h["host"] ?? "", version: h["version"] ?? "", heartbeatMs: Int(h["heartbeat_ms"] ?? "") ?? 0,
                startedAt: Int64(h["started_at"] ?? "") ?? 0, lastHeartbeat: Int64(h["last_heartbeat"] ?? "") ?? 0))
        }
        return out
    }

    public func liveWorkers() async throws -> [WorkerInfo] { try await workers().filter(\.alive) }

    /// Entries of the dead-letter stream, newest first.
    public func deadLetters(limit: Int = 100) async throws -> [[String: String]] {
        let reply = try await client.send("XREVRANGE", keys.dead, "+", "-", "COUNT", String(limit))
        return (reply.array ?? []).compactMap { e in
            guard let p = e.array, p.count == 2 else { return nil }
            var f = p[1].fieldMap
            f["id"] = p[0].string
            return f
        }
    }
}
