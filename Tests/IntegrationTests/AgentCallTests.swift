import Foundation
import Testing
import SiphonAudio
import SiphonCluster
import SiphonCore

/// Whole calls: a queued job → a worker dials PJSIP over SIP → the offline receptionist
/// (PocketSphinx, scripted policy, eSpeak NG) talks with PJSIP playing a scripted caller.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct AgentCallTests {
    func sipJob(to port: Int, key: String? = nil, transport: String = "udp") throws -> CallJob {
        try CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550200123"), from: PhoneNumber("+15550100000"), transport: .sip,
                    idempotencyKey: key, trunk: TrunkSpec(address: "127.0.0.1:\(port)", transport: transport))
    }

    /// Dials PJSIP, waits for the call to end (`ended`), and returns its id and turns.
    func endedCall(_ h: ClusterHarness, to pjsip: PJSIPPeer, transport: String = "udp") async throws -> (id: String, turns: [Turn]) {
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(sipJob(to: pjsip.port, transport: transport)).id
        try await h.waitAllTerminal([id], seconds: 60)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended, "\(record.reason ?? "")")
        return (id, try await h.store.turns(id))
    }

    /// `overTLS`: a secure trunk — the worker dials PJSIP over TLS (trusting the test authority,
    /// SIP_TLS_CA) and the media is SRTP, which PJSIP requires; the dialog saved in Redis keeps
    /// no SRTP key.
    @Test(arguments: [false, true]) func fullCallWithTheOfflineEnginesEndsWithEndCall(overTLS: Bool) async throws {
        let h = try ClusterHarness()
        let leaf = TestCertificates.loopback
        try h.sipWorker("w1", extra: ["--sip-tls-port", "0"], environment: overTLS ? ["SIP_TLS_CA": TestCertificates.authority,
                                                                                   "SIP_TLS_CERT": leaf.certificate, "SIP_TLS_KEY": leaf.key] : [:])
        try h.supervisor()
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "No that is all thank you")], total: 25)
        let pjsip = try PJSIPPeer(play: caller.path, ringMs: 1000, timeout: 60, tls: overTLS ? leaf : nil, srtp: overTLS)
        let (id, turns) = try await endedCall(h, to: pjsip, transport: overTLS ? "tls" : "udp")
        if overTLS {
            let dialog = try await h.store.fields(id, ["sip_dialog"])["sip_dialog"] ?? ""
            #expect(dialog.contains(#""transport":"TLS""#) && dialog.contains(#"RTP\/SAVP"#), "\(dialog)")
            // Both SDPs' keys (our offer's two, PJSIP's one) are there, each replaced.
            let keys = dialog.components(separatedBy: "inline:").count - 1
            #expect(keys == 3 && dialog.components(separatedBy: "inline:(removed)").count - 1 == keys, "a key reached Redis: \(dialog)")
        }
        #expect(turns.map(\.role) == [.agent, .user, .agent, .agent, .tool] || turns.map(\.role) == [.agent, .user, .agent, .tool],
                "\(turns.map { "\($0.role): \($0.text)" })")
        #expect(turns.first?.text.hasPrefix("Thank you for calling Bright Smile Dental") == true)
        // The worker's first call, yet its greeting was synthesised while the phone rang.
        #expect(turns.first?.extra["tts.cached"] == "true", "\(turns.first?.extra ?? [:])")
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

