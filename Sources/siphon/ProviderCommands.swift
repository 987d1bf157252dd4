import ArgumentParser
import Foundation
import SiphonAgent
import SiphonAnthropic
import SiphonAudio
import SiphonCartesia
import SiphonDeepgram
import SiphonElevenLabs
import SiphonCore
import SiphonOpenAI
import SiphonProviderKit

/// Building a provider from command-line flags, for trying one by hand.
enum ProviderFlags {
    static func llm(_ provider: String, model: String?, baseURL: String?, env: Environment) throws -> any LanguageModel {
        if provider == "anthropic" {
            let key = try APIKey.resolve(explicit: nil, environment: env, variable: "ANTHROPIC_API_KEY", provider: "anthropic", path: "--provider")
            return AnthropicLLM(model: model ?? "claude-haiku-4-5", apiKey: key, baseURL: baseURL ?? "https://api.anthropic.com")
        }
        let c = try OpenAIConfiguration.preset(provider, baseURL: baseURL, environment: env, path: "--provider")
        guard let model = model ?? (provider == "openai" ? "gpt-4o-mini" : nil) else {
            throw SiphonError(.configuration, "--model is required for \(provider)")
        }
        return OpenAILLM(configuration: c, model: model, includeUsage: provider == "openai")
    }

    static func tts(_ provider: String, model: String?, voice: String?, baseURL: String?, env: Environment) throws -> any TextToSpeech {
        func key(_ variable: String) throws -> String {
            try APIKey.resolve(explicit: nil, environment: env, variable: variable, provider: provider, path: "--provider")
        }
        switch provider {
        case "openai":
            let c = try OpenAIConfiguration.preset("openai", baseURL: baseURL, environment: env, path: "--provider")
            return try OpenAITTS(configuration: c, model: model ?? "gpt-4o-mini-tts", voice: voice ?? "alloy")
        case "deepgram":
            return try DeepgramAuraTTS(apiKey: try key("DEEPGRAM_API_KEY"), model: model ?? "aura-2-thalia-en", sampleRate: 8000,
                                       baseURL: baseURL ?? "https://api.deepgram.com")
        case "cartesia":
            guard let voice else { throw SiphonError(.configuration, "--voice (a Cartesia voice id) is required") }
            return try CartesiaTTS(apiKey: try key("CARTESIA_API_KEY"), voiceID: voice, model: model ?? "sonic-2", baseURL: baseURL ?? "wss://api.cartesia.ai")
        case "elevenlabs":
            guard let voice else { throw SiphonError(.configuration, "--voice (an ElevenLabs voice id) is required") }
            return try ElevenLabsTTS(apiKey: try key("ELEVEN_API_KEY"), voiceID: voice, model: model ?? "eleven_flash_v2_5", baseURL: baseURL ?? "wss://api.elevenlabs.io")
        default:
            throw SiphonError(.configuration, "--provider: TTS providers are openai, deepgram, cartesia, elevenlabs")
        }
    }

    static func stt(_ provider: String, model: String?, baseURL: String?, language: String?, realtime: Bool = false, env: Environment) throws -> any SpeechToText {
        switch provider {
        case "openai" where realtime:
            let c = try OpenAIConfiguration.preset(provider, baseURL: baseURL, environment: env, path: "--provider")
            return OpenAIRealtimeSTT(configuration: c, model: model ?? "gpt-4o-transcribe", language: language)
        case _ where realtime:
            throw SiphonError(.configuration, "--realtime: only the openai provider has a Realtime transcription session")
        case "openai", "groq":
            let c = try OpenAIConfiguration.preset(provider, baseURL: baseURL, environment: env, path: "--provider")
            return OpenAISTT(configuration: c, model: model ?? (provider == "groq" ? "whisper-large-v3-turbo" : "gpt-4o-mini-transcribe"), language: language)
        case "deepgram":
            let key = try APIKey.resolve(explicit: nil, environment: env, variable: "DEEPGRAM_API_KEY", provider: provider, path: "--provider")
            return try DeepgramSTT(apiKey: key, model: model ?? "nova-3", language: language, sampleRate: 8000, baseURL: baseURL ?? "wss://api.deepgram.com")
        default:
            throw SiphonError(.configuration, "--provider: STT providers are openai, groq, deepgram")
        }
    }
}

