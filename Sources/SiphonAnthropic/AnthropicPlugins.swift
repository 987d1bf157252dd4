import SiphonAgent
import SiphonCore
import SiphonProviderKit

/// `llm.provider: anthropic` (key from `ANTHROPIC_API_KEY` or `api_key`).
public enum AnthropicPlugins {
    public static var registry: PluginRegistry {
        var r = PluginRegistry()
        r.llm["anthropic"] = { p, env in
            let m = try p.checked(Set(["model", "api_key", "base_url", "max_tokens"]).union(ProviderOptions.keys))
            let key = try APIKey.resolve(explicit: m.string("api_key"), environment: env, variable: "ANTHROPIC_API_KEY", provider: "anthropic", path: p.path)
            let options = try ProviderOptions.read(m, provider: "anthropic", apiKey: key, environment: env)
            return AnthropicLLM(model: try m.require("model").string(), apiKey: key, baseURL: try m.string("base_url") ?? "https://api.anthropic.com",
                                maxTokens: try m.int("max_tokens") ?? 1024, options: options)
        }
        return r
    }
}
