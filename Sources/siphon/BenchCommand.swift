import ArgumentParser
import Foundation
import Logging
import SiphonCluster
import SiphonCore
import SiphonRedis
import Synchronization

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Siphon on this machine (figures, not pass/fail).",
        subcommands: [Enqueue.self, Claim.self, BenchMediaCommand.self, BenchSIPCommand.self, BenchCallsCommand.self, BenchWebRTCCommand.self, BenchProvidersCommand.self, BenchCapacityCommand.self])

    /// Bench data goes under its own prefix and is deleted afterwards.
    static func cleanup(_ client: RedisClient, prefix: String) async throws {
        var cursor = "0"
        repeat {
            let reply = try await client.send("SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "1000")
            guard let parts = reply.array, parts.count == 2 else { return }
            cursor = parts[0].string ?? "0"
            let keys = (parts[1].array ?? []).compactMap(\.string)
            if !keys.isEmpty { try await client.send(["UNLINK"] + keys) }
        } while cursor != "0"
    }

    struct Enqueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enqueue throughput: validated jobs written with their call records, per second.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Jobs to enqueue.") var count: Int = 50_000
        @Option(help: "Concurrent connections.") var connections: Int = 4
        @Option(help: "Jobs per pipelined batch.") var batch: Int = 128
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let env = try common.environment()
            let logger = common.bootstrapLogging(env, label: "siphon.bench")
            let client = RedisClient(RedisClient.Configuration(url: try common.redisURL(env), connections: connections), logger: logger)
            // Its own keys beside the deployment's (`<prefix>-bench`), deleted before and after.
            let prefix = common.prefix + "-bench"
            let queue = CallQueue(client: client, keys: ClusterKeys(prefix: prefix))
            try await BenchCommand.cleanup(client, prefix: prefix)
            try await queue.ensureGroup()
            try await client.load([])
            let to = try PhoneNumber("+15550100000")
            let next = Locked(0)
            let failures = Locked(0)
            let start = Timestamp.monotonicNs()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<connections {
                    group.addTask {
                        while true {
                            let range = next.withLock { n -> Range<Int> in
                                let lo = n
                                n = min(count, n + batch)
                                return lo..<n
                            }
                            if range.isEmpty { return }
                            let jobs = try range.map { _ in try CallJob(agent: "bench", to: to, transport: .sim, sim: SimSpec(turns: 0, intervalMs: 0)) }
                            let results = try await queue.enqueueBatch(jobs)
                            let failed = results.filter { if case .failure = $0 { return true } else { return false } }.count
                            if failed > 0 { failures.withLock { $0 += failed } }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Double(Timestamp.monotonicNs() - start) / 1e9
            let rate = Double(count) / seconds
            try await BenchCommand.cleanup(client, prefix: prefix)
            if json {
                printJSON(EnqueueResult(jobs: count, seconds: seconds, jobsPerS: rate.rounded(), failed: failures.withLock { $0 }))
            } else {
                print(String(format: "enqueued %d jobs in %.3f s: %.0f jobs/s (%d failed)", count, seconds, rate, failures.withLock { $0 }))
            }
        }

        struct EnqueueResult: Encodable {
            var jobs: Int
            var seconds: Double
            var jobsPerS: Double
            var failed: Int
            enum CodingKeys: String, CodingKey { case jobs, seconds, jobsPerS = "jobs_per_s", failed }
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Claim latency: from the enqueue call to a worker running the call (in-process worker, real Redis).")
        @OptionGroup var common: CommonOptions
        @Option(help: "Calls to measure.") var count: Int = 500
        @Option(help: "Milliseconds between enqueues (the worker is idle-blocked when each job arrives).") var gapMs: Int = 4
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let env = try common.environment()
            let url = try common.redisURL(env)
            let logger = common.bootstrapLogging(env, label: "siphon.bench")
            let client = RedisClient(RedisClient.Configuration(url: url, connections: 1), logger: logger)
            let prefix = common.prefix + "-bench-claim"
            let keys = ClusterKeys(prefix: prefix)
            try await BenchCommand.cleanup(client, prefix: prefix)
            let queue = CallQueue(client: client, keys: keys)
            try await queue.ensureGroup()
            let clock = ClaimClock()
            let worker = Worker(configuration: try WorkerConfiguration(id: "bench-worker", capacity: 64, keys: keys),
                                redis: url, runners: [.sim: clock], logger: logger)
            let to = try PhoneNumber("+15550100000")
            let samples: [Double] = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                // Let the worker register and block in XREADGROUP.
                try await Task.sleep(for: .milliseconds(300))
                for _ in 0..<count {
                    let job = try CallJob(agent: "bench", to: to, transport: .sim, sim: SimSpec(turns: 0, intervalMs: 0))
                    clock.enqueued(job.id)
                    _ = try await queue.enqueueUnchecked(job)
                    try await Task.sleep(for: .milliseconds(gapMs))
                }
                while clock.measured < count { try await Task.sleep(for: .milliseconds(10)) }
                worker.drain()
                try await group.waitForAll()
                return clock.latenciesMs()
            }
            try await BenchCommand.cleanup(client, prefix: prefix)
            let sorted = samples.sorted()
            func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let result = ClaimResult(calls: sorted.count, p50Ms: pct(0.50), p90Ms: pct(0.90), p99Ms: pct(0.99), maxMs: sorted.last ?? 0)
            if json {
                printJSON(result)
            } else {
                print(String(format: "claim latency over %d calls: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms",
                             result.calls, result.p50Ms, result.p90Ms, result.p99Ms, result.maxMs))
            }
        }

        struct ClaimResult: Encodable {
            var calls: Int
            var p50Ms: Double
            var p90Ms: Double
            var p99Ms: Double
            var maxMs: Double
            enum CodingKeys: String, CodingKey { case calls, p50Ms = "p50_ms", p90Ms = "p90_ms", p99Ms = "p99_ms", maxMs = "max_ms" }
        }
    }
}

/// A runner that only notes when each call started running on the worker.
final class ClaimClock: CallRunner, Sendable {
    private let state = Mutex<(sent: [String: UInt64], latencies: [Double])>(([:], []))

    func enqueued(_ id: String) { state.withLock { $0.sent[id] = Timestamp.monotonicNs() } }
    var measured: Int { state.withLock { $0.latencies.count } }
    func latenciesMs() -> [Double] { state.withLock { $0.latencies } }

    func run(_ call: CallContext) async throws -> CallEnd {
        let now = Timestamp.monotonicNs()
        state.withLock { s in
            if let t0 = s.sent.removeValue(forKey: call.lease.callID) { s.latencies.append(Double(now - t0) / 1e6) }
        }
        return CallEnd(.ended, "bench")
    }
}

/// A mutex-protected value that closures can share (a `Mutex` itself cannot be captured).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
