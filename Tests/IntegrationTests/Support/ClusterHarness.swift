import Foundation
import Logging
import SiphonCluster
import SiphonCore
import SiphonRedis

/// A redis-server plus handles to talk to it as the dispatcher would, and helpers to start
/// worker and supervisor processes against it.
final class ClusterHarness: @unchecked Sendable {
    let redis: RedisServer
    let client: RedisClient
    let keys = ClusterKeys()
    let queue: CallQueue
    let store: SessionStore
    private(set) var processes: [SiphonProcess] = []

    init(password: String? = nil) throws {
        redis = try RedisServer(password: password)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        client = RedisClient(RedisClient.Configuration(url: redis.url, connections: 2, reconnectWindowMs: 15_000), logger: logger)
        queue = CallQueue(client: client, keys: keys)
        store = SessionStore(client: client, keys: keys)
    }

    /// A worker without SIP (simulated calls only), so several can share the host.
    @discardableResult
    func worker(_ id: String, capacity: Int = 10, heartbeatMs: Int = 100, extra: [String] = ["--no-sip"],
                environment: [String: String] = [:]) throws -> SiphonProcess {
        let p = try SiphonProcess(["worker", "--id", id, "--capacity", String(capacity), "--heartbeat-ms", String(heartbeatMs), "--metrics-port", "0"] + extra,
                                  redis: redis.urlString, environment: environment, name: id)
        processes.append(p)
        return p
    }

    /// A worker with SIP on loopback (free port) serving the built-in offline receptionist.
    @discardableResult
    func sipWorker(_ id: String, capacity: Int = 4, heartbeatMs: Int = 100, extra: [String] = [], environment: [String: String] = [:]) throws -> SiphonProcess {
        try worker(id, capacity: capacity, heartbeatMs: heartbeatMs,
                   extra: ["--sip-port", "0", "--bind", "127.0.0.1", "--sip-host", "127.0.0.1", "--rtp-ports", "40000-49999"] + extra,
                   environment: environment)
    }

    @discardableResult
    func supervisor(_ id: String = "sup") throws -> SiphonProcess {
        let p = try SiphonProcess(["supervisor", "--id", id, "--tick-ms", "50", "--metrics-port", "0"], redis: redis.urlString, name: id)
        processes.append(p)
        return p
    }

    func waitForWorkers(_ n: Int) async throws {
        try await eventually(20, "\(n) live workers") { try await self.queue.liveWorkers().count >= n }
    }

    func simJob(turns: Int, intervalMs: Int, agent: String = "Sim", maxAttempts: Int = 3, key: String? = nil) throws -> CallJob {
        try CallJob(agent: agent, to: PhoneNumber("+15550200123"), transport: .sim, sim: SimSpec(turns: turns, intervalMs: intervalMs),
                    idempotencyKey: key, maxAttempts: maxAttempts)
    }

    func enqueueSim(_ count: Int, turns: Int, intervalMs: Int) async throws -> [String] {
        try await queue.ensureGroup()
        var ids: [String] = []
        for _ in 0..<count { ids.append(try await queue.enqueue(simJob(turns: turns, intervalMs: intervalMs)).id) }
        return ids
    }

    func status(_ id: String) async throws -> CallStatus? { try await store.call(id)?.status }

    func waitAllTerminal(_ ids: [String], seconds: Double = 60) async throws {
        try await eventually(seconds, "all calls terminal") {
            for id in ids where !(try await self.status(id)?.isTerminal ?? false) { return false }
            return true
        }
    }

    /// Turns must be exactly 1…n, each once, in order.
    func assertContiguous(_ id: String, expected n: Int) async throws -> [Turn] {
        let turns = try await store.turns(id)
        let seqs = turns.map(\.seq)
        guard seqs == Array(1...max(n, 1)).prefix(n).map({ $0 }) else {
            throw HarnessError("call \(id): turns \(seqs), expected 1…\(n)")
        }
        return turns
    }
}
