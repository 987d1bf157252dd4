import Metrics

/// Figures of the `sip` transport, through swift-metrics (Prometheus in the executable).
enum TelephonyMetrics {
    /// A call's recording could not be created or written (full disk, I/O error): the recording
    /// stopped, the call did not.
    static func recordingFailed() { Counter(label: "siphon_recording_failures_total").increment() }
}
