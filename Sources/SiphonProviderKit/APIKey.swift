import SiphonCore

/// Resolves a provider's key at start-up: the agent configuration's `api_key` (usually
/// `${VAR}`-expanded), else the provider's environment variable. A missing key fails here, when
/// the worker starts, not at the first call.
public enum APIKey {
    public static func resolve(explicit: String?, environment: Environment, variable: String, provider: String, path: String) throws -> String {
        if let key = explicit?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty { return key }
        if let key = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty { return key }
        throw SiphonError(.configuration, "\(path): \(provider) needs an API key: set \(variable) or api_key")
    }
}
