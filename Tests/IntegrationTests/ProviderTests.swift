import Foundation
import Logging
import Testing
import SiphonAgent
import SiphonAudio
import SiphonCore
@testable import SiphonAnthropic
@testable import SiphonCartesia
@testable import SiphonDeepgram
@testable import SiphonElevenLabs
@testable import SiphonOpenAI
@testable import SiphonProviderKit
import SiphonRedis

/// The provider clients against local servers that speak each provider's wire protocol; the
/// servers are first proved faithful by driving them with the official Python SDKs.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ProviderTests {
    func openAI(_ peer: ProviderPeer, retries: Int = 2, timeout: Duration = .seconds(10)) -> OpenAIConfiguration {
        var c = OpenAIConfiguration(provider: "openai", baseURL: peer.openAIBase, apiKey: "sk-test")
        c.retry = RetryPolicy(maxRetries: retries, baseDelay: .milliseconds(20))
        c.firstByteTimeout = timeout
        return c
    }

    func collect(_ llm: any LanguageModel, _ prompt: String, tools: [ToolSpec] = []) async throws -> (String, [ToolCall], [LLMEvent]) {
        var text = "", calls: [ToolCall] = [], events: [LLMEvent] = []
        for try await e in try await llm.stream(LLMRequest(messages: [.system("Be brief."), .user(prompt)], tools: tools)) {
            events.append(e)
            switch e {
            case .text(let t): text += t
            case .toolCall(let c): calls.append(c)
            case .usage: break
            }
        }
        return (text, calls, events)
    }

    func failure(_ llm: any LanguageModel, _ prompt: String) async -> (ProviderError?, String) {
        var text = ""
        do {
            for try await e in try await llm.stream(LLMRequest(messages: [.user(prompt)])) { if case .text(let t) = e { text += t } }
            return (nil, text)
        } catch {
            return (error as? ProviderError, text)
        }
    }

    @Test func theStandInsAreFaithfulToTheOfficialSDKs() async throws {
        let peer = try await ProviderPeer()
        // Bounded: an SDK that never returns must fail the test, not hang the run.
        let out = try Repository.run("/usr/bin/timeout", ["120", Repository.python,
                                                          Repository.root.appendingPathComponent("Tests/Peers/provider_sdk_check.py").path, String(peer.port)])
        let checks = out.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(checks.count == 31, "\(out)")
        for c in checks { #expect(c["ok"] as? Bool == true, "\(c["check"] ?? ""): \(c["detail"] ?? "")") }
    }

    @Test func openAIStreamsTextUsageAndToolCalls() async throws {
        let peer = try await ProviderPeer()
        let (text, _, events) = try await collect(OpenAILLM(configuration: openAI(peer), model: "mock-ok"), "hi there")
        #expect(text == "Hello there! How can I help?")
        #expect(events.last == .usage(promptTokens: 4, completionTokens: 8))
        let tools = [ToolSpec(name: "book", description: "Book a slot", parameters: #"{"type":"object","properties":{"day":{"type":"string"}}}"#),
                     ToolSpec(name: "end_call", description: "Hang up")]
        let (_, calls, _) = try await collect(OpenAILLM(configuration: openAI(peer), model: "mock-tool"), "book", tools: tools)
        #expect(calls == [ToolCall(id: "call_a", name: "book", arguments: #"{"day": "Tuesday"}"#), ToolCall(id: "call_b", name: "end_call", arguments: "{}")])
        // A compatible server without usage reporting: no stream_options sent.
        let (plain, _, plainEvents) = try await collect(OpenAILLM(configuration: openAI(peer), model: "mock-ok", includeUsage: false), "hi")
        #expect(plain == text && !plainEvents.contains { if case .usage = $0 { true } else { false } })
    }

    @Test func openAIErrorsAreClassifiedAndRetriedOnlyWhenWaitingHelps() async throws {
        let peer = try await ProviderPeer()
        func attempts(_ body: () async throws -> Void) async throws -> Int {
            let before = try await peer.requests()
            try await body()
            return try await peer.requests() - before
        }
        var reply = ""
        #expect(try await attempts { reply = try await collect(OpenAILLM(configuration: openAI(peer), model: "mock-429-once"), "r1").0 } == 2)
        #expect(reply.hasPrefix("Hello"))
        reply = ""
        #expect(try await attempts { reply = try await collect(OpenAILLM(configuration: openAI(peer), model: "mock-503-once"), "r2").0 } == 2)
        #expect(reply.hasPrefix("Hello"))
        var quota: ProviderError?
        #expect(try await attempts { quota = await failure(OpenAILLM(configuration: openAI(peer), model: "mock-quota"), "q").0 } == 1)
        #expect(quota?.kind == .quotaExceeded && quota?.code == "insufficient_quota" && quota?.requestID == "req_mock")
        var limited: ProviderError?
        #expect(try await attempts { limited = await failure(OpenAILLM(configuration: openAI(peer), model: "mock-429"), "r3").0 } == 3)
        #expect(limited?.kind == .rateLimited && limited?.retryAfter == .milliseconds(50))
        var wrongKey = openAI(peer)
        wrongKey.apiKey = "sk-wrong"
        let (auth, _) = await failure(OpenAILLM(configuration: wrongKey, model: "mock-ok"), "x")
        #expect(auth?.kind == .authentication && auth?.code == "invalid_api_key" && !(auth?.description.contains("sk-wrong") ?? true))
        let (bad, _) = await failure(OpenAILLM(configuration: openAI(peer), model: "mock-bad"), "x")
        #expect(bad?.kind == .badRequest && bad?.status == 400)
        let (slow, _) = await failure(OpenAILLM(configuration: openAI(peer, retries: 0, timeout: .milliseconds(500)), model: "mock-slow"), "x")
        #expect(slow?.kind == .timeout, "\(String(describing: slow))")
        // Cut short after words went out: an error, not a replay (the caller may have heard them).
        var cut: (ProviderError?, String) = (nil, "")
        #expect(try await attempts { cut = await failure(OpenAILLM(configuration: openAI(peer), model: "mock-truncated"), "t") } == 1)
        #expect(cut.0.map { [.malformed, .connection].contains($0.kind) } == true && cut.1 == "Hello there!", "\(String(describing: cut.0))")
        let (midStream, said) = await failure(OpenAILLM(configuration: openAI(peer), model: "mock-stream-error"), "e")
        #expect(midStream?.kind == .server && said == "Hello there!")
        let nowhere = OpenAIConfiguration(provider: "openai", baseURL: "http://127.0.0.1:\(LoopbackPort.free())/v1", apiKey: "k")
        #expect(await failure(OpenAILLM(configuration: { var c = nowhere; c.retry = .none; return c }(), model: "m"), "x").0?.kind == .connection)
    }

    @Test func anthropicStreamsTextToolsAndItsErrors() async throws {
        let peer = try await ProviderPeer()
        func claude(_ model: String, retries: Int = 2, key: String = "sk-ant-test") -> AnthropicLLM {
            var o = ProviderOptions()
            o.retry = RetryPolicy(maxRetries: retries, baseDelay: .milliseconds(20))
            return AnthropicLLM(model: model, apiKey: key, baseURL: peer.anthropicBase, options: o)
        }
        let (text, _, events) = try await collect(claude("mock-ok"), "hi")
        #expect(text == "Hello there! How can I help?" && events.last == .usage(promptTokens: 12, completionTokens: 8))
        let (said, calls, _) = try await collect(claude("mock-tool"), "book", tools: [ToolSpec(name: "book", description: "Book")])
        #expect(said == "Booking that." && calls == [ToolCall(id: "toolu_mock", name: "book", arguments: #"{"day": "Tuesday"}"#)])
        #expect(try await collect(claude("mock-429-once"), "again").0.hasPrefix("Hello"))
        #expect(await failure(claude("mock-overloaded", retries: 0), "x").0.map { ($0.kind, $0.status, $0.code) } ?? (.configuration, nil, nil) == (.server, 529, "overloaded_error"))
        #expect(await failure(claude("mock-quota"), "x").0?.kind == .quotaExceeded)
        #expect(await failure(claude("mock-ok", key: "sk-ant-wrong"), "x").0?.kind == .authentication)
        let (streamError, before) = await failure(claude("mock-stream-error"), "x")
        #expect(streamError?.kind == .server && streamError?.code == "overloaded_error" && before == "Hello there!")
        let truncated = await failure(claude("mock-truncated"), "x").0
        #expect(truncated.map { [.malformed, .connection].contains($0.kind) } == true, "\(String(describing: truncated))")
        // The history Siphon keeps maps onto Claude's content blocks.
        let body = try claude("m").requestBody(LLMRequest(messages: [
            .system("S"), .user("book Tuesday"), ChatMessage(role: .assistant, content: "", toolCalls: [ToolCall(id: "t1", name: "book", arguments: #"{"day":"Tue"}"#)]),
            ChatMessage(role: .tool, content: "booked", toolCallID: "t1"), .user("thanks"),
        ]))
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let messages = try #require(json["messages"] as? [[String: Any]])
        #expect(json["system"] as? String == "S" && messages.map { $0["role"] as? String } == ["user", "assistant", "user"])
        #expect(((messages[2]["content"] as? [[String: Any]])?.map { $0["type"] as? String }) == ["tool_result", "text"])
    }

    @Test func fallbackTakesTheTurnWhenTheFirstProviderFailsBeforeAnswering() async throws {
        let peer = try await ProviderPeer()
        var claudeOptions = ProviderOptions()
        claudeOptions.retry = .none
        let claude = AnthropicLLM(model: "mock-ok", apiKey: "sk-ant-test", baseURL: peer.anthropicBase, options: claudeOptions)
        let chain = FallbackLLM([OpenAILLM(configuration: openAI(peer, retries: 0), model: "mock-503"), claude])
        #expect(try await collect(chain, "fallback please").0 == "Hello there! How can I help?")
        // After words have gone out, the failure is not replayed on the next provider.
        let late = FallbackLLM([OpenAILLM(configuration: openAI(peer, retries: 0), model: "mock-truncated"), claude])
        let (error, said) = await failure(late, "late")
        #expect(error.map { [.malformed, .connection].contains($0.kind) } == true && said == "Hello there!")
        // TTS: the same, per sentence.
        let voices = FallbackTTS([try OpenAITTS(configuration: openAI(peer, retries: 0), model: "mock-tts-503"),
                                  try OpenAITTS(configuration: openAI(peer), model: "mock-tts")])
        var samples = 0
        for try await f in try await voices.synthesize("Hello") { samples += f.samples.count }
        #expect(samples == 6_240)  // 0.25 s at 24 kHz, in whole 20 ms frames
    }

    @Test func aRecogniserThatFailsMidCallIsReplacedAndTheCallGoesOn() async throws {
        let peer = try await ProviderPeer()
        // Deepgram's socket fails on the first audio (close 1011); OpenAI's per-utterance STT takes over.
        let stt = FallbackSTT([try DeepgramSTT(apiKey: "dg-test", model: "mock-error", baseURL: "ws://127.0.0.1:\(peer.port)"),
                               OpenAISTT(configuration: openAI(peer), model: "mock-stt")])
        let stream = try await stt.open()
        let quiet = AudioFrame.silence(sampleRate: 8000)
        // One Deepgram message's worth of quiet (its frames go out in pairs).
        for _ in 0..<DeepgramSTTStream.framesPerMessage { try await stream.send(quiet, speech: false) }
        try await Task.sleep(for: .milliseconds(300))  // the failure reaches the chain, which opens the next recogniser
        for f in Self.speech(rate: 8000, seconds: 1.0) { try await stream.send(f, speech: true) }
        try await stream.send(quiet, speech: false)
        try await stream.flush()
        await stream.close()
        var texts: [String] = []
        for try await t in stream.transcripts where t.isFinal { texts.append(t.text) }
        // Exactly the speech: the quiet before it went to the recogniser that failed.
        #expect(texts == ["heard 1.00 seconds at 8000 Hz"], "\(texts)")
    }

    @Test func theCircuitOpensAfterRepeatedServerFailuresAndSparesTheProvider() async throws {
        let peer = try await ProviderPeer()
        let llm = OpenAILLM(configuration: openAI(peer, retries: 0), model: "mock-503")
        for _ in 0..<5 { #expect(await failure(llm, "c").0?.kind == .server) }
        let before = try await peer.requests()
        #expect(await failure(llm, "c").0?.kind == .circuitOpen)
        #expect(try await peer.requests() == before)
    }

    @Test func openAISpeechAndTranscriptionCarryAudio() async throws {
        let peer = try await ProviderPeer()
        let tts = try OpenAITTS(configuration: openAI(peer), model: "mock-tts", voice: "alloy")
        var frames: [AudioFrame] = []
        for try await f in try await tts.synthesize("Hello there") { frames.append(f) }
        #expect(frames.count == 28 && frames.allSatisfy { $0.sampleRate == 24_000 && $0.samples.count == 480 })  // 0.55 s
        #expect(frames[0].levelDB > -30)
        var heard = 0
        do {
            for try await f in try await OpenAITTS(configuration: openAI(peer), model: "mock-truncated").synthesize("Hello there") { heard += f.samples.count }
            Issue.record("a truncated body must fail")
        } catch {
            #expect((error as? ProviderError)?.kind == .connection || (error as? ProviderError)?.kind == .malformed, "\(error)")
            #expect(heard > 0)  // audio went out first: the failure is reported, not replayed
        }

        let stt = OpenAISTT(configuration: openAI(peer), model: "mock-stt")
        let stream = try await stt.open()
        let silence = AudioFrame.silence(sampleRate: 16_000)
        let voice = AudioFrame(sampleRate: 16_000, samples: (0..<320).map { Int16(4000 * sin(Double($0) / 5)) })
        for _ in 0..<20 { try await stream.send(silence, speech: false) }
        for _ in 0..<50 { try await stream.send(voice, speech: true) }   // 1 s of speech
        try await stream.send(silence, speech: false)                     // the caller stops
        for _ in 0..<25 { try await stream.send(voice, speech: true) }   // and says a little more
        try await stream.flush()
        await stream.close()
        var texts: [String] = []
        for try await t in stream.transcripts { texts.append(t.text) }
        // With the audio heard before speech: 300 ms before the first, the one silent frame before the second.
        #expect(texts == ["heard 1.30 seconds at 16000 Hz", "heard 0.52 seconds at 16000 Hz"])

        // `flush` runs in the call's frame loop: it submits and returns, whatever the server does.
        // The server holds this transcription until released, which happens only after flush returned;
        // close then waits for the caller's last words.
        let held = try await OpenAISTT(configuration: openAI(peer), model: "mock-held").open()
        for _ in 0..<25 { try await held.send(voice, speech: true) }
        try await held.flush()
        try await peer.releaseHeld()
        await held.close()
        var last: [String] = []
        for try await t in held.transcripts { last.append(t.text) }
        #expect(last == ["heard 0.50 seconds at 16000 Hz"])
    }

    @Test func aFleetRateLimitIsSharedThroughRedis() async throws {
        let redis = try RedisServer()
        let logger = Logger(label: "test")
        let a = RedisClient(RedisClient.Configuration(url: redis.url, connections: 1), logger: logger)
        let b = RedisClient(RedisClient.Configuration(url: redis.url, connections: 1), logger: logger)
        // One request per 100 s, two at once: two workers together get two, the third waits.
        var w1 = FleetRateLimiter(redis: a, provider: "openai", apiKey: "sk-one", ratePerSecond: 0.01, burst: 2)
        var w2 = FleetRateLimiter(redis: b, provider: "openai", apiKey: "sk-one", ratePerSecond: 0.01, burst: 2)
        (w1.maxWait, w2.maxWait) = (.milliseconds(100), .milliseconds(100))
        try await w1.acquire(provider: "openai")
        try await w2.acquire(provider: "openai")
        let error = await #expect(throws: ProviderError.self) { try await w1.acquire(provider: "openai") }
        #expect(error?.kind == .rateLimited && (error?.retryAfter ?? .zero) > .seconds(50))
        // Another key has its own bucket; Redis never sees a key.
        try await FleetRateLimiter(redis: a, provider: "openai", apiKey: "sk-two", ratePerSecond: 0.01, burst: 1).acquire(provider: "openai")
        let keys = try await a.send("KEYS", "*").array?.compactMap(\.string) ?? []
        #expect(keys.count == 2 && keys.allSatisfy { !$0.contains("sk-") })
        a.close()
        b.close()
    }

    @Test func keysAreCheckedWhenTheWorkerStartsAndOptionsAreValidated() throws {
        var registry = PluginRegistry()
        registry.merge(OpenAIPlugins.registry)
        registry.merge(AnthropicPlugins.registry)
        let yaml = """
            agents:
              - name: a
                instructions: x
                stt: {provider: openai}
                llm:
                  provider: fallback
                  chain:
                    - {provider: openai, model: gpt-4o-mini, timeout: 5, max_retries: 1}
                    - {provider: anthropic, model: claude-haiku-4-5}
                tts: {provider: openai, voice: coral}
            """
        let config = try AgentConfiguration.parse(yaml, source: "test")
        let noKeys = Environment([:])
        let missing = #expect(throws: SiphonError.self) { try registry.makeAgent(config.agents[0], environment: noKeys) }
        #expect(missing?.message.contains("OPENAI_API_KEY") == true)
        let agent = try registry.makeAgent(config.agents[0], environment: Environment(["OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-b"]))
        #expect(agent.llm.name == "fallback(openai:gpt-4o-mini, anthropic:claude-haiku-4-5)")
        // Local servers need no key; an unknown option or voice is named.
        let local = try AgentConfiguration.parse(yaml.replacingOccurrences(of: "provider: openai, model: gpt-4o-mini", with: "provider: ollama, model: llama3.2")
            .replacingOccurrences(of: "voice: coral", with: "voice: robot"), source: "test")
        let voice = #expect(throws: SiphonError.self) { try registry.makeAgent(local.agents[0], environment: Environment(["OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"])) }
        #expect(voice?.message.contains("'robot' is not an OpenAI voice") == true)
        let typo = try AgentConfiguration.parse(yaml.replacingOccurrences(of: "max_retries: 1", with: "max_retrys: 1"), source: "test")
        #expect(throws: SiphonError.self) { try registry.makeAgent(typo.agents[0], environment: Environment(["OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"])) }
        // The Realtime transcription session is an option of the openai recogniser, checked like the others.
        let keys = Environment(["OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"])
        let realtime = try AgentConfiguration.parse(yaml.replacingOccurrences(of: "stt: {provider: openai}",
                                                                              with: "stt: {provider: openai, realtime: true, silence_ms: 400}"), source: "test")
        let stt = try #require(try registry.makeAgent(realtime.agents[0], environment: keys).stt as? OpenAIRealtimeSTT)
        #expect(stt.sampleRate == 8000 && stt.silenceMs == 400 && stt.url == "wss://api.openai.com/v1/realtime?intent=transcription")
        for wrong in ["encoding: opus", "silence_ms: 10", "threshold: 2"] {
            let config = try AgentConfiguration.parse(yaml.replacingOccurrences(of: "stt: {provider: openai}", with: "stt: {provider: openai, realtime: true, \(wrong)}"),
                                                      source: "test")
            let e = #expect(throws: SiphonError.self) { try registry.makeAgent(config.agents[0], environment: keys) }
            #expect(e?.message.contains(String(wrong.prefix { $0 != ":" })) == true, "\(wrong): \(e?.message ?? "")")
        }
        let groq = try AgentConfiguration.parse(yaml.replacingOccurrences(of: "stt: {provider: openai}", with: "stt: {provider: groq, realtime: true}"), source: "test")
        #expect(throws: SiphonError.self) { try registry.makeAgent(groq.agents[0], environment: keys.setting("GROQ_API_KEY", "k")) }
    }

    @Test func commandsTryProvidersByHand() async throws {
        let peer = try await ProviderPeer()
        let env = ["OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant-test", "DEEPGRAM_API_KEY": "dg-test", "CARTESIA_API_KEY": "sk-cartesia",
                   "ELEVEN_API_KEY": "sk-eleven"]
        let base = ["--env-file", "", "--base-url", peer.openAIBase]
        let (s1, o1, _) = try SiphonProcess.run(["llm", "--model", "mock-ok"] + base + ["hi"], redis: nil, environment: env)
        #expect(s1 == 0 && o1 == "Hello there! How can I help?\n", "\(o1)")
        let (s2, o2, _) = try SiphonProcess.run(["llm", "--provider", "anthropic", "--model", "mock-ok", "--env-file", "", "--base-url", peer.anthropicBase, "hi"],
                                                redis: nil, environment: env)
        #expect(s2 == 0 && o2.hasPrefix("Hello there!"), "\(o2)")
        let wav = try Repository.temporaryDirectory("tts").appendingPathComponent("out.wav").path
        let (s3, o3, e3) = try SiphonProcess.run(["tts", "--model", "mock-tts", "--text", "Hello world"] + base + ["--out", wav], redis: nil, environment: env)
        #expect(s3 == 0 && o3.contains("0.56 s at 24000 Hz"), "\(o3)\(e3)")
        let (s4, o4, _) = try SiphonProcess.run(["stt", "--model", "mock-stt", "--in", wav] + base, redis: nil, environment: env)
        #expect(s4 == 0 && o4 == "heard 0.56 seconds at 24000 Hz\n", "\(o4)")
        let (s4r, o4r, e4r) = try SiphonProcess.run(["stt", "--realtime", "--in", wav] + base, redis: nil, environment: env)
        #expect(s4r == 0 && o4r == "heard 0.56 seconds\n", "\(o4r)\(e4r)")  // streamed as μ-law 8 kHz, committed at the end
        let check = ["providers", "check", "--json", "--env-file", "", "--openai-base-url", peer.openAIBase, "--anthropic-base-url", peer.anthropicBase,
                     "--deepgram-base-url", peer.anthropicBase, "--cartesia-base-url", peer.anthropicBase, "--elevenlabs-base-url", peer.anthropicBase]
        let (s5, o5, _) = try SiphonProcess.run(check, redis: nil, environment: env)
        let rows = (try JSONSerialization.jsonObject(with: Data(o5.utf8))) as? [[String: Any]] ?? []
        #expect(s5 == 0 && rows.map { $0["provider"] as? String } == ["openai", "anthropic", "deepgram", "cartesia", "elevenlabs"]
                && rows.allSatisfy { $0["status"] as? String == "ok" }, "\(o5)")
        var revoked = env
        (revoked["OPENAI_API_KEY"], revoked["CARTESIA_API_KEY"]) = ("sk-revoked", "sk-revoked-too")
        let (s6, o6, _) = try SiphonProcess.run(check, redis: nil, environment: revoked)
        let bad = ((try JSONSerialization.jsonObject(with: Data(o6.utf8))) as? [[String: Any]] ?? []).filter { $0["status"] as? String == "invalid key" }
        #expect(s6 == 1 && bad.map { $0["provider"] as? String } == ["openai", "cartesia"] && !o6.contains("sk-revoked"), "\(o6)")
        // The same checks inside `siphon preflight`, the endpoints from the SDKs' *_BASE_URL variables.
        let others = ["environment", "redis", "sip", "livekit", "vad", "codecs", "barge-in"].flatMap { ["--skip", $0] }
        var preflightEnv = revoked
        for name in ["OPENAI", "ANTHROPIC", "DEEPGRAM", "CARTESIA", "ELEVENLABS"] {
            preflightEnv["\(name)_BASE_URL"] = name == "OPENAI" ? peer.openAIBase : peer.anthropicBase
        }
        let (s9, o9, _) = try SiphonProcess.run(["preflight", "--json", "--env-file", ""] + others, redis: nil, environment: preflightEnv)
        let line = o9.split(separator: "\n").last.map(String.init) ?? ""
        let results = ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["checks"] as? [[String: Any]] ?? []
        let statuses = Dictionary(uniqueKeysWithValues: results.compactMap { r in (r["check"] as? String).map { ($0, r["status"] as? String ?? "") } })
        #expect(s9 == 1 && statuses["provider openai"] == "fail" && statuses["provider cartesia"] == "fail" && statuses["provider anthropic"] == "pass"
                && statuses["provider deepgram"] == "pass" && statuses["provider elevenlabs"] == "pass", "\(o9)")
        let (s7, _, e7) = try SiphonProcess.run(["llm", "--model", "mock-quota"] + base + ["hi"], redis: nil, environment: env)
        #expect(s7 != 0 && e7.contains("quota_exceeded"), "\(e7)")
        let (s8, _, e8) = try SiphonProcess.run(["llm", "--env-file", "", "hi"], redis: nil, environment: ["OPENAI_API_KEY": ""])
        #expect(s8 != 0 && e8.contains("OPENAI_API_KEY"), "\(e8)")
    }

    // MARK: streaming speech providers

    static func speech(rate: Int, seconds: Double) -> [AudioFrame] {
        let n = Int(Double(rate) * seconds) / (rate / 50)
        return (0..<n).map { k in AudioFrame(sampleRate: rate, samples: (0..<(rate / 50)).map { i in Int16(6000 * sin(Double(k * rate / 50 + i) / 3)) }) }
    }

    /// The Realtime transcription session: μ-law straight from the line (or 24 kHz PCM), the
    /// server's VAD ends the first utterance, `flush` commits the second; deltas arrive as interim
    /// transcripts before each final.
    @Test func openAIRealtimeTranscriptionStreamsTheCallsAudio() async throws {
        let peer = try await ProviderPeer()
        let quiet8k = AudioFrame.silence(sampleRate: 8000)
        for (encoding, rate) in [(OpenAIRealtimeSTT.Encoding.pcmu, 8000), (.pcm, 24_000)] {
            let stt = OpenAIRealtimeSTT(configuration: openAI(peer), model: "gpt-4o-transcribe", language: "en", encoding: encoding)
            #expect(stt.sampleRate == rate)
            let stream = try await stt.open()
            for f in Self.speech(rate: rate, seconds: 1.2) { try await stream.send(f, speech: true) }
            for _ in 0..<25 { try await stream.send(rate == 8000 ? quiet8k : AudioFrame.silence(sampleRate: rate), speech: false) }  // 500 ms
            for f in Self.speech(rate: rate, seconds: 0.4) { try await stream.send(f, speech: true) }
            try await stream.flush()
            await stream.close()  // waits for the committed utterance's transcript, then ends the session
            var finals: [String] = [], interims: [String] = []
            for try await t in stream.transcripts {
                if t.isFinal { finals.append(t.text) } else { interims.append(t.text) }
            }
            #expect(finals == ["heard 1.20 seconds", "heard 0.40 seconds"], "\(encoding)")
            #expect(interims.prefix(3) == ["heard", "heard 1.20", "heard 1.20 seconds"], "\(encoding)")
        }
        // An empty commit is not an error; a bad key is refused at the handshake; a bad model in-band.
        let idle = try await OpenAIRealtimeSTT(configuration: openAI(peer)).open()
        try await idle.flush()
        for _ in 0..<5 { try await idle.send(AudioFrame.silence(sampleRate: 8000), speech: false) }
        await idle.close()
        for try await t in idle.transcripts { Issue.record("an idle session transcribed '\(t.text)'") }
        var wrongKey = openAI(peer)
        wrongKey.apiKey = "sk-wrong"
        let refused = await #expect(throws: ProviderError.self) { _ = try await OpenAIRealtimeSTT(configuration: wrongKey).open() }
        #expect(refused?.kind == .authentication && refused?.status == 401 && refused?.code == "invalid_api_key")
        let bad = try await OpenAIRealtimeSTT(configuration: openAI(peer), model: "mock-bad").open()
        let invalid = await #expect(throws: ProviderError.self) { for try await _ in bad.transcripts {} }
        #expect(invalid?.kind == .badRequest && invalid?.code == "invalid_model")
        await bad.close()
    }

    @Test func deepgramTranscribesLiveOverItsWebSocket() async throws {
        let peer = try await ProviderPeer()
        let ws = "ws://127.0.0.1:\(peer.port)"
        for encoding in [DeepgramSTT.Encoding.linear16, .mulaw] {
            let stt = try DeepgramSTT(apiKey: "dg-test", model: "nova-3", encoding: encoding, sampleRate: 8000, baseURL: ws)
            let stream = try await stt.open()
            let quiet = AudioFrame.silence(sampleRate: 8000)
            for _ in 0..<10 { try await stream.send(quiet, speech: false) }
            for f in Self.speech(rate: 8000, seconds: 1.2) { try await stream.send(f, speech: true) }
            for _ in 0..<25 { try await stream.send(quiet, speech: false) }   // 500 ms: Deepgram's endpointing (300 ms) fires
            for f in Self.speech(rate: 8000, seconds: 0.4) { try await stream.send(f, speech: true) }
            try await stream.flush()                                            // Finalize: the pending segment now
            await stream.close()
            var finals: [String] = [], interims = 0
            for try await t in stream.transcripts { if t.isFinal { finals.append(t.text) } else { interims += 1 } }
            #expect(finals == ["heard 1.20 seconds", "heard 0.40 seconds"], "\(encoding)")
            #expect(interims >= 5, "\(encoding)")
        }
        // A bad key and a concurrency limit are told apart at the handshake.
        let refused = await #expect(throws: ProviderError.self) { _ = try await DeepgramSTT(apiKey: "dg-wrong", baseURL: ws).open() }
        #expect(refused?.kind == .authentication && refused?.status == 401 && refused?.message == "Invalid credentials." && refused?.requestID == "req_mock")
        let busy = await #expect(throws: ProviderError.self) { _ = try await DeepgramSTT(apiKey: "dg-test", model: "mock-429", baseURL: ws).open() }
        #expect(busy?.kind == .rateLimited && busy?.retryAfter == .seconds(1))
        // A close frame with an error ends the transcripts with that error.
        let failing = try await DeepgramSTT(apiKey: "dg-test", model: "mock-error", baseURL: ws).open()
        for _ in 0..<DeepgramSTTStream.framesPerMessage { try await failing.send(AudioFrame.silence(sampleRate: 8000), speech: false) }
        let closed = await #expect(throws: ProviderError.self) { for try await _ in failing.transcripts {} }
        #expect(closed?.code == "1011" && closed?.message.hasPrefix("NET-0001") == true)
        await failing.close()
        #expect(throws: SiphonError.self) { try DeepgramSTT(apiKey: "k", encoding: .mulaw, sampleRate: 16000) }
        // Handshakes that keep failing open the endpoint's circuit, as for HTTP.
        let nowhere = try DeepgramSTT(apiKey: "dg-test", baseURL: "ws://127.0.0.1:\(LoopbackPort.free())")
        for _ in 0..<5 {
            let e = await #expect(throws: ProviderError.self) { _ = try await nowhere.open() }
            #expect(e?.kind == .connection)
        }
        let open = await #expect(throws: ProviderError.self) { _ = try await nowhere.open() }
        #expect(open?.kind == .circuitOpen)
    }

    /// A recogniser that stops reading (its socket open, nothing read — a stalled provider or a
    /// partition) must never hold the call: VAD and barge-in run in the same loop as `send`. Ten
    /// minutes of audio go into a frozen socket — far more than the kernel and Siphon buffer — and
    /// every `send` returns; what did not fit was dropped, so after the thaw Deepgram has heard
    /// no more than the buffers hold, and the stream still works. (With writes awaited, as they
    /// were, the loop stops for good once the buffers fill. With NIO's high-water mark alone, a
    /// loop busier than the sender let 600 s of 600 through: writability is updated on the loop.)
    @Test func aRecogniserThatStopsReadingNeverHoldsTheCall() async throws {
        let peer = try await ProviderPeer()
        let proxy = try await FreezeProxy(target: peer.port)
        let stt = try DeepgramSTT(apiKey: "dg-test", model: "nova-3", encoding: .linear16, sampleRate: 16000, baseURL: "ws://127.0.0.1:\(proxy.port)")
        let stream = try await stt.open()
        try await proxy.freeze()
        let loud = AudioFrame(sampleRate: 16000, samples: [Int16](repeating: 500, count: 320))
        for i in 0..<30_000 {  // 600 s, 19 MB, half a second of it per millisecond (a call sends 20 ms per 20 ms)
            try await stream.send(loud, speech: true)
            if i % 25 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        try await proxy.thaw()
        try await stream.flush()
        var heard: String?
        for try await t in stream.transcripts where t.isFinal {
            heard = t.text
            break
        }
        let seconds = try #require(heard.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") }, "\(heard ?? "no final")")
        // What can get through: the kernel's largest send buffer, the proxy's socket and asyncio
        // buffers (384 KB), Siphon's unwritten bytes (256 KB); 1 MB for the three, at 32 kB/s.
        let wmem = (try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_wmem", encoding: .utf8))?
            .split(whereSeparator: \.isWhitespace).last.flatMap { Double($0) } ?? 4_194_304
        #expect(seconds > 0 && seconds < (wmem + 1_048_576) / 32_000, "\(heard ?? ""); tcp_wmem's largest \(Int(wmem))")
        await stream.close()
    }

    @Test func deepgramAuraAndCartesiaSpeakAtTheLinesRate() async throws {
        let peer = try await ProviderPeer()
        let aura = try DeepgramAuraTTS(apiKey: "dg-test", sampleRate: 8000, baseURL: "http://127.0.0.1:\(peer.port)")
        var frames: [AudioFrame] = []
        for try await f in try await aura.synthesize("Hello") { frames.append(f) }
        #expect(frames.count == 13 && frames.allSatisfy { $0.sampleRate == 8000 && $0.samples.count == 160 })

        // Cartesia: μ-law 8 kHz straight from the provider, one shared socket, a context per sentence.
        let cartesia = try CartesiaTTS(apiKey: "sk-cartesia", voiceID: "voice-1", output: .mulaw8k, baseURL: "ws://127.0.0.1:\(peer.port)")
        async let a = Self.collect(cartesia, "Hello there")
        async let b = Self.collect(cartesia, "Goodbye")
        let (first, second) = try await (a, b)
        #expect(first.count == 28 && second.count == 18 && (first + second).allSatisfy { $0.sampleRate == 8000 })
        #expect(first[2].levelDB > -30)
        let linear = try CartesiaTTS(apiKey: "sk-cartesia", voiceID: "voice-1", output: .linear(16000), baseURL: "ws://127.0.0.1:\(peer.port)")
        #expect(try await Self.collect(linear, "Hi").allSatisfy { $0.sampleRate == 16000 && $0.samples.count == 320 })
        // Errors: a rate limit inside the socket, a bad key at the handshake.
        let limited = try CartesiaTTS(apiKey: "sk-cartesia", voiceID: "v", model: "mock-429", baseURL: "ws://127.0.0.1:\(peer.port)")
        let e429 = await #expect(throws: ProviderError.self) { _ = try await Self.collect(limited, "x") }
        #expect(e429?.kind == .rateLimited && e429?.code == "concurrency_limited")
        let badKey = try CartesiaTTS(apiKey: "sk-wrong", voiceID: "v", baseURL: "ws://127.0.0.1:\(peer.port)")
        let e401 = await #expect(throws: ProviderError.self) { _ = try await Self.collect(badKey, "x") }
        #expect(e401?.kind == .authentication && e401?.status == 401)
        // Barge-in: stopping after the first frame cancels the context; the socket keeps serving.
        let slow = try CartesiaTTS(apiKey: "sk-cartesia", voiceID: "voice-1", model: "mock-slow", baseURL: "ws://127.0.0.1:\(peer.port)")
        for try await _ in try await slow.synthesize("A long sentence that the caller interrupts") { break }
        #expect(try await Self.collect(slow, "Next").count == 10)
        // A provider that accepts the sentence and never speaks: a timeout, so a fallback voice can take it.
        var stalled = try CartesiaTTS(apiKey: "sk-cartesia", voiceID: "voice-1", model: "mock-stall", baseURL: "ws://127.0.0.1:\(peer.port)")
        stalled.firstAudioTimeout = .milliseconds(300)
        let stall = await #expect(throws: ProviderError.self) { _ = try await Self.collect(stalled, "Hello") }
        #expect(stall?.kind == .timeout && stall?.isRetryable == true)
    }

    @Test func elevenLabsSharesContextSocketsAndReportsItsInBandErrors() async throws {
        let peer = try await ProviderPeer()
        let ws = "ws://127.0.0.1:\(peer.port)"
        var tts = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "voice1", output: .ulaw8000, baseURL: ws)
        tts.stability = 0.6
        let frames = try await Self.collect(tts, "Hello there.")
        #expect(frames.count == 30 && frames.allSatisfy { $0.sampleRate == 8000 && $0.samples.count == 160 })  // 0.6 s
        #expect(frames[5].levelDB > -30)
        // Sentences after the first reuse the socket; seven at once need a second one (five contexts each).
        #expect(try await Self.collect(tts, "Goodbye").count == 18)
        #expect(try await peer.elevenLabs().sockets == 1)
        // Paced audio (mock-slow) keeps the first five contexts open while the last two start.
        var shared = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "voice1", model: "mock-slow", output: .ulaw8000, baseURL: ws)
        shared.stability = 0.6
        let counts = try await withThrowingTaskGroup(of: Int.self) { [shared] group in
            for n in 1...7 { group.addTask { try await Self.collect(shared, String(repeating: "a", count: n * 2)).count } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counts.sorted() == [5, 10, 15, 20, 25, 30, 35])  // each context got exactly its own audio
        let stats = try await peer.elevenLabs()
        #expect(stats.sockets == 3 && stats.maxContexts == 5 && stats.refused.isEmpty, "\(stats)")  // one before, two for the seven
        // Barge-in: stop after the first frame; the context's late audio never reaches the next one.
        let slow = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "voice1", model: "mock-slow", baseURL: ws)
        for try await _ in try await slow.synthesize("A long sentence that the caller interrupts") { break }
        #expect(try await Self.collect(slow, "Next").count == 10)
        let pcm = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "voice1", output: .pcm16000, baseURL: ws)
        #expect(try await Self.collect(pcm, "Hi").allSatisfy { $0.sampleRate == 16000 })
        #expect(try await peer.elevenLabs().refused.isEmpty)
        // Accepted and never spoken: a timeout; the shared socket goes on serving the next sentence.
        var stalled = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "voice1", model: "mock-stall", baseURL: ws)
        stalled.firstAudioTimeout = .milliseconds(300)
        let stall = await #expect(throws: ProviderError.self) { _ = try await Self.collect(stalled, "Hello") }
        #expect(stall?.kind == .timeout)
        let fallback = FallbackTTS([stalled, tts])
        #expect(try await Self.collect(fallback, "Goodbye").count == 18)  // the next voice took the sentence
        let idle = try ElevenLabsTTS(apiKey: "sk-eleven", voiceID: "mock-timeout", baseURL: ws)
        let timeout = await #expect(throws: ProviderError.self) { _ = try await Self.collect(idle, "x") }
        #expect(timeout?.code == "input_timeout_exceeded" && timeout?.message.contains("timeout of 20.0 seconds") == true)
        let bad = try ElevenLabsTTS(apiKey: "sk-bad", voiceID: "voice1", baseURL: ws)
        let refused = await #expect(throws: ProviderError.self) { _ = try await Self.collect(bad, "x") }
        #expect(refused?.kind == .authentication && refused?.code == "invalid_api_key")
        #expect(throws: SiphonError.self) { try ElevenLabsTTS(apiKey: "k", voiceID: "../x") }
    }

    static func collect(_ tts: any TextToSpeech, _ text: String) async throws -> [AudioFrame] {
        var out: [AudioFrame] = []
        for try await f in try await tts.synthesize(text) { out.append(f) }
        return out
    }
}
