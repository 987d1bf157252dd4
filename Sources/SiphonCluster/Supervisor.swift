import Foundation
import Logging
import ServiceLifecycle
import SiphonCore
import SiphonRedis

public struct SupervisorConfiguration: Sendable {
    public var id: String
    /// How often the leader looks for dead workers and orphaned calls.
    public var tickMs: Int
    /// How often it looks for calls whose lease expired on a live worker.
    public var leaseScanMs: Int
    /// The leader lease; a standby takes over this long after the leader dies.
    public var leaderTTLms: Int
    /// After Redis comes back from an outage, liveness keys and leases say nothing for a while
    /// (workers could not heartbeat, and reconnect with up to a second of backoff): wait this long,
    /// from the moment this supervisor reaches Redis again, before declaring anyone dead or any
    /// lease expired.
    public var outageGraceMs: Int
    public var keys: ClusterKeys

    public init(id: String = "s-\(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "host")-\(getpid())",
                tickMs: Int = 100, leaseScanMs: Int = 1000, leaderTTLms: Int = 2000, outageGraceMs: Int = 3000,
                keys: ClusterKeys = ClusterKeys()) {
        (self.id, self.tickMs, self.leaseScanMs, self.leaderTTLms, self.outageGraceMs, self.keys) =
            (id, tickMs, leaseScanMs, leaderTTLms, outageGraceMs, keys)
    }
}

/// Finds dead workers and reassigns their calls to the least-loaded live worker; dead-letters calls
/// past `max_attempts`. Several supervisors may run: one leads through a Redis lease.
public final class Supervisor: Service, Sendable {
    public let configuration: SupervisorConfiguration
    let client: RedisClient
    let queue: CallQueue
    let logger: Logger

