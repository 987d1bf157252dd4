import SiphonAgent
import SiphonCore
import SiphonProviderKit

/// `stt.provider: deepgram` (live WebSocket) and `tts.provider: deepgram` (Aura), key from
/// `DEEPGRAM_API_KEY` or `api_key`.
public enum DeepgramPlugins {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.stt["deepgram"] = { p, env in
            let m = try p.checked(["model", "language", "encoding", "sample_rate", "endpointing", "utterance_end_ms", "interim_results", "keyterms",
                                   "api_key", "base_url"])
            let key = try APIKey.resolve(explicit: m.string("api_key"), environment: env, variable: "DEEPGRAM_API_KEY", provider: "deepgram", path: p.path)
            guard let encoding = DeepgramSTT.Encoding(rawValue: try m.string("encoding") ?? "linear16") else {
                throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "encoding")): linear16 or mulaw")
            }
            var stt = try DeepgramSTT(apiKey: key, model: try m.string("model") ?? "nova-3", language: try m.string("language"), encoding: encoding,
                                      sampleRate: try m.int("sample_rate") ?? 8000, baseURL: try m.string("base_url") ?? "wss://api.deepgram.com")
            if let e = try m.int("endpointing") { stt.endpointingMs = e }
            if let u = try m.int("utterance_end_ms") { stt.utteranceEndMs = u }
            if let i = try m.bool("interim_results") { stt.interimResults = i }
            stt.keyterms = try m.strings("keyterms") ?? []
            return stt
        }
        r.tts["deepgram"] = { p, env in
            let m = try p.checked(Set(["model", "sample_rate", "api_key", "base_url"]).union(ProviderOptions.keys))
            let key = try APIKey.resolve(explicit: m.string("api_key"), environment: env, variable: "DEEPGRAM_API_KEY", provider: "deepgram", path: p.path)
            return try DeepgramAuraTTS(apiKey: key, model: try m.string("model") ?? "aura-2-thalia-en", sampleRate: try m.int("sample_rate") ?? 8000,
                                       baseURL: try m.string("base_url") ?? "https://api.deepgram.com",
                                       options: ProviderOptions.read(m, provider: "deepgram", apiKey: key, environment: env))
        }
        return r
    }
}