extension AgentCallTests {
    /// The caller says "no that is all thank you" and hangs up 350 ms later, before the turn could
    /// end (this receptionist waits 2 s after a caller stops): the transcript ends with the words,
    /// the recogniser flushed and closed with the line, and nothing answers them.
    @Test func theCallersLastWordsBeforeHangingUpAreInTheTranscript() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1", extra: ["--config", try Self.patientReceptionist().path])
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "No that is all thank you")], total: 25)  // speech until about 10.65 s
        let pjsip = try PJSIPPeer(play: caller.path, actions: "11.0:hangup", timeout: 60)
        let turns = try await endedCall(h, to: pjsip).turns
        let texts = turns.map { "\($0.role.rawValue): \($0.text) \($0.extra)" }
        #expect(turns.count == 2 && turns.first?.role == .agent, "\(texts)")
        let last = try #require(turns.last)
        #expect(last.role == .user && last.extra["said_as_the_line_closed"] == "true" && last.text == "no that is all thank you", "\(texts)")
        try await pjsip.waitExit()
    }

    /// The same words, and the call is canceled through the API 350 ms after them (an operator
    /// hanging up): the cancel stops the conversation, yet the words are stored, and PJSIP gets
    /// our BYE.
    @Test func aCallCanceledThroughTheAPIKeepsTheCallersLastWords() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1", extra: ["--config", try Self.patientReceptionist().path])
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(9.0, "No that is all thank you")], total: 25)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 60)
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(sipJob(to: pjsip.port)).id
        try await eventually(30, "answered") { try await h.status(id) == .active }
        try await Task.sleep(for: .seconds(11))
        _ = try await h.queue.cancel(id)
        try await h.waitAllTerminal([id], seconds: 30)
        #expect(try await h.status(id) == .canceled)
        let turns = try await h.store.turns(id)
        let texts = turns.map { "\($0.role.rawValue): \($0.text) \($0.extra)" }
        let last = try #require(turns.last)
        #expect(turns.count == 2 && last.role == .user && last.extra["said_as_the_line_closed"] == "true"
                && last.text == "no that is all thank you", "\(texts)")
        try await pjsip.waitExit()
        #expect(pjsip.has("disconnected"))
    }

    /// The offline receptionist, waiting 2 s after a caller stops before it answers: time for a
    /// hang-up between the caller's words and the end of their turn.
    static func patientReceptionist() throws -> URL {
        let example = try String(contentsOf: Repository.root.appendingPathComponent("examples/agent_config.yaml"), encoding: .utf8)
        let offline = try #require(example.range(of: "  - name: offline-receptionist"))
        let config = "agents:\n" + example[offline.lowerBound...]
            .replacingOccurrences(of: "min_endpointing_delay: 0.3", with: "min_endpointing_delay: 2.0")
            .replacingOccurrences(of: "max_endpointing_delay: 1.0", with: "max_endpointing_delay: 3.0")
        #expect(config.contains("min_endpointing_delay: 2.0"))
        let file = try Repository.temporaryDirectory("agents").appendingPathComponent("agents.yaml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Worker A dials PJSIP; after the caller has said which day, A is SIGKILLed. Worker B takes the
    /// dialog over with a re-INVITE, re-injects the history, and books the day A heard.
    @Test func takeoverAfterSIGKILLContinuesTheSameDialogWithHistory() async throws {
        let h = try ClusterHarness()
        let a = try h.sipWorker("wa")
        try h.supervisor()
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([
            (9.0, "I would like to book a cleaning"),
            (19.5, "Tuesday please"),
            (29.0, "In the morning"),
            (39.0, "No that is all thank you"),
        ], total: 55)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 80)
        try await pjsip.waitReady()
        let id = try await h.queue.enqueue(sipJob(to: pjsip.port)).id
        let killedAt = try await Self.killOnceTheDayIsNamed(h, a, id)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended, "\(record.reason ?? "")")
        #expect(record.worker == "wb" && record.epoch == 2)
        let turns = try await h.assertContiguous(id, expected: try await h.store.turns(id).count)
        let texts = turns.map { "\($0.epoch) \($0.role.rawValue): \($0.text)" }
        #expect(turns.contains { $0.epoch == 2 && $0.role == .agent && $0.text.contains("booked for Tuesday morning") }, "\(texts)")
        // B bridges, then answers what A had heard but not answered yet (the caller named the day).
        #expect(turns.contains { $0.epoch == 2 && $0.role == .agent && $0.text.hasPrefix("Sorry about that, I'm back.") }, "\(texts)")
        let events = try await h.store.events(id).map(\.type)
        for e in ["worker_lost", "reassigned", "resumed", "ended"] { #expect(events.contains(e), "\(events)") }
        try await pjsip.waitExit()
        // Same dialog: PJSIP saw a second media negotiation (the re-INVITE) and one disconnect (B's BYE).
        #expect(pjsip.events.filter { $0["event"] as? String == "media" }.count >= 2)
        #expect(pjsip.events.filter { $0["event"] as? String == "disconnected" }.count == 1)
        // …and kept hearing the agent after the takeover.
        #expect(try Self.levelAfter(killedAt, pjsip) > -40, "silence after the takeover")
    }

    /// Starts worker B, waits until the caller has named a day to A, then SIGKILLs A and waits for
    /// the call to end (on B). Returns when A was killed.
    static func killOnceTheDayIsNamed(_ h: ClusterHarness, _ a: SiphonProcess, _ id: String, extra: [String] = [],
                                      environment: [String: String] = [:]) async throws -> Date {
        try h.sipWorker("wb", extra: extra, environment: environment)
        try await h.waitForWorkers(2)
        try await eventually(40, "the caller named a day") {
            try await h.store.turns(id).contains { $0.role == .user && $0.text.contains("tuesday") }
        }
        try await Task.sleep(for: .seconds(1))
        let killedAt = Date()
        a.signal(SIGKILL)
        try await h.waitAllTerminal([id], seconds: 60)
        return killedAt
    }

    /// How loud what PJSIP heard was from 2 s after `date` on (dBFS).
    static func levelAfter(_ date: Date, _ pjsip: PJSIPPeer) throws -> Double {
        let confirmed = try #require(pjsip.events.first { $0["event"] as? String == "state" && $0["state"] as? String == "CONFIRMED" }?["t"] as? Double)
        let heard = try WAVFile.read(pjsip.recording.path)
        let from = Int((date.timeIntervalSince1970 - confirmed + 2) * Double(heard.sampleRate))
        return AudioFrame(sampleRate: heard.sampleRate, samples: Array(heard.samples[min(from, heard.samples.count)...])).levelDB
    }

    /// The worker's SIP port for `transport` (udp, tcp or tls), from its log.
    static func sipPort(_ worker: SiphonProcess, transport: String = "udp") async throws -> Int {
        var port = 0
        try await eventually(20, "the worker's SIP port in its log") {
            port = worker.output.matches(of: /sip\.(\w+)_port=(\d+)/).first { $0.1 == transport }.flatMap { Int($0.2) } ?? 0
            return port > 0
        }
        return port
    }

    /// The newest call in the store (an inbound call has no job to enqueue: it is found by listing).
    static func newestCall(_ h: ClusterHarness) async throws -> String {
        var id = ""
        try await eventually(20, "the inbound call in the store") {
            id = try await h.store.list().first?.id ?? ""
            return !id.isEmpty
        }
        return id
    }
}

