import Foundation
import NIOHTTP1
import SiphonCore
import SiphonProviderKit

/// Where an OpenAI-compatible API is and how to authenticate. One client serves OpenAI and every
/// server that speaks its API; the presets name the common ones.
public struct OpenAIConfiguration: Sendable {
    public var provider: String
    public var baseURL: String
    /// Empty for local servers that need none (Ollama, llama.cpp).
    public var apiKey: String
    public var organization: String?
    public var project: String?
    public var retry = RetryPolicy()
    public var firstByteTimeout: Duration = .seconds(15)
    public var limiter: FleetRateLimiter?

    public init(provider: String = "openai", baseURL: String, apiKey: String, organization: String? = nil, project: String? = nil) {
        (self.provider, self.baseURL, self.apiKey, self.organization, self.project) = (provider, baseURL, apiKey, organization, project)
    }

    public struct Preset: Sendable {
        public var baseURL: String
        /// The variable holding its key; nil when the server needs none.
        public var keyVariable: String?
        public var keyRequired: Bool
    }

    /// `provider:` names in agent configuration, with their defaults (`base_url` overrides).
    public static let presets: [String: Preset] = [
        "openai": Preset(baseURL: "https://api.openai.com/v1", keyVariable: "OPENAI_API_KEY", keyRequired: true),
        "groq": Preset(baseURL: "https://api.groq.com/openai/v1", keyVariable: "GROQ_API_KEY", keyRequired: true),
        "together": Preset(baseURL: "https://api.together.xyz/v1", keyVariable: "TOGETHER_API_KEY", keyRequired: true),
        "openrouter": Preset(baseURL: "https://openrouter.ai/api/v1", keyVariable: "OPENROUTER_API_KEY", keyRequired: true),
        "deepseek": Preset(baseURL: "https://api.deepseek.com/v1", keyVariable: "DEEPSEEK_API_KEY", keyRequired: true),
        "xai": Preset(baseURL: "https://api.x.ai/v1", keyVariable: "XAI_API_KEY", keyRequired: true),
        "ollama": Preset(baseURL: "http://localhost:11434/v1", keyVariable: nil, keyRequired: false),
        "vllm": Preset(baseURL: "http://localhost:8000/v1", keyVariable: "VLLM_API_KEY", keyRequired: false),
        "llamacpp": Preset(baseURL: "http://localhost:8080/v1", keyVariable: nil, keyRequired: false),
    ]

    /// A preset with the key from `apiKey` or the environment; `baseURL` overrides the preset's.
    public static func preset(_ name: String, baseURL: String? = nil, apiKey: String? = nil, environment: Environment,
                              path: String = "llm") throws -> OpenAIConfiguration {
        guard let p = presets[name] else {
            throw SiphonError(.configuration, "\(path): unknown OpenAI-compatible provider '\(name)' (known: \(presets.keys.sorted().joined(separator: ", ")))")
        }
        var key = apiKey ?? ""
        if key.isEmpty, let v = p.keyVariable { key = environment[v] ?? "" }
        // A custom base_url on the openai preset is a compatible server that may not want a key.
        if key.isEmpty, p.keyRequired, baseURL == nil {
            throw SiphonError(.configuration, "\(path): \(name) needs an API key: set \(p.keyVariable ?? "api_key") or api_key")
        }
        let base = baseURL ?? p.baseURL
        guard let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw SiphonError(.configuration, "\(path): base_url must be an http(s) URL, got '\(base.prefix(80))'")
        }
        return OpenAIConfiguration(provider: name, baseURL: base, apiKey: key)
    }

    var headers: [(String, String)] {
        var h: [(String, String)] = [("Content-Type", "application/json")]
        if !apiKey.isEmpty { h.append(("Authorization", "Bearer \(apiKey)")) }
        if let organization { h.append(("OpenAI-Organization", organization)) }
        if let project { h.append(("OpenAI-Project", project)) }
        return h
    }

    func client() -> ProviderHTTPClient {
        ProviderHTTPClient(provider: provider, baseURL: baseURL, firstByteTimeout: firstByteTimeout, limiter: limiter) { [provider] status, body, headers in
            OpenAIConfiguration.classify(provider: provider, status: status, body: body, headers: headers)
        }
    }

    /// `{"error":{"message","type","param","code"}}` into a `ProviderError`. A 429 for quota
    /// (`insufficient_quota`) will not pass by waiting; `x-should-retry` overrides the status.
    static func classify(provider: String, status: Int, body: Data, headers: HTTPHeaders) -> ProviderError {
        struct Wire: Decodable { struct E: Decodable { var message: String?; var type: String?; var code: String? }; var error: E? }
        let wire = try? JSONDecoder().decode(Wire.self, from: body)
        var kind = ProviderError.kind(forStatus: status)
        let code = wire?.error?.code ?? wire?.error?.type
        if status == 429, code == "insufficient_quota" || wire?.error?.type == "insufficient_quota" { kind = .quotaExceeded }
        if headers.value("x-should-retry") == "false", kind == .rateLimited || kind == .server { kind = .quotaExceeded }
        let message = wire?.error?.message ?? String(decoding: body.prefix(200), as: UTF8.self)
        return ProviderError(provider: provider, kind: kind, status: status, code: code, message: message,
                             requestID: headers.value("x-request-id"), retryAfter: RetryPolicy.retryAfter { headers.value($0) })
    }

    /// An error object inside a stream (`data: {"error": …}`).
    static func streamError(provider: String, _ object: [String: Any]) -> ProviderError? {
        guard let e = object["error"] as? [String: Any] else { return nil }
        let type = e["type"] as? String
        let kind: ProviderError.Kind = type == "invalid_request_error" ? .badRequest : .server
        return ProviderError(provider: provider, kind: kind, code: (e["code"] as? String) ?? type, message: e["message"] as? String ?? "error in stream")
    }
}

extension OpenAIConfiguration {
    /// The smallest authenticated request (`GET /models`): proves the key and the endpoint, costs nothing.
    public func check() async throws -> Duration {
        try await client().probe("/models", headers: headers.filter { $0.0 != "Content-Type" })
    }
}
