import Foundation
import Testing
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonLiveKit
import SiphonOffline

/// Answering-machine detection on whole outbound calls: a worker dials PJSIP, which answers with a
/// voicemail greeting and a beep (the agent's message must start after the beep, nothing said over
/// the greeting) or like a person (a normal conversation). PJSIP records what it hears.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct AnsweringMachineTests {
    static let message = "This is Bright Smile Dental calling to confirm your cleaning tomorrow at nine. Please call us back. Goodbye."

    func job(to port: Int, amd: AMDSettings) throws -> CallJob {
        try CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550200123"), from: PhoneNumber("+15550100000"), transport: .sip,
                    trunk: TrunkSpec(address: "127.0.0.1:\(port)"), amd: amd)
    }

    /// A voicemail: `lead` of silence, the greeting, a pause, a 1 kHz beep, then the line recording.
    /// Returns the WAV and when (seconds) the greeting ends and the beep ends.
    static func voicemail(_ greeting: String, lead: Double = 0.4, pause: Double = 0.6, beep: Double = 0.5, total: Double = 25) async throws
        -> (URL, greetingEnd: Double, beepEnd: Double) {
        let rate = 8000
        var speech: [Int16] = []
        for try await f in try await EspeakTTS(voice: "en-us", wordsPerMinute: 170, pitch: 70).synthesize(greeting) { speech += f.samples }
        let spoken = try Resampler(from: 16000, to: rate).process(speech)
        var samples = [Int16](repeating: 0, count: Int(lead * Double(rate))) + spoken
        let greetingEnd = Double(samples.count) / Double(rate)
        samples += [Int16](repeating: 0, count: Int(pause * Double(rate)))
        samples += (0..<Int(beep * Double(rate))).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / Double(rate))) }
        let beepEnd = Double(samples.count) / Double(rate)
        samples += [Int16](repeating: 0, count: Int(total * Double(rate)) - samples.count)
        let url = try Repository.temporaryDirectory("voicemail").appendingPathComponent("voicemail.wav")
        try WAVFile(sampleRate: rate, samples: samples).write(url.path)
        return (url, greetingEnd, beepEnd)
    }

    /// When the far end's recording first carries sound (20 ms windows above −40 dBFS), in seconds.
    static func firstSound(_ wav: WAVFile) -> Double? {
        let n = wav.sampleRate / 50
        for start in stride(from: 0, to: wav.samples.count - n, by: n)
            where AudioFrame(sampleRate: wav.sampleRate, samples: Array(wav.samples[start..<start + n])).levelDB > -40 {
            return Double(start) / Double(wav.sampleRate)
        }
        return nil
    }

    @Test func aVoicemailGetsTheMessageAfterTheBeep() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1")
        try await h.waitForWorkers(1)
        let (greeting, greetingEnd, beepEnd) = try await Self.voicemail(
            "Hi, you've reached Ann. I can't take your call right now. Please leave your name and number after the tone.")
        let pjsip = try PJSIPPeer(play: greeting.path, timeout: 60)
        try await pjsip.waitReady()
        var amd = AMDSettings()
        (amd.onMachine, amd.message) = (.leaveMessage, Self.message)
        let id = try await h.queue.enqueue(job(to: pjsip.port, amd: amd)).id
        try? await h.waitAllTerminal([id], seconds: 45)  // on a time-out, the checks below say why
        let record = try #require(try await h.store.call(id))
        let events = try await h.store.events(id)
        let context = try await h.store.context(id)
        #expect(record.status == .ended && record.reason == "left a message on an answering machine",
                "\(record.status) \(record.reason ?? "") \(events.map { "\($0.type) \($0.detail)" }) \(context)")
        #expect(context["amd.result"] == "machine", "\(context)")
        let message = try #require(events.first { $0.type == "amd_message" }, "\(events.map(\.type))")
        #expect(message.detail.hasPrefix("after the beep"), "\(message.detail)")
        let turns = try await h.store.turns(id)
        #expect(turns.map(\.text) == [Self.message], "\(turns.map(\.text))")

        try await pjsip.waitExit()
        let heard = try WAVFile.read(pjsip.recording.path)
        try? FileManager.default.removeItem(at: Self.artifacts.appendingPathComponent("voicemail-heard.wav"))
        try? FileManager.default.copyItem(at: pjsip.recording, to: Self.artifacts.appendingPathComponent("voicemail-heard.wav"))
        // PJSIP's player and recorder start together: the recording's clock is the greeting's.
        let first = try #require(Self.firstSound(heard), "PJSIP heard nothing")
        #expect(first >= beepEnd, "the agent spoke \(String(format: "%.2f", beepEnd - first)) s before the beep ended")
        #expect(first < beepEnd + 1.5, "the message started \(String(format: "%.2f", first - beepEnd)) s after the beep")
        // The whole message as one phrase (joined over its pauses), its sentences and their parts
        // (however the pauses cut it), and what the agent must not have said: its greeting.
        let stt = try PocketSphinxSTT(phrases: [
            "this is bright smile dental calling to confirm your cleaning tomorrow at nine please call us back goodbye",
            "this is bright smile dental calling to confirm your cleaning tomorrow at nine", "please call us back goodbye",
            "please call us back", "goodbye",
            "thank you for calling bright smile dental this is the automated receptionist how can i help you today",
        ])
        let text = try await WebRTCInteropTests.transcribe(wav: pjsip.recording.path, stt: stt, joiningPauses: 25)
        #expect(text.contains("this is bright smile dental calling to confirm your cleaning tomorrow at nine") && text.hasSuffix("back goodbye"), "\(text)")
        #expect(!text.contains("thank you for calling") && !text.contains("how can i help"), "the agent greeted the voicemail: \(text)")
        try Self.figure("voicemail", [
            "greeting_end_s": greetingEnd, "beep_end_s": beepEnd, "message_heard_at_s": first,
            "decided_ms": Double(context["amd.decided_ms"] ?? "") ?? -1, "transcript": text, "cause": context["amd.cause"] ?? "",
        ])
    }

    @Test func aPersonWhoAnswersGetsAConversation() async throws {
        let h = try ClusterHarness()
        try h.sipWorker("w1")
        try await h.waitForWorkers(1)
        let caller = try await CallerScript.wav([(0.5, "Hello?"), (9.5, "No that is all thank you")], total: 25)
        let pjsip = try PJSIPPeer(play: caller.path, timeout: 60)
        try await pjsip.waitReady()
        var amd = AMDSettings()
        (amd.onMachine, amd.message) = (.leaveMessage, Self.message)
        let id = try await h.queue.enqueue(job(to: pjsip.port, amd: amd)).id
        try await h.waitAllTerminal([id], seconds: 60)
        let record = try #require(try await h.store.call(id))
        #expect(record.status == .ended, "\(record.reason ?? "")")
        let context = try await h.store.context(id)
        #expect(context["amd.result"] == "human" && context["amd.action"] == "converse", "\(context)")
        let decided = try #require(Int(context["amd.decided_ms"] ?? ""))
        #expect(decided < 2500, "decided after \(decided) ms")
        let turns = try await h.store.turns(id)
        let texts = turns.map { "\($0.role.rawValue): \($0.text)" }
        #expect(turns.first?.text.hasPrefix("Thank you for calling Bright Smile Dental") == true, "\(texts)")
        #expect(turns.contains { $0.role == .user && $0.text == "no that is all thank you" }, "\(texts)")
        #expect(turns.last { $0.role == .agent }?.text.contains("Goodbye") == true, "\(texts)")
        #expect(!turns.contains { $0.text == Self.message }, "left a message for a person: \(texts)")
        try await pjsip.waitExit()
        let heard = try WAVFile.read(pjsip.recording.path)
        let first = try #require(Self.firstSound(heard))
        // The wait from their hello to the greeting, as the worker measured it (its TTS part: none
        // when the greeting was synthesised while detection listened).
        let greeting = try #require(turns.first)
        #expect(greeting.extra["latency.voice_to_voice_ms"] != nil && greeting.extra["tts.cached"] == "true", "\(greeting.extra)")
        try Self.figure("person", ["decided_ms": Double(decided), "greeting_heard_at_s": first, "cause": context["amd.cause"] ?? "",
                                   "greeting_voice_to_voice_ms": Double(greeting.extra["latency.voice_to_voice_ms"] ?? "") ?? -1,
                                   "greeting_tts_ms": Double(greeting.extra["latency.tts_ms"] ?? "") ?? -1])
    }

    /// The labelled corpus, held-out part, generated here (a small one: 8 clips a class): Siphon's
    /// classifier (`siphon amd eval`, cadence alone and with a streaming recogniser's words) beside
    /// Asterisk's app_amd on the same clips (`Tests/Peers/app_amd.py`).
    @Test func onTheHeldOutCorpusSiphonBeatsAppAMD() throws {
        let dir = try Repository.temporaryDirectory("amd-corpus")
        defer { try? FileManager.default.removeItem(at: dir) }
        let peers = Repository.root.appendingPathComponent("Tests/Peers")
        _ = try Self.output(Repository.python, [peers.appendingPathComponent("amd_corpus.py").path, dir.path, "--count", "8", "--held-out"])
        let eval = { (extra: [String]) throws -> [String: Any] in
            try Self.json(Self.output(SiphonProcess.binary, ["amd", "eval", "--corpus", dir.path, "--json"] + extra))
        }
        let cadence = try eval([]), words = try eval(["--words", "--interims"])
        let asterisk = try Self.json(Self.output(Repository.python, [peers.appendingPathComponent("app_amd.py").path, dir.path, "--json"]))
        let accuracy = { (r: [String: Any], key: String) in r[key] as? Double ?? -1 }
        // Of humans and machines (what app_amd tells apart): Siphon's cadence alone does better.
        #expect(accuracy(cadence, "accuracy_human_machine") > accuracy(asterisk, "accuracy_human_machine"), "\(cadence) \(asterisk)")
        // All six classes, with words: the issue's goal, 95 %.
        #expect(accuracy(words, "accuracy") >= 0.95, "\(words)")
        let humans = try #require(words["human_after_speech_ms"] as? [String: Any])
        // No "human" before the words could tell the clip from every recording of the corpus
        // (`amd_bound.py`: the stand-in's timing, a frame's rounding aside): one that came earlier
        // would be a guess on words a voicemail or a menu also opens with.
        let bound = try Self.json(Self.output(Repository.python, [peers.appendingPathComponent("amd_bound.py").path, dir.path, "--json"]))
        let earliest = Dictionary(uniqueKeysWithValues: (bound["clips"] as? [[String: Any]] ?? []).compactMap { c in
            (c["file"] as? String).flatMap { f in (c["bound_ms"] as? Int).map { (f, $0) } }
        })
        let decided = try #require(words["human_decisions_ms"] as? [String: Int])
        #expect(!decided.isEmpty && earliest.count == 8)
        for (file, at) in decided { #expect(at >= (earliest[file] ?? .max) - 20, "\(file): human at \(at) ms, the words tell only at \(earliest[file] ?? -1)") }
        try Self.figure("corpus", ["clips": 48, "cadence": cadence, "words_streaming": words, "app_amd": asterisk,
                                   "human_decided_after_speech_ms": humans, "earliest_possible_human_median_ms": bound["bound_median_ms"] ?? -1])
    }

    static func output(_ executable: String, _ arguments: [String]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw HarnessError("\(executable) \(arguments.joined(separator: " ")) exited \(p.terminationStatus)") }
        return data
    }

    static func json(_ data: Data) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw HarnessError("not a JSON object") }
        return object
    }

    /// Figures for the closing note (out/amd/figures.json).
    static var artifacts: URL {
        let dir = Repository.root.appendingPathComponent("out/amd")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func figure(_ name: String, _ values: [String: Any]) throws {
        let url = artifacts.appendingPathComponent("figures.json")
        var all = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]) ?? [:]
        all[name] = values
        try JSONSerialization.data(withJSONObject: all, options: [.prettyPrinted, .sortedKeys]).write(to: url)
    }
}

