import Foundation
import SiphonCore

/// An error from an AI provider, classified so retry, fallback and the circuit breaker can act on
/// it without knowing the provider. The message is the provider's own (never the request, never a key).
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// 401: the key is wrong or revoked.
        case authentication
        /// 403: the key may not use this model or feature.
        case permission
        /// 400/404/422: the request is wrong (model name, parameters).
        case badRequest = "bad_request"
        /// 429 with a retry: rate limited.
        case rateLimited = "rate_limited"
        /// 429 that will not pass by waiting: quota or spend limit.
        case quotaExceeded = "quota_exceeded"
        /// 5xx, 529, "overloaded": the provider's side.
        case server
        /// No connection, reset, TLS.
        case connection
        /// Nothing (or not the first byte) within the deadline.
        case timeout
        /// A reply outside the documented protocol (truncated stream, bad JSON).
        case malformed
        /// The circuit breaker is open for this provider.
        case circuitOpen = "circuit_open"
        /// No key configured.
        case configuration
        /// We stopped waiting (the caller hung up or barged in): nothing about the provider.
        case canceled
    }

    public var provider: String
    public var kind: Kind
    public var status: Int?
    /// The provider's error type/code (`rate_limit_error`, `insufficient_quota`, …).
    public var code: String?
    public var message: String
    public var requestID: String?
    /// What the provider asked us to wait (`retry-after-ms`, `retry-after`).
    public var retryAfter: Duration?

    public init(provider: String, kind: Kind, status: Int? = nil, code: String? = nil, message: String, requestID: String? = nil,
                retryAfter: Duration? = nil) {
        (self.provider, self.kind, self.status, self.code, self.message) = (provider, kind, status, code, message)
        (self.requestID, self.retryAfter) = (requestID, retryAfter)
    }

    /// Worth another attempt at the same provider.
    public var isRetryable: Bool {
        switch kind {
        case .rateLimited, .server, .connection, .timeout: true
        case .malformed: status == nil  // a stream cut short; a bad 200 body would only repeat
        default: false
        }
    }

    /// Says the provider, not the request, is failing: counts towards opening its circuit.
    public var isProviderFault: Bool { [.server, .connection, .timeout].contains(kind) }

    public var description: String {
        var text = "\(provider): \(kind.rawValue)"
        if let status { text += " (HTTP \(status))" }
        if let code { text += " \(code)" }
        if !message.isEmpty { text += ": " + Redaction.redact(String(message.prefix(300))) }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }

    /// The kind an HTTP status means by itself (providers refine it from the body).
    public static func kind(forStatus status: Int) -> Kind {
        switch status {
        case 401: .authentication
        case 403: .permission
        case 408: .timeout
        case 409, 429: .rateLimited
        case 400, 404, 413, 415, 422: .badRequest
        case 500...599: .server
        default: status >= 400 && status < 500 ? .badRequest : .server
        }
    }
}