extension AgentCallTests {
    /// `siphon caller` (the demo's phone) talks over the agent's answer: the agent stops within the
    /// configured minimum interruption, stores what the caller heard, and takes the caller's words.
    @Test func theCallerTalksOverTheAgentAndIsHeard() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1")
        try await h.waitForWorkers(1)
        let caller = try SiphonProcess(["caller", "--port", "0", "--line", "I would like to book a cleaning",
                                        "--line", "@2.5 Tuesday please", "--line", "No that is all thank you"], redis: nil, name: "caller")
        var port = 0
        try await eventually(20, "the caller listens") {
            guard let line = caller.output.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else { return false }
            port = Int(line.dropFirst("listening on ".count)) ?? 0
            return port > 0
        }
        let id = try await h.queue.enqueue(sipJob(to: port)).id
        try await h.waitAllTerminal([id], seconds: 60)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended, "\(record.reason ?? "")")
        let turns = try await h.store.turns(id)
        let texts = turns.map { "\($0.role.rawValue)\($0.interrupted ? " [cut]" : ""): \($0.text)" }
        let cut = try #require(turns.first { $0.interrupted }, "\(texts)")
        #expect(cut.role == .agent && cut.text.hasPrefix("Of course.") && !cut.text.contains("Which day"), "\(texts)")
        // min_interruption (0.3 s) of caller frames the echo guard let through, counted in frames.
        let detect = try #require(Int(cut.extra["barge_in.detect_ms"] ?? ""), "\(cut.extra)")
        #expect(detect >= 300 && detect <= 600, "\(cut.extra)")
        let next = try #require(turns.first { $0.seq == cut.seq + 1 })
        #expect(next.role == .user && next.text == "tuesday please", "\(texts)")
        #expect(turns.contains { $0.role == .agent && $0.text.hasPrefix("Tuesday works.") }, "\(texts)")
        #expect(caller.wait(seconds: 10) == 0)
        #expect(caller.output.contains("call ended: agent hung up"), "\(caller.output)")
    }
}

extension AgentCallTests {
    /// `siphon demo --json` (what `make demo` runs) against the test's Redis: the call ends as the
    /// agent hangs up, with one barge-in, and the output ends with the session record.
    @Test func theDemoPlacesACompleteCall() async throws {
        let redis = try RedisServer()
        let out = try Repository.temporaryDirectory("demo")
        let (status, stdout, stderr) = try SiphonProcess.run(["demo", "--json", "--out", out.path], redis: redis.urlString)
        #expect(status == 0, "\(stdout)\n\(stderr)")
        let last = try #require(stdout.split(separator: "\n").last)
        let session = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(stdout)")
        #expect(session["status"] as? String == "ended", "\(last)")
        let turns = try #require(session["turns"] as? [[String: Any]])
        #expect(turns.contains { $0["interrupted"] as? Bool == true }, "\(last)")
        #expect(turns.contains { ($0["text"] as? String)?.contains("booked for Tuesday morning") == true }, "\(last)")
        #expect(stdout.contains("barge-ins: 1"))
        let wav = out.appendingPathComponent("call.wav")
        let header = try Data(contentsOf: wav).prefix(24)
        #expect(header.count == 24 && header[22] == 2, "stereo: one side per channel")
        let recording = try WAVFile.read(wav.path)  // mixed down to mono
        #expect(recording.duration > 10, "\(recording.duration) s")
    }
}

