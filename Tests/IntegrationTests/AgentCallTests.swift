import Foundation
import Testing
import SiphonAudio
import SiphonCluster
import SiphonCore

/// Whole calls: a queued job → a worker dials PJSIP over SIP → the offline receptionist
/// (PocketSphinx, scripted policy, eSpeak NG) talks with PJSIP playing a scripted caller.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct AgentCallTests {
    func sipJob(to port: Int, key: String? = nil) throws -> CallJob {
        try CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550200123"), from: PhoneNumber("+15550100000"), transport: .sip,
                    idempotencyKey: key, trunk: TrunkSpec(address: "127.0.0.1:\(port)"))
    }

    @Test func fullCallWithTheOfflineEnginesEndsWithEndCall() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1")
        try h.supervisor()
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "No that is all thank you")], total: 25)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 60)
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(sipJob(to: pjsip.port)).id
        try await h.waitAllTerminal([id], seconds: 60)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended, "\(record.reason ?? "")")
        let turns = try await h.store.turns(id)
        #expect(turns.map(\.role) == [.agent, .user, .agent, .agent, .tool] || turns.map(\.role) == [.agent, .user, .agent, .tool],
                "\(turns.map { "\($0.role): \($0.text)" })")
        #expect(turns.first?.text.hasPrefix("Thank you for calling Bright Smile Dental") == true)
        #expect(turns.contains { $0.role == .user && $0.text == "no that is all thank you" }, "\(turns.map(\.text))")
        let goodbye = try #require(turns.last { $0.role == .agent })
        #expect(goodbye.text.contains("Goodbye"))
        #expect(goodbye.extra["latency.voice_to_voice_ms"] != nil && goodbye.extra["latency.framework_ms"] != nil, "\(goodbye.extra)")
        try await pjsip.waitExit()
        #expect(pjsip.has("disconnected"))  // our BYE
        let heard = try WAVFile.read(pjsip.recording.path)
        #expect(AudioFrame(sampleRate: heard.sampleRate, samples: heard.samples).levelDB > -40, "PJSIP heard the agent")
        let events = try await h.store.events(id).map(\.type)
        for e in ["queued", "claimed", "dialing", "answered", "ended"] { #expect(events.contains(e), "\(events)") }
    }
}
