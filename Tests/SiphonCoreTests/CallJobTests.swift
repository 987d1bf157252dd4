import Foundation
import Testing
@testable import SiphonCore

@Suite struct CallJobTests {
    @Test func parsesAMinimalSimJobWithDefaults() throws {
        let job = try CallJob.parse(#"{"agent":"Receptionist","to":"+15550200123","transport":"sim"}"#, defaultID: "call-x")
        #expect(job.id == "call-x")
        #expect(job.transport == .sim)
        #expect(job.sim == SimSpec(turns: 4, intervalMs: 200))
        #expect(job.maxAttempts == CallJob.defaultMaxAttempts)
    }

    @Test func transportDefaultsToSip() throws {
        #expect(try CallJob.parse(#"{"id":"c1","agent":"A","to":"+15550200123"}"#).transport == .sip)
    }

    @Test func roundTripsThroughCanonicalJSON() throws {
        let job = try CallJob(id: "call-1", agent: "Front Desk", to: PhoneNumber("+15550200123"), from: PhoneNumber("+15550100000"),
                              transport: .sim, sim: SimSpec(turns: 7, intervalMs: 30), idempotencyKey: "k-1",
                              maxAttempts: 5, metadata: ["campaign": "spring"])
        let again = try CallJob.parse(job.json())
        #expect(again == job)
        #expect(job.json().contains(#""interval_ms":30"#))
    }

    @Test(arguments: [
        (#"{"agent":"A","to":"+15550200123","bogus":1}"#, "unknown key 'bogus'"),
        (#"{"agent":"A","to":"+15550200123","sim":{"turns":2,"speed":3},"transport":"sim"}"#, "unknown key 'speed'"),
        (#"{"to":"+15550200123"}"#, "'agent' is required"),
        (#"{"agent":"A"}"#, "'to' is required"),
        (#"{"agent":"A","to":"5550200"}"#, "must start with '+'"),
        (#"{"agent":"A","to":"+15550200123","transport":"carrier-pigeon"}"#, "not one of sip, livekit, sim"),
        (#"{"agent":"A","to":15550200123}"#, "'to' must be a string"),
        (#"{"agent":"A","to":"+15550200123","max_attempts":0}"#, "max_attempts"),
        (#"{"agent":"A","to":"+15550200123","transport":"sim","sim":{"turns":-1}}"#, "sim.turns"),
        (#"{"agent":"A","to":"+15550200123","sim":{"turns":1}}"#, "only allowed with transport 'sim'"),
        (#"{"agent":"A/B","to":"+15550200123"}"#, "agent name"),
        (#"{"id":"x:y","agent":"A","to":"+15550200123"}"#, "id 'x:y'"),
        (#"{"agent":"A","to":"+15550200123","idempotency_key":"has space"}"#, "idempotency_key"),
        (#"[1,2]"#, "job:"),
        (#"{"agent":"A","to""#, "not valid JSON"),
        (#"{"agent":"A","to":"+15550200123","transport":"webrtc"}"#, "not allowed with transport 'webrtc'"),
        (#"{"agent":"A","from":"+15550200123","transport":"webrtc"}"#, "not allowed with transport 'webrtc'"),
        (#"{"agent":"A","transport":"webrtc","direction":"inbound"}"#, "no inbound direction"),
        (#"{"agent":"A","transport":"livekit"}"#, "'to' is required"),
        (#"{"agent":"A","to":"+15550200123","amd":{"on_machine":"voicemail"}}"#, "amd.on_machine: 'voicemail' is not one of hangup, leave_message"),
        (#"{"agent":"A","to":"+15550200123","amd":{"on_machine":"leave_message"}}"#, "message is required"),
        (#"{"agent":"A","to":"+15550200123","amd":{"on_screener":"announce"}}"#, "announcement is required"),
        (#"{"agent":"A","to":"+15550200123","amd":{"timeout":0}}"#, "timeout must be 1 to 30"),
        (#"{"agent":"A","to":"+15550200123","amd":{"beep":1}}"#, "amd: unknown key 'beep'"),
        (#"{"agent":"A","to":"+15550200123","amd":true}"#, "amd"),
        (#"{"agent":"A","to":"+15550200123","transport":"sim","amd":{}}"#, "amd is only for outbound sip and livekit calls"),
        (#"{"agent":"A","transport":"webrtc","amd":{}}"#, "amd is only for outbound"),
    ])
    func rejectsBadJobsWithAClearMessage(_ json: String, _ expected: String) {
        do {
            _ = try CallJob.parse(json, defaultID: "call-1")
            Issue.record("accepted \(json)")
        } catch let e as SiphonError {
            #expect(e.code == .invalidInput)
            #expect(e.message.contains(expected), "\(e.message)")
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    @Test func answeringMachineDetectionTravelsWithTheJob() throws {
        let job = try CallJob.parse(#"{"agent":"A","to":"+15550200123","amd":{"on_machine":"leave_message","message":"Hi, it's \"Ann\" from the clinic","on_ivr":"navigate","greeting":2.5}}"#)
        let amd = try #require(job.amd)
        #expect(amd.onMachine == .leaveMessage && amd.message == #"Hi, it's "Ann" from the clinic"# && amd.onIVR == .navigate)
        #expect(amd.greeting == 2.5 && amd.timeout == 5 && amd.onScreener == .hangup)
        #expect(try CallJob.parse(job.json()) == job, "\(job.json())")
        #expect(try CallJob.parse(#"{"agent":"A","to":"+15550200123"}"#).amd == nil)
    }

    /// A browser call has no phone number: the browser is the far end.
    @Test func aBrowserCallNeedsNoNumber() throws {
        let job = try CallJob.parse(#"{"agent":"A","transport":"webrtc","metadata":{"web_client":"wc-1"}}"#)
        #expect(job.to == nil && job.transport == .webrtc)
        #expect(!job.json().contains("\"to\""))
        #expect(try CallJob.parse(job.json()) == job)
    }

    @Test func metadataIsBounded() throws {
        let big = String(repeating: "x", count: 5000)
        #expect(throws: SiphonError.self) {
            try CallJob(agent: "A", to: PhoneNumber("+15550200123"), transport: .sip, metadata: ["k": big])
        }
    }

    @Test func newCallIDsAreValidAndDistinct() throws {
        let ids = (0..<1000).map { _ in Identifier.newCallID() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(10) { try Identifier.validateID(id, what: "id") }
    }
}

@Suite struct TrunkSpecTests {
    /// A TLS trunk (the carriers' secure trunking) defaults to SIP's TLS port, 5061.
    @Test func aTLSTrunkDefaultsToPort5061() throws {
        let tls = TrunkSpec(address: "example.pstn.twilio.com", transport: "tls")
        try tls.validate()
        #expect(try tls.endpoint() == ("example.pstn.twilio.com", 5061))
        #expect(try TrunkSpec(address: "sip.example.net:5071", transport: "tls").endpoint() == ("sip.example.net", 5071))
        #expect(try TrunkSpec(address: "sip.example.net", transport: "udp").endpoint() == ("sip.example.net", 5060))
        #expect(throws: SiphonError.self) { try TrunkSpec(address: "sip.example.net", transport: "sctp").validate() }
    }
}