extension AgentCallTests {
    enum InboundLeg: String, CaseIterable, Sendable { case plain, delayedOffer, tls }

    /// A phone calling in: PJSIP dials the number the worker answers for; the agent greets, hears
    /// the caller and answers. The call is recorded as inbound; PJSIP heard the greeting from the
    /// answer on (the figure printed: from PJSIP's CONFIRMED to the greeting's first sound).
    /// `.delayedOffer`: PJSIP's INVITE has no SDP (the worker offers in its 200, PJSIP answers in
    /// the ACK: before, the worker refused such calls with 488), and 5 s in it sends a re-INVITE
    /// without SDP too, whose answer the worker takes from the ACK (`media_changed`).
    /// `.tls`: PJSIP calls the worker's TLS listener (SIP_TLS_CERT, SIP_TLS_KEY) and offers SRTP only.
    @Test(arguments: InboundLeg.allCases) func aCallerDialsInAndTheAgentAnswers(_ leg: InboundLeg) async throws {
        let h = try ClusterHarness()
        var environment = ["SIP_INBOUND_ALLOW": "127.0.0.1", "SIP_INBOUND_NUMBERS": "+15550200123=offline-receptionist"]
        let leaf = TestCertificates.loopback
        if leg == .tls { (environment["SIP_TLS_CERT"], environment["SIP_TLS_KEY"]) = (leaf.certificate, leaf.key) }
        let worker = try h.sipWorker("w1", extra: ["--sip-tls-port", "0"], environment: environment)
        try await h.waitForWorkers(1)
        let target = leg == .tls ? "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(worker, transport: "tls"));transport=tls"
                                 : "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(worker))"
        let caller = try await CallerScript.wav([(8.5, "I would like to book a cleaning")], total: 25)
        let pjsip = try PJSIPPeer(play: caller.path, call: target, actions: leg == .delayedOffer ? "5.0:reoffer,17.0:hangup" : "17.0:hangup",
                                  timeout: 60, delayedOffer: leg == .delayedOffer, tls: leg == .tls ? leaf : nil, srtp: leg == .tls)
        let id = try await Self.newestCall(h)
        try await h.waitAllTerminal([id], seconds: 40)
        let record = try #require(try await h.store.call(id))
        #expect(record.job.contains(#""direction":"inbound""#) && record.agent == "offline-receptionist", "\(record.job)")
        #expect(record.status == .ended, "\(record.reason ?? "")")
        let turns = try await h.store.turns(id)
        let texts = turns.map { "\($0.role): \($0.text)" }
        #expect(turns.first?.role == .agent && turns.first?.text.hasPrefix("Thank you for calling Bright Smile Dental") == true, "\(texts)")
        #expect(turns.contains { $0.role == .user && $0.text == "i would like to book a cleaning" }, "\(texts)")
        #expect(turns.last { $0.role == .agent }?.text.contains("Tuesday") == true, "\(texts)")
        try await pjsip.waitExit()
        let heard = try WAVFile.read(pjsip.recording.path)
        let first = try #require(AnsweringMachineTests.firstSound(heard), "PJSIP heard nothing")
        let events = try await h.store.events(id)
        for e in ["answered", "ended"] { #expect(events.contains { $0.type == e }, "\(events)") }
        if leg == .delayedOffer {
            let changed = events.filter { $0.type == "media_changed" }.map(\.detail)
            #expect(changed == ["PCMU sendrecv 127.0.0.1:\(pjsip.rtpPort)"], "\(changed)")
        }
        if leg == .tls {
            let dialog = try await h.store.fields(id, ["sip_dialog"])["sip_dialog"] ?? ""
            #expect(dialog.contains(#""transport":"TLS""#), "\(dialog)")
        }
        print("inbound (\(leg)): greeting heard \(Int(first * 1000)) ms after PJSIP's recording started (CONFIRMED)")
    }

    /// SIP_SRTP=required: a caller offering plain RTP is refused with 488 and the reason is on the
    /// call; one offering SRTP (over TLS) is answered.
    @Test func aWorkerRequiringSRTPRefusesPlainRTP() async throws {
        let h = try ClusterHarness()
        let leaf = TestCertificates.loopback
        let worker = try h.sipWorker("w1", extra: ["--sip-tls-port", "0"], environment: [
            "SIP_INBOUND_ALLOW": "127.0.0.1", "SIP_INBOUND_NUMBERS": "+15550200123=offline-receptionist", "SIP_SRTP": "required",
            "SIP_TLS_CERT": leaf.certificate, "SIP_TLS_KEY": leaf.key])
        try await h.waitForWorkers(1)
        let plain = try PJSIPPeer(play: nil, record: false, call: "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(worker))", timeout: 15)
        try await plain.waitExit(20)
        #expect(plain.has("disconnected") { $0["code"] as? Int == 488 }, "\(plain.output)")
        let id = try await Self.newestCall(h)
        try await h.waitAllTerminal([id], seconds: 10)
        let refused = try #require(try await h.store.call(id))
        #expect(refused.status == .rejected && refused.reason?.contains("SRTP is required") == true, "\(refused.status) \(refused.reason ?? "")")

        let secure = try PJSIPPeer(play: nil, record: false, call: "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(worker, transport: "tls"));transport=tls",
                                   actions: "3.0:hangup", timeout: 15, tls: leaf, srtp: true)
        try await secure.waitExit(20)
        #expect(secure.has("state") { $0["state"] as? String == "CONFIRMED" }, "\(secure.output)")
    }

    /// The worker answering a phone that called in is SIGKILLed mid-call: another takes the dialog
    /// over (a re-INVITE from the callee's side of it) and the conversation goes on with its history.
    /// `overTLS`: the caller came in over TLS with SRTP. The new worker connects to where PJSIP
    /// listens (its Contact: the connection the call came in on was the dead worker's, from a port
    /// that listens for nothing), checks its certificate, and keys SRTP afresh.
    @Test(arguments: [false, true]) func anInboundCallSurvivesItsWorkerDying(overTLS: Bool) async throws {
        let h = try ClusterHarness()
        let leaf = TestCertificates.loopback
        var inbound = ["SIP_INBOUND_ALLOW": "127.0.0.1", "SIP_INBOUND_NUMBERS": "+15550200123=offline-receptionist"]
        if overTLS { inbound.merge(["SIP_TLS_CERT": leaf.certificate, "SIP_TLS_KEY": leaf.key, "SIP_TLS_CA": TestCertificates.authority]) { $1 } }
        let tlsPort = ["--sip-tls-port", "0"]
        let a = try h.sipWorker("wa", extra: tlsPort, environment: inbound)
        try h.supervisor()
        try await h.waitForWorkers(1)
        let target = overTLS ? "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(a, transport: "tls"));transport=tls"
                             : "sip:+15550200123@127.0.0.1:\(try await Self.sipPort(a))"
        let caller = try await CallerScript.wav([
            (8.5, "I would like to book a cleaning"),
            (19.5, "Tuesday please"),
            (29.0, "In the morning"),
        ], total: 45)
        let pjsip = try PJSIPPeer(play: caller.path, call: target, actions: "40.0:hangup", timeout: 70, tls: overTLS ? leaf : nil, srtp: overTLS)
        let id = try await Self.newestCall(h)
        let killedAt = try await Self.killOnceTheDayIsNamed(h, a, id, extra: tlsPort, environment: inbound)
        let record = try #require(try await h.store.call(id))
        #expect(record.worker == "wb" && record.epoch == 2, "\(record.worker) \(record.epoch) \(record.reason ?? "")")
        let turns = try await h.store.turns(id)
        let texts = turns.map { "\($0.epoch) \($0.role.rawValue): \($0.text)" }
        #expect(turns.contains { $0.epoch == 2 && $0.role == .agent && $0.text.contains("booked for Tuesday morning") }, "\(texts)")
        let events = try await h.store.events(id).map(\.type)
        for e in ["worker_lost", "reassigned", "resumed"] { #expect(events.contains(e), "\(events)") }
        try await pjsip.waitExit()
        #expect(pjsip.events.filter { $0["event"] as? String == "media" }.count >= 2, "no second negotiation: \(pjsip.events)")
        #expect(try Self.levelAfter(killedAt, pjsip) > -40, "silence after the takeover")
    }
}