    public init(configuration: SupervisorConfiguration, redis: RedisURL, logger: Logger = Logger(label: "siphon.supervisor")) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "supervisor.id"] = "\(configuration.id)"
        self.logger = logger
        self.client = RedisClient(RedisClient.Configuration(url: redis, connections: 1), logger: logger)
        self.queue = CallQueue(client: client, keys: configuration.keys)
    }

    var keys: ClusterKeys { configuration.keys }

    public func run() async throws {
        try await client.load(ClusterScripts.all)
        try await queue.ensureGroup()
        logger.info("supervisor started")
        await cancelWhenGracefulShutdown { await self.loop() }
        logger.info("supervisor stopped")
    }

    private func loop() async {
        var leading = false
        var lastLeaseScan: UInt64 = 0
        var lastQueueReport: UInt64 = 0
        let grace = UInt64(configuration.outageGraceMs) * 1_000_000
        // A Redis that restarted just before this supervisor did: the same grace, from its restart.
        var graceUntil = await redisRestartGrace()
        var inOutage = false
        while !Task.isCancelled {
            do {
                let sent = Timestamp.monotonicNs()
                let lead = try await client.eval(SupervisorScripts.lead, args: [
                    keys.prefix, configuration.id, String(configuration.leaderTTLms),
                ]).int == 1
                // Time is read after Redis answered: the call may have waited seconds for a
                // reconnect, and a grace counted from before it would already be over.
                let now = Timestamp.monotonicNs()
                if lead != leading {
                    logger.info(lead ? "leading" : "standing by")
                    leading = lead
                }
                // A command that hung (a Redis frozen, or reconnecting inside the client) is an
                // outage too, even though it ended without an error.
                if !inOutage, now - sent > grace / 2 {
                    logger.warning("redis answered after a stall", metadata: ["stall_ms": "\((now - sent) / 1_000_000)"])
                    inOutage = true
                }
                if inOutage {
                    inOutage = false
                    graceUntil = now + grace
                    logger.info("redis is back; waiting before judging worker liveness and leases",
                                metadata: ["grace_ms": "\(configuration.outageGraceMs)"])
                }
                if leading, now >= graceUntil {
                    try await reapDeadWorkers()
                    if now - lastLeaseScan >= UInt64(configuration.leaseScanMs) * 1_000_000 {
                        lastLeaseScan = now
                        try await expireLeases()
                    }
                    try await assignOrphans()
                    if now - lastQueueReport >= 1_000_000_000 {
                        lastQueueReport = now
                        try await reportQueue()
                    }
                }
            } catch let e as RedisError where e.isConnectivity {
                if !inOutage { logger.warning("redis unavailable", metadata: ["error": "\(e.message)"]) }
                inOutage = true
            } catch {
                logger.error("supervisor tick failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(configuration.tickMs))
        }
    }

    /// When Redis itself restarted less than the grace ago (its `uptime_in_seconds`), the end of
    /// that grace; else 0.
    private func redisRestartGrace() async -> UInt64 {
        guard let info = try? await client.send("INFO", "server").string,
              let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("uptime_in_seconds:") }),
              let uptime = Int(line.dropFirst("uptime_in_seconds:".count).trimmingCharacters(in: .whitespaces)) else { return 0 }
        let remainingMs = configuration.outageGraceMs - uptime * 1000
        return remainingMs > 0 ? Timestamp.monotonicNs() + UInt64(remainingMs) * 1_000_000 : 0
    }

    /// One pass, for tests and `siphon supervisor --once`.
    public func tick() async throws {
        try await reapDeadWorkers()
        try await expireLeases()
        try await assignOrphans()
    }

    private func reapDeadWorkers() async throws {
        let dead = (try await client.eval(SupervisorScripts.findDead, args: [keys.prefix]).array ?? []).compactMap(\.string)
        for worker in dead {
            let reply = try await client.eval(SupervisorScripts.orphanWorker, args: [keys.prefix, worker, String(Timestamp.nowMs())])
            let parts = reply.array ?? []
            let orphanedEntries = Set((parts.first?.array ?? []).compactMap(\.string))
            let pending = (parts.count > 1 ? parts[1].array ?? [] : []).compactMap(\.string)
            ClusterMetrics.workerLost()
            if !orphanedEntries.isEmpty {
                logger.warning("worker lost", metadata: ["worker.id": "\(worker)", "calls": "\(orphanedEntries.count)"])
            }
            for entry in pending where !orphanedEntries.contains(entry) {
                try await reroute(strayEntry: entry, from: worker)
            }
        }
    }

    /// An entry delivered to a dead worker that never claimed it: hand it to a live worker (which
    /// claims or dead-letters it). Entries of calls awaiting reassignment are left to `assign`.
    private func reroute(strayEntry entry: String, from worker: String) async throws {
        let reply = try await client.send("XRANGE", keys.calls, entry, entry)
        guard let fields = Worker.entries(reply).first?.fields, let raw = fields["job"] else {
            try await client.send("XACK", keys.calls, ClusterKeys.group, entry)
            return
        }
        let job = try? CallJob.parse(raw, defaultID: "call-\(entry)")
        if let job {
            let h = try await client.send("HMGET", keys.call(job.id), "entry", "status").array ?? []
            if h.count == 2, h[0].string == entry, let status = h[1].string, status != CallStatus.queued.rawValue {
                return  // claimed once: the orphan path owns it
            }
        }
        let target = try await client.eval(WorkerScripts.route, args: [
            keys.prefix, entry, job?.agent ?? "", job?.transport.rawValue ?? "*", "",
        ])
        if let t = target.string {
            logger.info("unclaimed job of a dead worker rerouted", metadata: ["stream.entry": "\(entry)", "worker.from": "\(worker)", "worker.target": "\(t)"])
        }
    }

    /// Queue depth (entries not yet delivered to a worker), the oldest one's wait, live workers.
    private func reportQueue() async throws {
        let groups = try await client.send("XINFO", "GROUPS", keys.calls).array ?? []
        var depth = 0
        var lastDelivered = "0-0"
        for g in groups {
            let kv = g.array ?? []
            var fields: [String: RedisReply] = [:]
            for i in stride(from: 0, to: kv.count - 1, by: 2) { if let k = kv[i].string { fields[k] = kv[i + 1] } }
            guard fields["name"]?.string == ClusterKeys.group else { continue }
            depth = Int(fields["lag"]?.int ?? 0)  // Redis 7: entries not yet delivered to the group
            lastDelivered = fields["last-delivered-id"]?.string ?? "0-0"
        }
        var oldestAgeMs: Int64 = 0
        if depth > 0 {
            let next = try await client.send("XRANGE", keys.calls, "(" + lastDelivered, "+", "COUNT", "1")
            if let id = Worker.entries(next).first?.id, let ms = id.split(separator: "-").first.flatMap({ Int64($0) }) {
                oldestAgeMs = max(0, Timestamp.nowMs() - ms)
            }
        }
        let live = try await CallQueue(client: client, keys: keys).liveWorkers().count
        ClusterMetrics.queue(depth: depth, oldestAgeMs: oldestAgeMs, liveWorkers: live)
    }

    private func expireLeases() async throws {
        let ids = (try await client.eval(SupervisorScripts.expireLeases, args: [keys.prefix, String(Timestamp.nowMs())]).array ?? [])
            .compactMap(\.string)
        for id in ids { logger.warning("call lease expired on a live worker", metadata: ["call.id": "\(id)"]) }
    }

    private func assignOrphans() async throws {
        let ids = (try await client.send("SMEMBERS", keys.orphans).array ?? []).compactMap(\.string)
        for id in ids {
            let reply = try await client.eval(SupervisorScripts.assign, args: [
                keys.prefix, id, String(Timestamp.nowMs()),
            ])
            let parts = (reply.array ?? []).map { $0.string ?? "" }
            switch parts.first {
            case "assigned":
                ClusterMetrics.reassigned()
                logger.info("call reassigned", metadata: ["call.id": "\(id)", "worker.target": "\(parts[1])", "call.epoch": "\(parts[2])"])
            case "dead":
                ClusterMetrics.deadLettered()
                logger.error("call dead-lettered: max_attempts exhausted", metadata: ["call.id": "\(id)"])
            default:
                break
            }
        }
    }
}
