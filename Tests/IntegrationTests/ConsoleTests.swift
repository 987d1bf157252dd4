import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonOffline
import Testing

/// The operator console and browser calls in a real browser (headless Chromium over the DevTools
/// protocol): every page, live updates, a browser call with a fake microphone, failover, escaping,
/// the wrong token, a path prefix. Screenshots go to out/console/.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct ConsoleTests {
    static let token = "console-token-123"
    static let artifacts: URL = {
        let dir = Repository.root.appendingPathComponent("out/console")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Redis, a dispatcher, a supervisor and workers that take browser calls on loopback.
    final class Stack: @unchecked Sendable {
        let harness: ClusterHarness
        let dispatcher: SiphonProcess
        let port = LoopbackPort.free()
        private(set) var workers: [String: SiphonProcess] = [:]
        var base: String { "http://127.0.0.1:\(port)/" }

        let workerEnvironment: [String: String]

        init(workers ids: [String], config: URL? = nil, dispatcherEnvironment: [String: String] = [:],
             workerEnvironment: [String: String] = [:]) async throws {
            self.workerEnvironment = workerEnvironment
            harness = try ClusterHarness()
            dispatcher = try SiphonProcess(["dispatcher", "--port", String(port), "--host", "127.0.0.1"], redis: harness.redis.urlString,
                                           environment: dispatcherEnvironment.merging(["SIPHON_API_TOKEN": ConsoleTests.token]) { a, _ in a },
                                           name: "dispatcher")
            for id in ids { try worker(id, config: config) }
            try harness.supervisor()
            try await harness.waitForWorkers(ids.count)
            let url = URL(string: base + "healthz")!
            try await eventually(20, "dispatcher up") { ((try? await URLSession.shared.data(from: url))?.1 as? HTTPURLResponse)?.statusCode == 200 }
        }

        @discardableResult
        func worker(_ id: String, config: URL? = nil) throws -> SiphonProcess {
            let p = try SiphonProcess(["worker", "--id", id, "--capacity", "10", "--heartbeat-ms", "100", "--metrics-port", "0", "--no-sip"]
                                      + (config.map { ["--config", $0.path] } ?? []),
                                      redis: harness.redis.urlString, environment: workerEnvironment.merging(["SIPHON_WEBRTC_HOSTS": "127.0.0.1"]) { a, _ in a }, name: id)
            workers[id] = p
            return p
        }

        var logs: String { ([dispatcher] + workers.values).map { "--- \($0.name)\n\($0.output.suffix(3000))" }.joined(separator: "\n") }
    }

    /// Every page, through a reverse proxy that serves the dispatcher under /siphon/: the wrong
    /// token is refused, a call placed by the test appears and its transcript grows while the page
    /// watches, dead letters and workers show, markup in a dead job is text, and nothing on any
    /// page logs an error.
    @Test func everyPageWorksBehindAPathPrefixAndFollowsCallsLive() async throws {
        // The dispatcher shares the workers' recordings directory: the call page plays the recording.
        let recordings = try Repository.temporaryDirectory("console-recordings")
        let stack = try await Stack(workers: ["w1"], dispatcherEnvironment: ["SIPHON_RECORDINGS_DIR": recordings.path])
        let proxyPort = LoopbackPort.free()
        let proxy = try ChildProcess(Repository.python, [Repository.root.appendingPathComponent("Tests/Peers/prefix_proxy.py").path,
                                                         String(proxyPort), "http://127.0.0.1:\(stack.port)", "/siphon/"],
                                     environment: ProcessInfo.processInfo.environment, output: nil)
        defer { proxy.wait(seconds: 0) }
        let base = "http://127.0.0.1:\(proxyPort)/siphon/"
        try await eventually(20, "the proxy") { ((try? await URLSession.shared.data(from: URL(string: base)!))?.1 as? HTTPURLResponse)?.statusCode == 200 }

        let browser = try ConsoleBrowser()
        try await browser.goto(base)
        try await browser.screenshot(Self.artifacts.appendingPathComponent("sign-in.png"))
        try await browser.signIn("not-the-token")
        try await browser.wait("document.getElementById('signin-error').textContent.includes('refused')", "the wrong token refused")
        #expect(try await browser.eval("document.getElementById('nav').hidden") as? Bool == true)
        let refused = try await browser.errors(clear: true)
        #expect(refused.allSatisfy { $0.contains("401") }, "only the refused request: \(refused)")

        try await browser.signIn(Self.token)
        try await browser.wait("!!document.getElementById('calls-body') && document.getElementById('live').textContent === 'live'", "the calls page, following")
        // A call placed now shows up in the list, then its transcript grows on its page.
        let job = try CallJob(agent: "Sim", to: PhoneNumber("+15550100200"), transport: .sim, sim: SimSpec(turns: 12, intervalMs: 400))
        // What a worker writes for a recorded call (a sim call records nothing): two seconds of tone.
        try WAVFile(sampleRate: 8000, samples: (0..<16000).map { Int16(8000 * sin(Double($0) * 0.3)) }).write(recordings.appendingPathComponent("\(job.id)-1.wav").path)
        let placed = ContinuousClock.now
        _ = try await stack.harness.queue.enqueue(job)
        try await browser.wait("!!document.querySelector('tr[data-call=\"\(job.id)\"]')", "the new call's row", seconds: 5)
        let rowAfter = ContinuousClock.now - placed
        try await browser.wait("document.querySelector('tr[data-call=\"\(job.id)\"] [data-status]')?.dataset.status === 'active'", "the row turning active", seconds: 5)
        try await browser.screenshot(Self.artifacts.appendingPathComponent("calls.png"))

        _ = try await browser.eval("location.hash = '#/calls/\(job.id)'; 1")
        let first = try await browser.wait("document.querySelectorAll('#transcript li').length", "the first turns", seconds: 10) as? Int ?? 0
        try await browser.wait("document.querySelectorAll('#transcript li').length > \(first)", "the transcript growing live", seconds: 5)
        try await browser.wait("document.querySelector('#call-head [data-status]')?.dataset.status === 'ended'", "the call ending on its page", seconds: 15)
        #expect(try await browser.eval("document.querySelectorAll('#transcript li').length") as? Int == 12)
        #expect(try await browser.eval("document.querySelectorAll('#events li').length") as? Int ?? 0 >= 4)
        try await browser.wait("document.getElementById('recording-player')?.duration > 1.9", "the recording's player", seconds: 5)
        try await browser.screenshot(Self.artifacts.appendingPathComponent("call.png"))

        _ = try await browser.eval("location.hash = '#/workers'; 1")
        try await browser.wait("!!document.querySelector('tr[data-worker=\"w1\"]')", "the worker's row")
        try await browser.screenshot(Self.artifacts.appendingPathComponent("workers.png"))

        // A job nobody can read: dead-lettered, and its markup shown as text.
        try await stack.harness.client.send("XADD", stack.harness.keys.calls, "*", "job", #"{"agent":"<b id=bold>x</b>","to":"nope"}"#)
        do {
            try await eventually(10, "the dead letter") { try await stack.harness.queue.deadLetters().count == 1 }
        } catch {
            throw HarnessError("\(error): \(try await stack.harness.queue.deadLetters())\n\(stack.logs)")
        }
        _ = try await browser.eval("location.hash = '#/dead'; 1")
        try await browser.wait("document.getElementById('dead')?.textContent.includes('<b id=bold>')", "the dead letter, as text")
        #expect(try await browser.eval("document.getElementById('bold') === null") as? Bool == true)
        try await browser.screenshot(Self.artifacts.appendingPathComponent("dead-letters.png"))

        _ = try await browser.eval("location.hash = '#/place'; 1")
        try await browser.wait("!!document.querySelector('#place-agent option')", "the agents served")
        _ = try await browser.eval("document.getElementById('place-to').value = '+15550100300'; document.getElementById('place').requestSubmit(); 1")
        // No worker here dials SIP: the API's refusal is shown.
        try await browser.wait("document.getElementById('place-result').textContent.includes('no live worker serves')", "the refusal shown")
        try await browser.screenshot(Self.artifacts.appendingPathComponent("place-a-call.png"))
        // Chromium logs the refused POST (404: no worker serves it) as a network error: the one expected.
        let errors = try await browser.errors().filter { !$0.contains("/v1/calls") || !$0.contains("404") }
        #expect(errors.isEmpty, "\(errors)")
        try Self.note("row_visible_ms", (rowAfter.wholeMilliseconds))
    }

    /// A browser call with the offline receptionist: the fake microphone asks for the opening hours
    /// and says goodbye; the agent answers, says goodbye and hangs up. What the page recorded of
    /// the agent, transcribed, is what the agent's turns say.
    @Test func aBrowserCallCompletesAConversation() async throws {
        // Recorded like a SIP call; the dispatcher shares the directory and the call page plays it.
        // The directory does not exist yet: a worker without SIP (--no-sip) creates it at start-up.
        let recordings = try Repository.temporaryDirectory("console-talk").appendingPathComponent("recordings")
        let stack = try await Stack(workers: ["w1"], dispatcherEnvironment: ["SIPHON_RECORDINGS_DIR": recordings.path],
                                    workerEnvironment: ["SIPHON_RECORDINGS_DIR": recordings.path])
        let mic = try Self.speech(["What are your opening hours", "Goodbye"], gap: 7)
        // The greeting takes about seven seconds, the answer about four: the caller speaks after
        // each, with room to spare on a busy machine.
        let browser = try ConsoleBrowser(microphone: mic, delay: 10)
        try await Self.talk(browser, stack)
        let firstAudio = try await browser.wait("document.getElementById('talk-figures').dataset.firstAudioMs", "the agent's first audio", seconds: 20)
        let id = try #require(try await browser.eval("window.siphonTalk.id") as? String)
        let answerMs = try await browser.eval("window.siphonTalk.answerMs") as? Int ?? -1
        do {
            try await browser.wait("document.getElementById('talk-status').textContent.startsWith('call ')", "the agent ending the call", seconds: 60)
        } catch {
            throw HarnessError("\(error): turns \(try await stack.harness.store.turns(id).map { "\($0.role.rawValue): \($0.text)" })\n\(stack.logs)")
        }
        try await browser.wait("!!document.getElementById('talk-recording')", "the page's recording")
        try await browser.screenshot(Self.artifacts.appendingPathComponent("talk.png"))
        let heard = Self.artifacts.appendingPathComponent("talk-heard.wav")
        let seconds = try await browser.send(["webm": Self.recordingBase64, "wav": heard.path])["seconds"] as? Double ?? 0

        let call = try #require(try await stack.harness.store.call(id))
        #expect(call.status == .ended && call.transport == "webrtc", "\(call)")
        let turns = try await stack.harness.store.turns(id)
        let said = turns.filter { $0.role == .agent }.map(\.text)
        #expect(turns.contains { $0.role == .user && $0.text.lowercased().contains("opening hours") }, "\(turns.map(\.text))")
        #expect(said.contains("We are open from nine to five, Monday to Friday."), "\(said)")
        #expect(said.last == "Thank you for calling Bright Smile Dental. Goodbye!", "\(said)")
        #expect(turns.contains { $0.extra["latency.voice_to_voice_ms"] != nil })
        let context = try await stack.harness.store.context(id)
        #expect(context["webrtc.pair"] == "host→host" && Int(context["rtp.packets_received"] ?? "") ?? 0 > 100, "\(context)")
        // The page's transcript is the stored one.
        let shown = try await browser.eval("[...document.querySelectorAll('#talk-transcript .text')].map(e => e.textContent).join('|')") as? String
        #expect(shown == turns.map(\.text).joined(separator: "|"))

        // The call's page draws the latency waterfall.
        _ = try await browser.eval("location.hash = '#/calls/\(id)'; 1")
        try await browser.wait("document.querySelectorAll('#waterfall rect').length > 0", "the latency waterfall")
        try await browser.wait("document.getElementById('recording-player')?.duration > 10", "the recording's player")
        try await browser.screenshot(Self.artifacts.appendingPathComponent("call-waterfall.png"))
        #expect(try await browser.errors().isEmpty)
        // Transcribed with the browser gone: the recogniser keeps real time and drops what it cannot keep up with.
        browser.close()
        // What the page heard, transcribed against the agent's lines and lines it never said.
        // Phrases are whole turns: the recogniser decodes one per utterance.
        let decoys = ["Of course. We have openings on Tuesday and on Thursday this week. Which day would suit you best?",
                      "Tuesday works. Would you prefer the morning or the afternoon?", "Sorry, I didn't catch that. Could you say it again?"]
        let stt = try PocketSphinxSTT(phrases: said + decoys)
        // Whole turns are the phrases: pauses inside a turn (between its sentences) stay in its utterance.
        let text = try await WebRTCInteropTests.transcribe(wav: heard.path, stt: stt, joiningPauses: 25)
        #expect(text == said.map(PocketSphinxSTT.normalize).joined(separator: " "), "heard '\(text)' in \(seconds) s of recording")
        // The worker's recording: the agent's side (right) says the same.
        let agentSide = WAVFile(sampleRate: 16000, samples: try Self.channel(1, of: recordings.appendingPathComponent("\(id)-1.wav")))
        let agentWAV = Self.artifacts.appendingPathComponent("talk-recorded-agent.wav")
        try agentSide.write(agentWAV.path)
        let recordedText = try await WebRTCInteropTests.transcribe(wav: agentWAV.path, stt: stt, joiningPauses: 25)
        #expect(recordedText == said.map(PocketSphinxSTT.normalize).joined(separator: " "), "the recording's agent side: '\(recordedText)'")
        try Self.note("talk_first_audio_ms", firstAudio as? String ?? "")
        try Self.note("talk_answer_ms", answerMs)
        try Self.note("talk_transcript", turns.map { "\($0.role.rawValue): \($0.text)" })
        try Self.note("talk_heard_by_page", text)
    }

    /// The worker holding a browser call is killed: the page offers again, the worker the call
    /// is reassigned to answers and resumes with the history; the page's call goes on.
    @Test func aBrowserCallSurvivesItsWorkerDying() async throws {
        let stack = try await Stack(workers: ["w1", "w2"])
        let browser = try ConsoleBrowser(microphone: try Self.speech(["What are your opening hours"], gap: 0), delay: 8)
        try await Self.talk(browser, stack)
        try await browser.wait("document.getElementById('talk-status').textContent === 'connected'", "connected", seconds: 15)
        let id = try #require(try await browser.eval("window.siphonTalk.id") as? String)
        try await eventually(15, "the call active") { try await stack.harness.store.call(id)?.status == .active }
        let owner = try #require(try await stack.harness.store.call(id)?.worker)
        let survivor = owner == "w1" ? "w2" : "w1"
        stack.workers[owner]!.signal(SIGKILL)
        let killed = ContinuousClock.now
        try await browser.wait("document.getElementById('talk-status').textContent === 'reconnected'", "the page reconnected", seconds: 20)
        let reconnectedAfter = ContinuousClock.now - killed
        // The new owner hears the caller (who speaks eight seconds in) and answers.
        do {
            try await eventually(30, "the survivor answering the caller") {
                try await stack.harness.store.turns(id).contains { $0.text.hasPrefix("We are open") }
            }
        } catch {
            throw HarnessError("\(error): \(try await stack.harness.store.turns(id).map(\.text))\n\(stack.logs)")
        }
        let record = try #require(try await stack.harness.store.call(id))
        #expect(record.worker == survivor && record.epoch == 2 && record.status == .active, "\(record)")
        let events = try await stack.harness.store.events(id)
        #expect(events.contains { $0.type == "webrtc_reconnected" && $0.worker == survivor }, "\(events.map(\.type))")
        try await browser.wait("document.querySelectorAll('#talk-transcript li').length >= 3", "the page's transcript after the failover")
        try await browser.screenshot(Self.artifacts.appendingPathComponent("talk-failover.png"))
        _ = try await browser.eval("document.getElementById('talk-stop').click(); 1")
        try await eventually(10, "the call hung up") { try await stack.harness.store.call(id)?.status.isTerminal == true }
        #expect(try await browser.errors().filter { !$0.contains("ICE") }.isEmpty)
        try Self.note("failover_reconnected_ms", reconnectedAfter.wholeMilliseconds)
    }

    /// A caller whose words look like HTML (the recogniser's text, from the Deepgram stand-in) is
    /// shown as text on the talk page and the call's page: no element made of it, no script run.
    @Test func whatACallerSaysIsShownAsText() async throws {
        let providers = try await ProviderPeer()
        let config = try Repository.temporaryDirectory("console-xss").appendingPathComponent("agent.yaml")
        try """
            agents:
              - name: markup-caller
                instructions: Answer.
                greeting: Hello.
                stt: { provider: deepgram, api_key: dg-test, model: mock-markup, base_url: "ws://127.0.0.1:\(providers.port)" }
                llm: { provider: openai, api_key: sk-test, model: mock-ok, base_url: "http://127.0.0.1:\(providers.port)/v1" }
                tts: { provider: cartesia, api_key: sk-cartesia, voice: voice-1, base_url: "ws://127.0.0.1:\(providers.port)" }
            """.write(to: config, atomically: true, encoding: .utf8)
        let stack = try await Stack(workers: ["w1"], config: config)
        let browser = try ConsoleBrowser(microphone: try Self.speech(["Hello there"], gap: 0), delay: 2)
        try await Self.talk(browser, stack)
        let payload = "<img src=x onerror=alert(1)>"
        try await browser.wait("[...document.querySelectorAll('#talk-transcript .text')].some(e => e.textContent.includes(\(ConsoleBrowser.quoted(payload))))",
                               "the caller's words, as text", seconds: 30)
        #expect(try await browser.eval("document.querySelectorAll('main img').length") as? Int == 0)
        let id = try #require(try await browser.eval("window.siphonTalk.id") as? String)
        _ = try await browser.eval("document.getElementById('talk-stop').click(); location.hash = '#/calls/\(id)'; 1")
        try await browser.wait("[...document.querySelectorAll('#transcript .text')].some(e => e.textContent.includes(\(ConsoleBrowser.quoted(payload))))",
                               "the call page's transcript")
        #expect(try await browser.eval("document.querySelectorAll('main img').length") as? Int == 0)
        try await browser.screenshot(Self.artifacts.appendingPathComponent("markup-as-text.png"))
        // No alert() dialog, no CSP violation, no error.
        #expect(try await browser.errors().isEmpty)
    }

    /// A worker told to use the TURN relay only (`SIPHON_WEBRTC_RELAY_ONLY`: its addresses never
    /// reach the browser): it answers with relayed candidates alone, and the greeting reaches the
    /// page through coturn. The TURN password is in no log.
    @Test func aBrowserCallThroughTheTURNRelayOnly() async throws {
        let relay = try #require(HostAddress.primaryIPv4(), "a non-loopback address for coturn to relay from")
        let turn = try await TURNServer(listen: ["127.0.0.1"], relayIP: relay)
        let stack = try await Stack(workers: ["w1"], workerEnvironment: [
            "SIPHON_TURN_URLS": "turn:127.0.0.1:\(turn.port)", "SIPHON_TURN_USERNAME": turn.username,
            "SIPHON_TURN_PASSWORD": turn.password, "SIPHON_WEBRTC_RELAY_ONLY": "true",
        ])
        let browser = try ConsoleBrowser(microphone: try Self.speech(["Hello"], gap: 0), delay: 30)
        try await Self.talk(browser, stack)
        _ = try await browser.wait("document.getElementById('talk-figures').dataset.firstAudioMs", "the agent's first audio", seconds: 20)
        let answer = try #require(try await browser.eval("window.siphonTalk.pc.remoteDescription.sdp") as? String)
        let candidates = answer.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("a=candidate:") }
        #expect(!candidates.isEmpty && candidates.allSatisfy { $0.contains(" typ relay") } && !answer.contains(" typ host"), "\(candidates)")
        let id = try #require(try await browser.eval("window.siphonTalk.id") as? String)
        _ = try await browser.eval("document.getElementById('talk-stop').click(); 1")
        try await stack.harness.waitAllTerminal([id])  // the media figures are written as the call ends, canceled too
        let context = try await stack.harness.store.context(id)
        #expect(context["webrtc.pair"]?.hasPrefix("relay→") == true && Int(context["rtp.packets_received"] ?? "") ?? 0 > 0, "\(context)")
        #expect(!([stack.dispatcher] + stack.workers.values).contains { $0.output.contains(turn.password) })
    }

    // MARK: helpers

    /// Signs in, opens "talk to an agent" and presses Talk (the agent is the first one served).
    static func talk(_ browser: ConsoleBrowser, _ stack: Stack) async throws {
        try await browser.goto(stack.base)
        try await browser.signIn(token)
        try await browser.wait("!!document.getElementById('calls-body')", "signed in")
        _ = try await browser.eval("location.hash = '#/talk'; 1")
        try await browser.wait("!!document.querySelector('#talk-agent option')", "the agents")
        _ = try await browser.eval("document.getElementById('talk-start').click(); 1")
    }

    /// The page's recording of the agent, base64 (what `{"webm": …}` decodes).
    static let recordingBase64 = """
        (async () => { const b = window.siphonTalk.recording; if (!b) return null;
          const bytes = new Uint8Array(await b.arrayBuffer()); let s = '';
          for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
          return btoa(s); })()
        """

    /// espeak-ng phrases with `gap` seconds of silence between them, as one WAV.
    static func speech(_ phrases: [String], gap: Double) throws -> URL {
        let dir = try Repository.temporaryDirectory("console-speech")
        var samples: [Int16] = []
        var rate = 22050
        for (i, p) in phrases.enumerated() {
            let f = dir.appendingPathComponent("\(i).wav")
            try Repository.run("espeak-ng", ["-v", "en-us", "-s", "150", "-w", f.path, p])
            let wav = try WAVFile.read(f.path)
            rate = wav.sampleRate
            if i > 0 { samples += [Int16](repeating: 0, count: Int(gap * Double(rate))) }
            samples += wav.samples
        }
        let out = dir.appendingPathComponent("speech.wav")
        try WAVFile(sampleRate: rate, samples: samples).write(out.path)
        return out
    }

    /// One channel of a stereo PCM16 recording: 0 the caller's side, 1 the agent's.
    static func channel(_ index: Int, of url: URL) throws -> [Int16] {
        let data = try Data(contentsOf: url)
        guard data.count > 44, let chunk = data.range(of: Data("data".utf8)) else { throw HarnessError("\(url.lastPathComponent) has no data chunk") }
        let bytes = [UInt8](data[(chunk.upperBound + 4)...])
        return stride(from: 2 * index, to: bytes.count - 1, by: 4).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
    }

    /// A figure for the closing note (out/console/figures.json).
    static func note(_ key: String, _ value: Any) throws {
        let url = artifacts.appendingPathComponent("figures.json")
        var figures = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
        figures[key] = value
        try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys, .prettyPrinted]).write(to: url)
    }
}
