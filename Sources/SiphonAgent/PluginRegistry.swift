import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SiphonCore

/// Turns provider names in agent configuration into engines. Provider modules register their
/// factories; a factory checks its own options (unknown keys are errors) and required keys and
/// credentials at start-up, not at the first call.
public struct PluginRegistry: Sendable {
    public typealias STTFactory = @Sendable (ProviderConfiguration, Environment) throws -> any SpeechToText
    public typealias LLMFactory = @Sendable (ProviderConfiguration, Environment) throws -> any LanguageModel
    public typealias TTSFactory = @Sendable (ProviderConfiguration, Environment) throws -> any TextToSpeech

    public var stt: [String: STTFactory] = [:]
    public var llm: [String: LLMFactory] = [:]
    public var tts: [String: TTSFactory] = [:]

    public init() {}

    public mutating func merge(_ other: PluginRegistry) {
        stt.merge(other.stt) { $1 }
        llm.merge(other.llm) { $1 }
        tts.merge(other.tts) { $1 }
    }

    public func makeAgent(_ d: AgentDefinition, environment: Environment) throws -> Agent {
        Agent(
            name: d.name, llm: try makeLLM(d.llm, environment), tts: try makeTTS(d.tts, environment), stt: try makeSTT(d.stt, environment),
            instructions: d.instructions, greeting: d.greeting, resumeLine: d.resumeLine, tools: d.tools.map(WebhookTool.make),
            vad: d.vad, turn: d.turn, temperature: d.temperature, contextWindow: d.contextWindow, amd: d.amd)
    }

    /// `provider: fallback` with a `chain:` of providers tried in order (see `FallbackLLM`).
    public func makeLLM(_ p: ProviderConfiguration, _ env: Environment) throws -> any LanguageModel {
        if p.provider == "fallback" { return FallbackLLM(try chain(p).map { try makeLLM($0, env) }) }
        guard let f = llm[p.provider] else { throw Self.unknown("LLM", p, Array(llm.keys)) }
        return try f(p, env)
    }

    public func makeTTS(_ p: ProviderConfiguration, _ env: Environment) throws -> any TextToSpeech {
        if p.provider == "fallback" { return FallbackTTS(try chain(p).map { try makeTTS($0, env) }) }
        guard let f = tts[p.provider] else { throw Self.unknown("TTS", p, Array(tts.keys)) }
        return try f(p, env)
    }

    public func makeSTT(_ p: ProviderConfiguration, _ env: Environment) throws -> any SpeechToText {
        if p.provider == "fallback" { return FallbackSTT(try chain(p).map { try makeSTT($0, env) }) }
        guard let f = stt[p.provider] else { throw Self.unknown("STT", p, Array(stt.keys)) }
        return try f(p, env)
    }

    private func chain(_ p: ProviderConfiguration) throws -> [ProviderConfiguration] {
        let items = try p.checked(["chain"]).require("chain").list()
        guard items.count >= 2 else { throw SiphonError(.configuration, "\(ConfigValue.join(p.path, "chain")): a fallback chain names at least two providers") }
        return try items.map { try ProviderConfiguration($0) }
    }

    static func unknown(_ kind: String, _ p: ProviderConfiguration, _ known: [String]) -> SiphonError {
        SiphonError(.configuration, "\(ConfigValue.join(p.path, "provider")): unknown \(kind) provider '\(p.provider)' (available: \((known + ["fallback"]).sorted().joined(separator: ", ")))")
    }
}

/// A tool declared in YAML: POST the model's arguments (JSON) to the webhook; the reply body is the result.
enum WebhookTool {
    static func make(_ d: ToolDefinition) -> AgentTool {
        AgentTool(name: d.name, description: d.description, parameters: d.parameters) { arguments in
            var request = URLRequest(url: d.webhook, timeoutInterval: d.timeout)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(arguments.utf8)
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else { throw SiphonError(.unavailable, "tool \(d.name): webhook answered \(status)") }
            return String(decoding: data.prefix(16_384), as: UTF8.self)
        }
    }
}
