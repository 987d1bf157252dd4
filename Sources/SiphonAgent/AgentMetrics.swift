import Metrics

/// Per-turn latency and provider failures, through swift-metrics (a Prometheus backend in the
/// executable; no-ops without one).
enum AgentMetrics {
    /// One agent turn's latency marks: `stage` is stt, endpointing, llm, tts, framework or voice_to_voice.
    static func turn(_ extra: [String: String]) {
        for stage in ["stt", "endpointing", "llm", "tts", "framework", "voice_to_voice"] {
            guard let ms = extra["latency.\(stage)_ms"].flatMap(Int64.init) else { continue }
            Metrics.Timer(label: "siphon_turn_latency_seconds", dimensions: [("stage", stage)]).recordMilliseconds(ms)
        }
    }

    /// Answering-machine detection: who answered, and how long the decision took.
    static func amdDecision(_ result: String, milliseconds: Int) {
        Counter(label: "siphon_amd_decisions_total", dimensions: [("result", result)]).increment()
        Metrics.Timer(label: "siphon_amd_decision_seconds", dimensions: [("result", result)]).recordMilliseconds(Int64(milliseconds))
    }

    /// A decision the greeting's words changed (a cadence "machine" that was a screener, a menu or a person).
    static func amdRevision(_ result: String) {
        Counter(label: "siphon_amd_revisions_total", dimensions: [("result", result)]).increment()
    }

    /// A "machine" decision the callee proved wrong by talking back.
    static func amdRecovered() { Counter(label: "siphon_amd_recovered_total").increment() }

    /// A fixed line (greeting, filler, prompt) said from the agent's `PhraseCache`, or synthesised.
    static func phrase(cached: Bool) {
        Counter(label: "siphon_tts_fixed_lines_total", dimensions: [("source", cached ? "cache" : "tts")]).increment()
    }

    static func bargeIn() { Counter(label: "siphon_barge_ins_total").increment() }

    /// The caller acknowledged ("uh-huh") over the agent, which went on.
    static func backchannel() { Counter(label: "siphon_backchannels_total").increment() }

    /// The agent said a filler while the model or a tool was slow (`reason`: llm or tool).
    static func filler(_ reason: String) { Counter(label: "siphon_fillers_total", dimensions: [("reason", reason)]).increment() }

    /// `kind`: stt, llm or tts; `provider`: the plugin's name.
    static func providerError(_ kind: String, provider: String) {
        Counter(label: "siphon_provider_errors_total", dimensions: [("kind", kind), ("provider", provider)]).increment()
    }
}
