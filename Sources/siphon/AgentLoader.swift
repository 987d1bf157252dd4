import Foundation
import SiphonAgent
import SiphonCore
import SiphonOffline
import SiphonOpenAI
import SiphonAnthropic
import SiphonCartesia
import SiphonDeepgram
import SiphonElevenLabs

/// Where a worker's agents come from: `--config FILE`, or the built-in offline receptionist.
enum AgentLoader {
    /// Every provider this build knows.
    static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.merge(OfflineEngines.registry)
        r.merge(OpenAIPlugins.registry)
        r.merge(AnthropicPlugins.registry)
        r.merge(DeepgramPlugins.registry)
        r.merge(CartesiaPlugins.registry)
        r.merge(ElevenLabsPlugins.registry)
        return r
    }

    static func load(path: String?, environment: Environment) throws -> [Agent] {
        let config = try path.map { try AgentConfiguration.load(path: $0) } ?? AgentConfiguration.parse(OfflineEngines.defaultConfiguration, source: "built-in configuration")
        return try config.agents.map { try registry.makeAgent($0, environment: environment) }
    }
}