struct LLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "llm", abstract: "Stream a model's reply to a prompt.")
    @OptionGroup var common: CommonOptions
    @Option(help: "openai, anthropic, or an OpenAI-compatible preset: groq, together, openrouter, deepseek, xai, ollama, vllm, llamacpp.") var provider = "openai"
    @Option(help: "Model name.") var model: String?
    @Option(help: "API base URL (an OpenAI-compatible server).") var baseURL: String?
    @Option(help: "System instructions.") var system: String?
    @Argument(help: "The prompt.") var prompt: String

    func run() async throws {
        let env = try common.environment()
        _ = common.bootstrapLogging(env, label: "siphon.providers")
        let stats = try await reporting { () -> String in
            let llm = try ProviderFlags.llm(provider, model: model, baseURL: baseURL, env: env)
            var messages = system.map { [ChatMessage.system($0)] } ?? []
            messages.append(.user(prompt))
            var clock = RequestClock()
            var usage = ""
            for try await e in try await llm.stream(LLMRequest(messages: messages)) {
                clock.firstByte()
                switch e {
                case .text(let t): StandardStream.output.write(t)
                case .toolCall(let c): print("\n[tool \(c.name) \(c.arguments)]")
                case .usage(let p, let c): usage = ", \(p) prompt + \(c) completion tokens"
                }
            }
            return "first token \(clock.firstByteAt.map(\.ms) ?? "-"), total \(clock.elapsed.ms)\(usage)"
        }
        print("")
        StandardStream.error.write("[\(stats)]\n")
    }
}

struct TTSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tts", abstract: "Synthesise text to a WAV file.")
    @OptionGroup var common: CommonOptions
    @Option(help: "openai, deepgram, cartesia or elevenlabs.") var provider = "openai"
    @Option(help: "Text to speak.") var text: String
    @Option(help: "Output WAV file.") var out: String
    @Option(help: "Model name.") var model: String?
    @Option(help: "Voice.") var voice: String?
    @Option(help: "API base URL.") var baseURL: String?

    func run() async throws {
        let env = try common.environment()
        _ = common.bootstrapLogging(env, label: "siphon.providers")
        let summary = try await reporting { () -> String in
            let tts = try ProviderFlags.tts(provider, model: model, voice: voice, baseURL: baseURL, env: env)
            var samples: [Int16] = []
            var rate = tts.sampleRate
            var clock = RequestClock()
            for try await f in try await tts.synthesize(text) {
                clock.firstByte()
                rate = f.sampleRate
                samples += f.samples
            }
            try WAVFile(sampleRate: rate, samples: samples).write(out)
            return String(format: "%@: %.2f s at %d Hz; first audio %@, total %@", out, Double(samples.count) / Double(rate), rate,
                          clock.firstByteAt.map(\.ms) ?? "-", clock.elapsed.ms)
        }
        print(summary)
    }
}

struct STTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stt", abstract: "Transcribe a WAV file.")
    @OptionGroup var common: CommonOptions
    @Option(help: "openai, groq or deepgram.") var provider = "openai"
    @Option(name: .customLong("in"), help: "Input WAV file (PCM16 or G.711).") var input: String
    @Option(help: "Model name.") var model: String?
    @Option(help: "Language (ISO-639-1).") var language: String?
    @Option(help: "API base URL.") var baseURL: String?
    @Flag(help: "OpenAI only: stream over the Realtime transcription session (μ-law 8 kHz) instead of one upload.") var realtime = false

    func run() async throws {
        let env = try common.environment()
        _ = common.bootstrapLogging(env, label: "siphon.providers")
        let text = try await reporting { () -> String in
            let wav = try WAVFile.read(input)
            let stt = try ProviderFlags.stt(provider, model: model, baseURL: baseURL, language: language, realtime: realtime, env: env)
            if let batch = stt as? OpenAISTT { return try await batch.transcribe(wav.samples, sampleRate: wav.sampleRate) }
            // A streaming recogniser hears the file as a call would: 20 ms frames at its rate.
            let samples = try Resampler(from: wav.sampleRate, to: stt.sampleRate).process(wav.samples)
            let stream = try await stt.open()
            let n = AudioFrame.samplesPerFrame(stt.sampleRate)
            for start in stride(from: 0, to: samples.count, by: n) {
                var chunk = Array(samples[start..<min(samples.count, start + n)])
                chunk += [Int16](repeating: 0, count: n - chunk.count)
                try await stream.send(AudioFrame(sampleRate: stt.sampleRate, samples: chunk), speech: true)
            }
            try await stream.flush()
            await stream.close()
            var finals: [String] = []
            for try await t in stream.transcripts where t.isFinal { finals.append(t.text) }
            return finals.joined(separator: " ")
        }
        print(text)
    }
}

