import Foundation
import Testing
@testable import SiphonCluster
import SiphonCore
import SiphonRedis

/// The cluster against a real redis-server and real `siphon` worker/supervisor processes.
/// Timing is never asserted: tests wait for states.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClusterTests {
    @Test func enqueueClaimTurnsEnded() async throws {
        let h = try ClusterHarness()
        try h.worker("w1")
        try h.supervisor()
        try await h.waitForWorkers(1)
        let ids = try await h.enqueueSim(3, turns: 5, intervalMs: 20)
        try await h.waitAllTerminal(ids)
        for id in ids {
            let record = try #require(try await h.store.call(id))
            #expect(record.status == .ended)
            #expect(record.worker == "w1" && record.epoch == 1 && record.attempts == 1)
            let turns = try await h.assertContiguous(id, expected: 5)
            #expect(turns.map(\.role) == [.user, .agent, .user, .agent, .user])
            let events = try await h.store.events(id).map(\.type)
            #expect(events == ["queued", "claimed", "dialing", "ringing", "answered", "ended"])
        }
        // The job was acknowledged: nothing pending.
        let pending = try await h.client.send("XPENDING", h.keys.calls, ClusterKeys.group)
        #expect(pending.array?.first?.int == 0)
    }

    /// Inbound calls a worker answered itself are never queued: the list reads them from their own
    /// index and merges it with the queued calls, newest first, across pages.
    @Test func theListHasInboundAndQueuedCallsNewestFirst() async throws {
        let h = try ClusterHarness()
        try await h.queue.ensureGroup()
        var expected: [String] = []
        for n in 0..<5 {
            if n % 2 == 0 {
                expected.append(try await h.queue.enqueue(h.simJob(turns: 1, intervalMs: 20)).id)
            } else {
                let job = try CallJob(agent: "Sim", to: PhoneNumber("+15550200123"), transport: .sip, direction: .inbound)
                _ = try await h.client.eval(WorkerScripts.registerInbound, args: [
                    h.keys.prefix, "w1", job.id, job.json(), String(Timestamp.nowMs()), "5000", "inbound from a test",
                ])
                expected.append(job.id)
            }
            try await Task.sleep(for: .milliseconds(2))  // distinct entry times
        }
        #expect(try await h.store.list().map(\.id) == expected.reversed())
        #expect(try await h.store.list(limit: 2).map(\.id) == Array(expected.reversed().prefix(2)))
        #expect(try await h.store.list(status: .claimed).map(\.id) == [expected[3], expected[1]])
    }

    @Test func capacityIsNeverExceededUnderABurst() async throws {
        let h = try ClusterHarness()
        try h.worker("wa", capacity: 3)
        try h.worker("wb", capacity: 3)
        try h.supervisor()
        try await h.waitForWorkers(2)
        let ids = try await h.enqueueSim(30, turns: 3, intervalMs: 30)
        var maxSeen = 0
        try await eventually(60, "burst done") {
            for w in ["wa", "wb"] {
                maxSeen = max(maxSeen, Int(try await h.client.send("SCARD", h.keys.workerCalls(w)).int ?? 0))
            }
            for id in ids where !(try await h.status(id)?.isTerminal ?? false) { return false }
            return true
        }
        #expect(maxSeen <= 3)
        for w in ["wa", "wb"] {
            // The worker's own high-water mark of concurrently running calls.
            let high = Int(try await h.client.send("HGET", h.keys.worker(w), "max_active").string ?? "") ?? -1
            #expect(high >= 1 && high <= 3, "worker \(w) ran \(high) calls at once")
        }
        for id in ids { #expect(try await h.status(id) == .ended) }
    }

    @Test func idempotencyKeyReturnsTheFirstCall() async throws {
        let h = try ClusterHarness()
        try await h.queue.ensureGroup()
        let job = try h.simJob(turns: 1, intervalMs: 0, key: "order-42")
        let results = try await withThrowingTaskGroup(of: CallQueue.Enqueued.self) { group in
            for _ in 0..<20 { group.addTask { try await h.queue.enqueue(job) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results.map(\.id)).count == 1)
        #expect(results.filter(\.created).count == 1)
        #expect(try await h.client.send("XLEN", h.keys.calls).int == 1)
        let other = try await h.queue.enqueue(h.simJob(turns: 1, intervalMs: 0, key: "order-43"))
        #expect(other.created && other.id != results[0].id)
    }

    @Test func malformedJobsAreDeadLetteredAndTheWorkerCarriesOn() async throws {
        let h = try ClusterHarness()
        try await h.queue.ensureGroup()
        let worker = try h.worker("w1")
        try await h.waitForWorkers(1)
        let bad = [
            ["job", "{not json"],
            ["job", #"{"agent":"A","to":"+15550200123","transport":"sim","sip_password":"hunter2"}"#],
            ["job", #"{"agent":"A","to":"12345","transport":"sim"}"#],
            ["something", "else"],
            ["job", #"{"agent":"A","to":"+15550200123","transport":"sip"}"#],
        ]
        for fields in bad { try await h.client.send(["XADD", h.keys.calls, "*"] + fields) }
        try await h.client.send("XADD", h.keys.calls, "*", "job", #"{"agent":"A","to":"+15550200123","transport":"sim","sim":{"turns":2,"interval_ms":5}}"#)
        try await eventually(20, "dead letters") { try await h.client.send("XLEN", h.keys.dead).int == 5 }
        let dead = try await h.queue.deadLetters()
        let reasons = dead.map { $0["reason"] ?? "" }.joined(separator: "\n")
        for expected in ["not valid JSON", "unknown key 'sip_password'", "must start with '+'", "no 'job' field", "no live worker serves agent 'A' over sip"] {
            #expect(reasons.contains(expected), "missing reason: \(expected)")
        }
        let raw = dead.map { $0["job"] ?? "" }.joined()
        #expect(!raw.contains("hunter2"))
        // The good job, XADDed by hand after the bad ones, still runs to the end.
        try await eventually(20, "hand-added job ended") {
            try await h.store.list(status: .ended).count == 1
        }
        #expect(worker.isRunning)
        let pending = try await h.client.send("XPENDING", h.keys.calls, ClusterKeys.group)
        #expect(pending.array?.first?.int == 0)
    }

    /// Delivery is at least once: a supervisor reroutes an entry of a worker it thinks dead while
    /// that worker, only slow, is dead-lettering it. The job is dead-lettered once, not twice.
    @Test func aJobDeliveredTwiceIsDeadLetteredOnce() async throws {
        let h = try ClusterHarness()
        try await h.queue.ensureGroup()
        let entry = try #require(try await h.client.send("XADD", h.keys.calls, "*", "job", "{not json").string)
        _ = try await h.client.send("XREADGROUP", "GROUP", ClusterKeys.group, "w1", "COUNT", "1", "STREAMS", h.keys.calls, ">")
        func deadLetter(by worker: String) async throws -> Int64? {
            try await h.client.eval(WorkerScripts.deadLetter, args: [h.keys.prefix, entry, "", "not valid JSON", "{not json", worker, "1"]).int
        }
        #expect(try await deadLetter(by: "w1") == 1)
        _ = try await h.client.send("XCLAIM", h.keys.calls, ClusterKeys.group, "w2", "0", entry, "JUSTID")  // the reroute
        #expect(try await deadLetter(by: "w2") == 0)
        #expect(try await h.client.send("XLEN", h.keys.dead).int == 1)
        #expect(try await h.client.send("XPENDING", h.keys.calls, ClusterKeys.group).array?.first?.int == 0)
    }

    @Test func unknownAgentIsRefusedAtEnqueue() async throws {
        let h = try ClusterHarness()
        try h.worker("w1")
        try await h.waitForWorkers(1)
        let job = try CallJob(agent: "Nobody", to: PhoneNumber("+15550200123"), transport: .sip)
        let refused = try #require(await #expect(throws: SiphonError.self) { try await h.queue.enqueue(job) })
        #expect(refused.code == .notFound && refused.message.hasPrefix("no live worker serves agent 'Nobody' over sip"), "\(refused)")
        // Nothing was queued for it.
        #expect(try await h.client.send("XLEN", h.keys.calls).int ?? -1 == 0)
    }

    @Test func killedWorkersCallsResumeElsewhereWithContiguousTurns() async throws {
        let h = try ClusterHarness()
        let a = try h.worker("wa")
        try h.worker("wb")
        try h.supervisor()
        try await h.waitForWorkers(2)
        let ids = try await h.enqueueSim(8, turns: 30, intervalMs: 40)
        try await eventually(20, "both workers busy and turns flowing") {
            let wa = try await h.client.send("SCARD", h.keys.workerCalls("wa")).int ?? 0
            let wb = try await h.client.send("SCARD", h.keys.workerCalls("wb")).int ?? 0
            let progressed = try await h.store.call(ids[0])?.lastSeq ?? 0
            return wa > 0 && wb > 0 && progressed >= 3
        }
        let victims = try await h.client.send("SMEMBERS", h.keys.workerCalls("wa")).array?.compactMap(\.string) ?? []
        a.signal(SIGKILL)
        try await h.waitAllTerminal(ids)
        for id in ids {
            #expect(try await h.status(id) == .ended)
            let turns = try await h.assertContiguous(id, expected: 30)
            #expect(zip(turns, turns.dropFirst()).allSatisfy { $0.epoch <= $1.epoch })
        }
        for id in victims {
            let events = try await h.store.events(id).map(\.type)
            for t in ["worker_lost", "reassigned", "resumed", "ended"] { #expect(events.contains(t), "\(id): \(events)") }
            let record = try #require(try await h.store.call(id))
            #expect(record.worker == "wb" && record.epoch == 2 && record.attempts == 2)
        }
    }

    @Test func aFrozenWorkerIsFencedWhenItWakesUp() async throws {
        let h = try ClusterHarness()
        let a = try h.worker("wa")
        try h.supervisor()
        try await h.waitForWorkers(1)
        let ids = try await h.enqueueSim(2, turns: 40, intervalMs: 40)
        try await eventually(20, "calls running on wa") {
            try await h.store.call(ids[0])?.lastSeq ?? 0 >= 2
        }
        try h.worker("wb")
        try await h.waitForWorkers(2)
        a.signal(SIGSTOP)
        try await eventually(20, "calls reassigned to wb") {
            for id in ids where try await h.store.call(id)?.worker != "wb" { return false }
            return true
        }
        a.signal(SIGCONT)
        // On waking, wa silences the calls whose leases it could not renew and learns from its
        // first heartbeat that they are wb's now (or, if a write came first, it is refused: fenced).
        try await eventually(20, "wa fenced off") { a.output.contains("belongs to another worker now") || a.output.contains("fenced") }
        try await eventually(20, "wa reports no calls") {
            try await h.client.send("HGET", h.keys.worker("wa"), "active").string == "0"
        }
        try await h.waitAllTerminal(ids)
        for id in ids {
            let turns = try await h.assertContiguous(id, expected: 40)
            let reassignedAt = try await h.store.events(id).first { $0.type == "reassigned" }?.at ?? .max
            // No turn of the old epoch was written after the reassignment.
            #expect(!turns.contains { $0.epoch == 1 && $0.at > reassignedAt })
            #expect(try await h.status(id) == .ended)
        }
    }

    /// A Redis restart (AOF) during calls: every call ends with its turns contiguous, and no live
    /// worker is declared dead, no lease expired, no call reassigned — the supervisor's grace holds
    /// from when it reaches Redis again, for every path that orphans calls. Calls whose leases
    /// lapsed meanwhile were silenced by their own worker and resumed by it.
    @Test(arguments: [1.0, 3.0, 10.0])
    func redisRestartDuringCallsReassignsNothing(downFor seconds: Double) async throws {
        let h = try ClusterHarness()
        try h.worker("wa")
        try h.worker("wb")
        try h.supervisor()
        try await h.waitForWorkers(2)
        let ids = try await h.enqueueSim(6, turns: 60, intervalMs: 100)
        try await eventually(20, "turns flowing on both workers") {
            let wa = try await h.client.send("SCARD", h.keys.workerCalls("wa")).int ?? 0
            let wb = try await h.client.send("SCARD", h.keys.workerCalls("wb")).int ?? 0
            let progressed = try await h.store.call(ids[0])?.lastSeq ?? 0
            return wa > 0 && wb > 0 && progressed >= 3
        }
        try h.redis.restart(downFor: seconds)
        try await h.waitAllTerminal(ids, seconds: 120)
        for id in ids {
            #expect(try await h.status(id) == .ended)
            _ = try await h.assertContiguous(id, expected: 60)
            let events = try await h.store.events(id)
            let wrong = events.filter { ["worker_lost", "reassigned", "lease_expired"].contains($0.type) }
            #expect(wrong.isEmpty, "\(id): \(events.map { "\($0.type) \($0.detail)" })")
            #expect(events.filter { $0.type == "claimed" }.count == 1)
        }
        let supervisor = try #require(h.processes.first { $0.name == "sup" })
        #expect(!supervisor.output.contains("worker lost"), "\(supervisor.output.suffix(2000))")
    }

    @Test func gracefulDrainHandsCallsOff() async throws {
        let h = try ClusterHarness()
        let a = try h.worker("wa", extra: ["--no-sip", "--drain-timeout", "0.3"])
        try h.supervisor()
        try await h.waitForWorkers(1)
        let ids = try await h.enqueueSim(3, turns: 40, intervalMs: 40)
        try await eventually(20, "calls running") { try await h.store.call(ids[2])?.lastSeq ?? 0 >= 1 }
        try h.worker("wb")
        try await h.waitForWorkers(2)
        a.signal(SIGTERM)
        #expect(a.wait(seconds: 20) == 0)
        try await h.waitAllTerminal(ids)
        for id in ids {
            let events = try await h.store.events(id).map(\.type)
            #expect(events.contains("handed_off") && events.contains("resumed"), "\(events)")
            #expect(try await h.store.call(id)?.worker == "wb")
            _ = try await h.assertContiguous(id, expected: 40)
        }
        #expect(try await h.queue.workers().map(\.id) == ["wb"])  // wa deregistered itself
    }

    @Test func drainLetsShortCallsFinish() async throws {
        let h = try ClusterHarness()
        let a = try h.worker("wa", extra: ["--no-sip", "--drain-timeout", "30"])
        try await h.waitForWorkers(1)
        let ids = try await h.enqueueSim(2, turns: 6, intervalMs: 50)
        try await eventually(20, "calls running") { try await h.store.call(ids[1])?.lastSeq ?? 0 >= 1 }
        a.signal(SIGTERM)
        #expect(a.wait(seconds: 20) == 0)
        for id in ids {
            #expect(try await h.status(id) == .ended)
            #expect(!(try await h.store.events(id).map(\.type).contains("handed_off")))
        }
    }

    @Test func maxAttemptsDeadLettersACallThatKeepsLosingWorkers() async throws {
        let h = try ClusterHarness()
        let a = try h.worker("wa")
        try h.supervisor()
        try await h.waitForWorkers(1)
        try await h.queue.ensureGroup()
        let id = try await h.queue.enqueue(h.simJob(turns: 50, intervalMs: 40, maxAttempts: 1)).id
        try await eventually(20, "call running") { try await h.store.call(id)?.lastSeq ?? 0 >= 1 }
        try h.worker("wb")
        try await h.waitForWorkers(2)
        a.signal(SIGKILL)
        try await eventually(20, "call failed") { try await h.status(id) == .failed }
        #expect(try await h.store.call(id)?.reason?.contains("max_attempts") == true)
        let dead = try await h.queue.deadLetters()
        #expect(dead.contains { $0["call"] == id })
    }

    @Test func cancelQueuedAndRunningCalls() async throws {
        let h = try ClusterHarness()
        try await h.queue.ensureGroup()
        let queued = try await h.queue.enqueue(h.simJob(turns: 50, intervalMs: 40)).id
        #expect(try await h.queue.cancel(queued) == .canceled)
        try h.worker("wa")
        try await h.waitForWorkers(1)
        let running = try await h.queue.enqueue(h.simJob(turns: 100, intervalMs: 40)).id
        try await eventually(20, "running") { try await h.store.call(running)?.lastSeq ?? 0 >= 1 }
        #expect(try await h.queue.cancel(running) == .requested(worker: "wa"))
        try await eventually(20, "canceled") { try await h.status(running) == .canceled }
        #expect(try await h.status(queued) == .canceled)
        #expect(try await h.store.turns(queued).isEmpty)  // the worker never ran it
        #expect(try await h.queue.cancel(running) == .alreadyEnded(.canceled))
        #expect(try await h.queue.cancel("call-nope") == .notFound)
    }

    @Test func aStandbySupervisorTakesOver() async throws {
        let h = try ClusterHarness()
        let s1 = try h.supervisor("sup-1")
        try await eventually(10, "a leader") { try await h.client.send("GET", h.keys.leader).string == "sup-1" }
        try h.supervisor("sup-2")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await h.client.send("GET", h.keys.leader).string == "sup-1")
        s1.signal(SIGKILL)
        try await eventually(10, "standby leads") { try await h.client.send("GET", h.keys.leader).string == "sup-2" }
        // …and does the work: a killed worker's call is resumed. Two slots each, so the four calls
        // are split (with ten, one worker could take all four and "wa busy" never come).
        let a = try h.worker("wa", capacity: 2)
        try h.worker("wb", capacity: 2)
        try await h.waitForWorkers(2)
        let ids = try await h.enqueueSim(4, turns: 20, intervalMs: 40)
        try await eventually(20, "wa busy") { try await h.client.send("SCARD", h.keys.workerCalls("wa")).int ?? 0 > 0 }
        a.signal(SIGKILL)
        try await h.waitAllTerminal(ids)
        for id in ids { _ = try await h.assertContiguous(id, expected: 20) }
    }
}
