import SiphonAgent
import SiphonCore
import SiphonProviderKit

/// Agent configuration names: `llm.provider` openai or any preset (groq, together, openrouter,
/// deepseek, xai, ollama, vllm, llamacpp); `tts.provider: openai`; `stt.provider` openai or groq.
public enum OpenAIPlugins {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        for name in OpenAIConfiguration.presets.keys {
            r.llm[name] = { p, env in
                let m = try p.checked(Set(["model", "base_url", "api_key", "include_usage", "organization", "project"]).union(ProviderOptions.keys))
                let c = try configuration(name, m, env, path: p.path)
                return OpenAILLM(configuration: c, model: try m.require("model").string(), includeUsage: try m.bool("include_usage") ?? (name == "openai"))
            }
        }
        r.tts["openai"] = { p, env in
            let m = try p.checked(Set(["model", "voice", "speed", "instructions", "base_url", "api_key", "organization", "project"]).union(ProviderOptions.keys))
            let voice = try m.string("voice") ?? "alloy"
            if try m.string("base_url") == nil, !OpenAITTS.voices.contains(voice) {
                throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "voice")): '\(voice)' is not an OpenAI voice (\(OpenAITTS.voices.sorted().joined(separator: ", ")))")
            }
            return try OpenAITTS(configuration: configuration("openai", m, env, path: p.path), model: try m.string("model") ?? "gpt-4o-mini-tts",
                                 voice: voice, speed: try m.number("speed"), instructions: try m.string("instructions"))
        }
        for name in ["openai", "groq"] {
            r.stt[name] = { p, env in
                let realtimeKeys: Set<String> = name == "openai" ? ["realtime", "encoding", "silence_ms", "threshold"] : []
                let m = try p.checked(Set(["model", "language", "prompt", "base_url", "api_key", "organization", "project"]).union(ProviderOptions.keys)
                    .union(realtimeKeys))
                if try m.bool("realtime") == true { return try realtimeSTT(m, env, path: p.path) }
                return OpenAISTT(configuration: try configuration(name, m, env, path: p.path),
                                 model: try m.string("model") ?? (name == "groq" ? "whisper-large-v3-turbo" : "gpt-4o-mini-transcribe"),
                                 language: try m.string("language"), prompt: try m.string("prompt"))
            }
        }
        return r
    }

    /// `stt: {provider: openai, realtime: true}`: the streaming transcription session.
    static func realtimeSTT(_ m: ConfigMap, _ env: Environment, path: String) throws -> OpenAIRealtimeSTT {
        guard let encoding = OpenAIRealtimeSTT.Encoding(rawValue: try m.string("encoding") ?? "pcmu") else {
            throw SiphonError(.configuration, "\(ConfigValue.join(path, "encoding")): pcmu (μ-law 8 kHz, telephone calls) or pcm (24 kHz)")
        }
        var stt = OpenAIRealtimeSTT(configuration: try configuration("openai", m, env, path: path), model: try m.string("model") ?? "gpt-4o-transcribe",
                                    language: try m.string("language"), prompt: try m.string("prompt"), encoding: encoding)
        if let ms = try m.int("silence_ms") {
            guard (100...5000).contains(ms) else { throw SiphonError(.configuration, "\(ConfigValue.join(path, "silence_ms")): 100 to 5000") }
            stt.silenceMs = ms
        }
        if let t = try m.number("threshold") {
            guard (0...1).contains(t) else { throw SiphonError(.configuration, "\(ConfigValue.join(path, "threshold")): 0 to 1") }
            stt.threshold = t
        }
        return stt
    }

    static func configuration(_ name: String, _ m: ConfigMap, _ env: Environment, path: String) throws -> OpenAIConfiguration {
        var c = try OpenAIConfiguration.preset(name, baseURL: m.string("base_url"), apiKey: m.string("api_key"), environment: env, path: path)
        c.organization = try m.string("organization")
        c.project = try m.string("project")
        let o = try ProviderOptions.read(m, provider: name, apiKey: c.apiKey, environment: env)
        (c.retry, c.firstByteTimeout, c.limiter) = (o.retry, o.firstByteTimeout, o.limiter)
        return c
    }
}