struct ProvidersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "providers", abstract: "AI provider tools.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check each configured provider's key with its smallest authenticated request.",
            discussion: "A provider is configured when its key variable is set (OPENAI_API_KEY, ANTHROPIC_API_KEY, DEEPGRAM_API_KEY, CARTESIA_API_KEY, ELEVEN_API_KEY, GROQ_API_KEY, …). Exit 1 if any fails.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Check this OpenAI-compatible base URL instead of the preset's (with OPENAI_API_KEY).") var openaiBaseURL: String?
        @Option(help: "Anthropic base URL.") var anthropicBaseURL: String?
        @Option(help: "Deepgram base URL.") var deepgramBaseURL: String?
        @Option(help: "Cartesia base URL (REST).") var cartesiaBaseURL: String?
        @Option(help: "ElevenLabs base URL (REST).") var elevenlabsBaseURL: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let env = try common.environment()
            _ = common.bootstrapLogging(env, label: "siphon.providers")
            let rows = await ProviderChecks(env: env, baseURLs: ["openai": openaiBaseURL, "anthropic": anthropicBaseURL, "deepgram": deepgramBaseURL,
                                                                "cartesia": cartesiaBaseURL, "elevenlabs": elevenlabsBaseURL].compactMapValues { $0 }).run()
            if json {
                printJSON(rows)
            } else if rows.isEmpty {
                print("no provider keys set (OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY, …)")
            } else {
                for r in rows { print("\(r.provider): \(r.status)\(r.latencyMs.map { " in \($0) ms" } ?? "") — \(r.detail)") }
            }
            if rows.contains(where: { $0.status != "ok" }) { throw ExitCode(1) }
        }
    }
}

/// Each provider whose key is set, asked its smallest authenticated request (`siphon providers
/// check` and `siphon preflight`).
struct ProviderChecks {
    struct Row: Encodable {
        var provider: String
        var status: String
        var latencyMs: Int?
        var detail: String
        enum CodingKeys: String, CodingKey { case provider, status, latencyMs = "latency_ms", detail }
    }

    let env: Environment
    /// Per provider, a base URL instead of the public endpoint (else `<PROVIDER>_BASE_URL`, the
    /// variable the official SDKs read, e.g. `OPENAI_BASE_URL` for a proxy or a compatible server).
    var baseURLs: [String: String] = [:]

    func run() async -> [Row] {
        var baseURLs = self.baseURLs
        for name in ["openai", "anthropic", "deepgram", "cartesia", "elevenlabs"] where baseURLs[name] == nil {
            baseURLs[name] = env["\(name.uppercased())_BASE_URL"]
        }
        var rows: [Row] = []
        func record(_ provider: String, _ check: () async throws -> Duration) async {
            do {
                let took = try await check()
                rows.append(Row(provider: provider, status: "ok", latencyMs: Int(took.wholeMilliseconds), detail: "key accepted"))
            } catch let e as ProviderError {
                let status = e.kind == .authentication || e.kind == .permission ? "invalid key" : "failed"
                rows.append(Row(provider: provider, status: status, latencyMs: nil, detail: "\(e)"))
            } catch {
                rows.append(Row(provider: provider, status: "failed", latencyMs: nil, detail: "\(error)"))
            }
        }
        for (name, preset) in OpenAIConfiguration.presets.sorted(by: { $0.key < $1.key }) {
            guard let variable = preset.keyVariable, env[variable] != nil else { continue }
            let base = name == "openai" ? baseURLs["openai"] : nil
            await record(name) { try await OpenAIConfiguration.preset(name, baseURL: base, environment: env).check() }
        }
        if let key = env["ANTHROPIC_API_KEY"] {
            await record("anthropic") { try await AnthropicLLM(model: "-", apiKey: key, baseURL: baseURLs["anthropic"] ?? "https://api.anthropic.com").check() }
        }
        if let key = env["DEEPGRAM_API_KEY"] {
            await record("deepgram") { try await DeepgramAuraTTS(apiKey: key, baseURL: baseURLs["deepgram"] ?? "https://api.deepgram.com").check() }
        }
        if let key = env["CARTESIA_API_KEY"] {
            await record("cartesia") { try await CartesiaTTS.check(apiKey: key, baseURL: baseURLs["cartesia"] ?? "https://api.cartesia.ai") }
        }
        if let key = env["ELEVEN_API_KEY"] ?? env["ELEVENLABS_API_KEY"] {
            await record("elevenlabs") { try await ElevenLabsTTS.check(apiKey: key, baseURL: baseURLs["elevenlabs"] ?? "https://api.elevenlabs.io") }
        }
        return rows
    }
}

extension Duration {
    var ms: String { String(format: "%.0f ms", seconds * 1000) }
}
