import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SiphonAudio
import SiphonCluster
import SiphonCore

/// A worker cut off from Redis while the rest of the cluster still reaches it (its only path to
/// Redis frozen: sockets open, nothing answers) must fall silent before anyone can take its call
/// over, send no BYE, and resume the call only if Redis still says it owns it at the same epoch.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct PartitionTests {
    /// The partitioned worker's /healthz figures (its HTTP still answers: only Redis is cut off).
    static func health(_ port: Int) async throws -> [String: Int] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        return ((try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
    }

    static func sipJob(to port: Int) throws -> CallJob {
        try CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550200123"), from: PhoneNumber("+15550100000"), transport: .sip,
                    trunk: TrunkSpec(address: "127.0.0.1:\(port)"))
    }

    /// Split brain, prevented: A is partitioned mid-call; the supervisor gives the call to B, whose
    /// re-INVITE brings its media to PJSIP. A sends not one RTP packet once it has fallen silent,
    /// and falls silent before the call is reassigned; when the partition heals A learns it is
    /// fenced and drops the call without a BYE.
    @Test func aPartitionedWorkerFallsSilentAndNeverSpeaksOverItsSuccessor() async throws {
        let h = try ClusterHarness()
        let proxy = try await FreezeProxy(target: h.redis.port)
        let metrics = LoopbackPort.free()
        let a = try SiphonProcess(["worker", "--id", "wa", "--capacity", "4", "--heartbeat-ms", "100", "--metrics-port", String(metrics),
                                   "--sip-port", "0", "--bind", "127.0.0.1", "--sip-host", "127.0.0.1", "--rtp-ports", "40000-44999"],
                                  redis: "redis://127.0.0.1:\(proxy.port)/0", name: "wa")
        try h.supervisor()
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "I would like to book a cleaning"), (19.5, "Tuesday please"),
                                                 (29.0, "In the morning"), (39.0, "No that is all thank you")], total: 55)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 80)
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(Self.sipJob(to: pjsip.port)).id
        try await eventually(30, "A's call answered") { try await h.status(id) == .active }
        try h.sipWorker("wb")
        try await h.waitForWorkers(2)
        try await eventually(30, "the agent's greeting") { try await h.store.turns(id).count >= 1 }
        let sending = try await Self.health(metrics)["rtp_packets_sent"] ?? 0
        #expect(sending > 0)

        try await proxy.freeze()
        try await eventually(20, "A silences the call") { a.output.contains("call silenced") }
        let silentAt = try await Self.health(metrics)["rtp_packets_sent"] ?? -1
        try await eventually(30, "the call reassigned to B") { try await h.store.call(id)?.worker == "wb" }
        try await eventually(30, "B's media negotiated with PJSIP") {
            pjsip.events.filter { $0["event"] as? String == "media" }.count >= 2
        }
        try await Task.sleep(for: .seconds(2))  // B talks; A must stay silent all along
        #expect(try await Self.health(metrics)["rtp_packets_sent"] == silentAt, "A sent RTP after it fell silent")

        try await proxy.thaw()
        do {
            try await eventually(30, "A learns the call is B's") { a.output.contains("belongs to another worker now") }
        } catch {
            Issue.record("A's log after the partition: \(a.output.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            throw error
        }
        #expect(try await Self.health(metrics)["rtp_packets_sent"] == silentAt, "A sent RTP after the partition healed")
        try await h.waitAllTerminal([id], seconds: 80)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended && record.worker == "wb", "\(record.reason ?? "")")
        _ = try await h.assertContiguous(id, expected: try await h.store.turns(id).count)
        // A fell silent before the supervisor could take the call (its own clock, the same host's).
        let events = try await h.store.events(id)
        let reassigned = try #require(events.first { $0.type == "reassigned" })
        let silencedLine = try #require(a.output.split(separator: "\n").first { $0.contains("call silenced") })
        let silencedAt = try #require(Self.logTime(String(silencedLine)))
        #expect(silencedAt < Double(reassigned.at) / 1000, "silenced \(silencedAt), reassigned \(reassigned.at)")
        try await pjsip.waitExit()
        // One disconnect: B's BYE at the end. A never sent one.
        #expect(pjsip.events.filter { $0["event"] as? String == "disconnected" }.count == 1)
    }

    /// Redis comes back before any takeover (no supervisor runs): A fell silent, then finds the
    /// call still its own at the same epoch and resumes it — a re-INVITE from A, the history
    /// re-injected, one `resumed` event that says why, and the conversation completes.
    @Test func aWorkerResumesItsCallWhenRedisComesBackBeforeAnyTakeover() async throws {
        let h = try ClusterHarness()
        let proxy = try await FreezeProxy(target: h.redis.port)
        let a = try SiphonProcess(["worker", "--id", "wa", "--capacity", "4", "--heartbeat-ms", "100", "--metrics-port", "0",
                                   "--sip-port", "0", "--bind", "127.0.0.1", "--sip-host", "127.0.0.1", "--rtp-ports", "40000-44999"],
                                  redis: "redis://127.0.0.1:\(proxy.port)/0", name: "wa")
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "I would like to book a cleaning"), (21.0, "Tuesday please"),
                                                 (31.0, "In the morning"), (41.0, "No that is all thank you")], total: 55)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 80)
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(Self.sipJob(to: pjsip.port)).id
        try await eventually(30, "the caller asked for a cleaning") {
            try await h.store.turns(id).contains { $0.role == .user && $0.text.contains("cleaning") }
        }
        try await proxy.freeze()
        try await eventually(20, "A silences the call") { a.output.contains("call silenced") }
        try await Task.sleep(for: .seconds(1))
        try await proxy.thaw()
        do {
            try await eventually(30, "A resumes its call") { a.output.contains("still ours: resuming it") }
        } catch {
            Issue.record("A's log after the partition: \(a.output.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            throw error
        }
        try await h.waitAllTerminal([id], seconds: 80)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended && record.worker == "wa" && record.epoch == 1, "\(record.reason ?? "")")
        let turns = try await h.assertContiguous(id, expected: try await h.store.turns(id).count)
        #expect(turns.contains { $0.role == .agent && $0.text.contains("booked for Tuesday morning") }, "\(turns.map(\.text))")
        let events = try await h.store.events(id)
        // One `resumed` event per resumption, each saying why. (A run in make test saw two `resumed`
        // events; whether A fell silent twice or recorded one resumption twice, the worker's log
        // now tells — a second silencing after the thaw is allowed, a double record is not.)
        let resumed = events.filter { $0.type == "resumed" }
        let resumptions = a.output.components(separatedBy: "still ours: resuming it").count - 1
        #expect(resumptions >= 1 && resumed.count == resumptions && resumed.allSatisfy { $0.detail.contains("same worker") },
                "\(resumptions) resumptions, \(a.output.components(separatedBy: "call silenced").count - 1) silencings; \(events.map { "\($0.type) \($0.detail)" })")
        #expect(!events.contains { ["worker_lost", "reassigned", "lease_expired"].contains($0.type) })
        try await pjsip.waitExit()
        #expect(pjsip.events.filter { $0["event"] as? String == "media" }.count >= 2)  // A's re-INVITE
        #expect(pjsip.events.filter { $0["event"] as? String == "disconnected" }.count == 1)
    }

    /// The ISO 8601 time at the start of a text log line, as seconds since 1970.
    static func logTime(_ line: String) -> Double? {
        guard let stamp = line.split(separator: " ").first else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: String(stamp))?.timeIntervalSince1970
    }
}
