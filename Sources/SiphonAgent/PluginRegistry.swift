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
        func missing(_ kind: String, _ p: ProviderConfiguration, _ known: [String]) -> SiphonError {
            SiphonError(.configuration, "\(ConfigValue.join(p.path, "provider")): unknown \(kind) provider '\(p.provider)' (available: \(known.sorted().joined(separator: ", ")))")
        }
        guard let s = stt[d.stt.provider] else { throw missing("STT", d.stt, Array(stt.keys)) }
        guard let l = llm[d.llm.provider] else { throw missing("LLM", d.llm, Array(llm.keys)) }
        guard let t = tts[d.tts.provider] else { throw missing("TTS", d.tts, Array(tts.keys)) }
        return Agent(
            name: d.name, llm: try l(d.llm, environment), tts: try t(d.tts, environment), stt: try s(d.stt, environment),
            instructions: d.instructions, greeting: d.greeting, resumeLine: d.resumeLine, tools: d.tools.map(WebhookTool.make),
            vad: d.vad, turn: d.turn, temperature: d.temperature, contextWindow: d.contextWindow)
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