extension AnsweringMachineTests {
    /// The same voicemail on the LiveKit path: the stand-in's phone plays it into the call's room
    /// from the answer on, as a real phone does; the agent (over WebRTC), in the room before the
    /// answer, hears all of it, waits through the greeting and the beep, leaves the message, hangs up.
    @Test func aLiveKitCallToAVoicemailLeavesTheMessageAfterTheBeep() async throws {
        let peer = try await LiveKitPeer()
        let cluster = try ClusterHarness()
        let (greeting, _, _) = try await Self.voicemail(
            "Hi, you've reached Ann. I can't take your call right now. Please leave your name and number after the tone.")
        let dir = try Repository.temporaryDirectory("livekit-voicemail")
        try await peer.post("/_test/phone", ["play": greeting.path, "record": dir.appendingPathComponent("heard-{room}.wav").path, "clock": "answer"])
        let env = peer.environment.merging(["SIP_TRUNK_ADDRESS": "sip.carrier.example", "FROM_NUMBER": "+15550100000"]) { $1 }
        let worker = try SiphonProcess(["worker", "--id", "lk-amd", "--no-sip", "--metrics-port", "0"],
                                       redis: cluster.redis.urlString, environment: env, name: "lk-amd")
        try await cluster.waitForWorkers(1)
        try await cluster.queue.ensureGroup()
        var amd = AMDSettings()
        (amd.onMachine, amd.message) = (.leaveMessage, Self.message)
        let id = try await cluster.queue.enqueue(CallJob(agent: "offline-receptionist", to: PhoneNumber("+15550107010"), transport: .livekit, amd: amd)).id
        try? await cluster.waitAllTerminal([id], seconds: 60)
        let record = try #require(try await cluster.store.call(id))
        let events = try await cluster.store.events(id)
        #expect(record.status == .ended && record.reason == "left a message on an answering machine",
                "\(record.status) \(record.reason ?? "") \(events.map { "\($0.type) \($0.detail)" }) \(worker.output.suffix(2000))")
        #expect(events.first { $0.type == "amd" }?.detail.hasPrefix("machine") == true, "\(events.map(\.type))")
        #expect(events.first { $0.type == "amd_message" }?.detail.hasPrefix("after the beep") == true, "\(events.map { "\($0.type) \($0.detail)" })")
        #expect(try await cluster.store.turns(id).map(\.text) == [Self.message])
        let stt = try PocketSphinxSTT(phrases: [
            "this is bright smile dental calling to confirm your cleaning tomorrow at nine", "please call us back goodbye",
            "thank you for calling bright smile dental this is the automated receptionist how can i help you today",
        ])
        let text = try await WebRTCInteropTests.transcribe(wav: dir.appendingPathComponent("heard-\(LiveKitCallRunner.roomName(id)).wav").path, stt: stt)
        #expect(text.hasPrefix("this is bright smile dental calling to confirm your cleaning tomorrow at nine"), "the phone heard '\(text)'")
        // The agent listened before the callee answered: nothing said after the answer was lost.
        let listened = try #require((try await peer.get("/_test/events") as? [[String: Any]] ?? []).first { $0["event"] as? String == "phone_listened" })
        #expect(listened["before_answer"] as? Bool == true, "the agent started listening \(listened["late_ms"] ?? "?") ms after the answer")
        let context = try await cluster.store.context(id)
        try Self.figure("livekit_voicemail", ["decided_ms": Double(context["amd.decided_ms"] ?? "") ?? -1, "cause": context["amd.cause"] ?? "",
                                              "message": events.first { $0.type == "amd_message" }?.detail ?? "", "transcript": text,
                                              "agent_listening_before_answer": listened["before_answer"] as? Bool ?? false])
    }
}
