import Metrics
import SiphonAgent

/// Per request, for cost and latency reporting: time to first byte/token, duration, and the units
/// providers bill by (tokens, characters, audio seconds). Exported as Prometheus series with the
/// provider and the capability as labels.
public enum ProviderMetrics {
    public enum Capability: String, Sendable { case llm, tts, stt }

    public static func request(_ provider: String, _ capability: Capability, firstByte: Duration?, total: Duration, outcome: String) {
        let dims = [("provider", provider), ("capability", capability.rawValue)]
        if let firstByte { Timer(label: "siphon_provider_first_byte_seconds", dimensions: dims).record(duration: firstByte) }
        Timer(label: "siphon_provider_request_seconds", dimensions: dims).record(duration: total)
        Counter(label: "siphon_provider_requests_total", dimensions: dims + [("outcome", outcome)]).increment()
    }

    /// Audio a streaming recogniser could not take (its socket seconds behind): dropped, so the
    /// call's VAD and barge-in never wait for it.
    public static func sttAudioDropped(_ provider: String, frames: Int) {
        Counter(label: "siphon_stt_frames_dropped_total", dimensions: [("provider", provider)]).increment(by: frames)
    }

    /// `unit`: `prompt_tokens`, `completion_tokens`, `characters`, `audio_seconds`.
    public static func usage(_ provider: String, _ capability: Capability, unit: String, _ amount: Double) {
        guard amount > 0 else { return }
        FloatingPointCounter(label: "siphon_provider_usage_total", dimensions: [("provider", provider), ("capability", capability.rawValue), ("unit", unit)])
            .increment(by: amount)
    }
}

/// Times one request: call `firstByte()` when the first token or audio arrives, `finish` at the end.
public struct RequestClock: Sendable {
    let started = ContinuousClock.now
    public private(set) var firstByteAt: Duration?

    public init() {}

    public mutating func firstByte() { if firstByteAt == nil { firstByteAt = ContinuousClock.now - started } }
    public var elapsed: Duration { ContinuousClock.now - started }

    public func finish(_ provider: String, _ capability: ProviderMetrics.Capability, error: (any Error)? = nil) {
        let outcome = error.map { ($0 as? ProviderError)?.kind.rawValue ?? "error" } ?? "ok"
        ProviderMetrics.request(provider, capability, firstByte: firstByteAt, total: elapsed, outcome: outcome)
    }
}

/// Token counts from an LLM's usage event, for cost reporting.
public enum LLMUsage {
    public static func record(_ event: LLMEvent, provider: String) {
        guard case .usage(let prompt, let completion) = event else { return }
        ProviderMetrics.usage(provider, .llm, unit: "prompt_tokens", Double(prompt))
        ProviderMetrics.usage(provider, .llm, unit: "completion_tokens", Double(completion))
    }
}
