import Foundation
import Testing
import Siphon
import SiphonCluster

/// The Swift API users write: `Siphon.serve(agents:)` in-process, `Call(…).start()` and its updates.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SiphonAPITests {
    @Test func callsAreValidatedBeforeAnythingIsEnqueued() throws {
        #expect(throws: SiphonError.self) { try Call(agent: "Receptionist", to: "not a number").job() }
        #expect(throws: SiphonError.self) { try Call(agent: "Receptionist", trunk: .credentials(address: "bad host!"), to: "+15550200123").job() }
        let job = try Call(agent: "Receptionist",
                           trunk: .credentials(name: "telnyx-primary", address: "sip.telnyx.com", number: "+15550100000", username: "u", password: "p"),
                           to: "+1 555 020 0123").job()
        #expect(job.to?.e164 == "+15550200123" && job.from?.e164 == "+15550100000" && job.trunk?.address == "sip.telnyx.com")
    }

    @Test func aCallStartedFromSwiftIsFollowedToItsEnd() async throws {
        let h = try ClusterHarness()
        try h.worker("w1")
        try await h.waitForWorkers(1)
        let handle = try await Call(agent: "Sim", to: "+15550200123", transport: .sim).start(redis: h.redis.urlString, environment: Environment([:]))
        var events: [String] = []
        var turns: [Int] = []
        var end: CallStatus?
        for try await update in handle.updates(interval: .milliseconds(50)) {
            switch update {
            case .event(let e): events.append(e.type)
            case .turn(let t): turns.append(t.seq)
            case .ended(let status, _): end = status
            }
        }
        #expect(end == .ended)
        #expect(turns == [1, 2, 3, 4], "\(turns)")
        #expect(events.first == "queued" && events.contains("claimed"), "\(events)")
    }

    @Test func inlineTrunkPasswordsAreSealedBeforeRedis() async throws {
        let h = try ClusterHarness()
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        // A worker that serves the agent over SIP (it will fail to reach the trunk; the job is what is checked).
        try h.sipWorker("w1")
        try await h.waitForWorkers(1)
        let secret = "trunk-secret-\(Int.random(in: 1000...9999))"
        let handle = try await Call(agent: "offline-receptionist", trunk: .credentials(address: "127.0.0.1:9", username: "u", password: secret),
                                    to: "+15550200123").start(redis: h.redis.urlString, environment: Environment(["SIPHON_SECRET_KEY": key]))
        let dump = try await h.client.send(["XRANGE", h.keys.calls, "-", "+"])
        #expect(!"\(dump)".contains(secret))
        #expect("\(dump)".contains("password_sealed"))
        try await handle.hangup()
        // Without the key the inline password is refused, never queued in clear.
        await #expect(throws: SiphonError.self) {
            try await Call(agent: "offline-receptionist", trunk: .credentials(address: "127.0.0.1:9", username: "u", password: secret),
                           to: "+15550200123").start(redis: h.redis.urlString, environment: Environment([:]))
        }
    }
}
