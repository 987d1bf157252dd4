import Metrics
import SiphonCore

/// The cluster's metrics, through swift-metrics (the executable bootstraps a Prometheus backend;
/// without one these are no-ops). Names follow Prometheus conventions; see docs/operations.md.
enum ClusterMetrics {
    static func callEnded(_ status: CallStatus) {
        Counter(label: "siphon_calls_total", dimensions: [("status", status.rawValue)]).increment()
    }

    static func activeCalls(worker: String, _ n: Int) {
        Gauge(label: "siphon_worker_active_calls", dimensions: [("worker", worker)]).record(n)
    }

    /// From the job's creation (enqueue) to a worker's claim.
    static func claimLatency(ms: Int64) {
        Metrics.Timer(label: "siphon_claim_latency_seconds").recordMilliseconds(max(0, ms))
    }

    /// `POST /v1/calls`: enqueued (or an idempotent replay), or refused with an error code.
    static func apiCall(created: Bool, error: String?) {
        let outcome = error.map { "error_\($0)" } ?? (created ? "created" : "replayed")
        Counter(label: "siphon_api_calls_total", dimensions: [("outcome", outcome)]).increment()
    }

    static func reassigned() { Counter(label: "siphon_reassignments_total").increment() }
    static func workerLost() { Counter(label: "siphon_workers_lost_total").increment() }
    static func deadLettered() { Counter(label: "siphon_dead_letters_total").increment() }
    /// A call silenced because its worker could not renew the lease (cut off from Redis).
    static func callSuspended() { Counter(label: "siphon_calls_suspended_total").increment() }

    /// Jobs in the stream not yet delivered to any worker, how long the oldest has waited, and
    /// how many workers are alive (the leading supervisor reports these).
    static func queue(depth: Int, oldestAgeMs: Int64, liveWorkers: Int) {
        Gauge(label: "siphon_queue_depth").record(depth)
        Gauge(label: "siphon_queue_lag_seconds").record(Double(oldestAgeMs) / 1000)
        Gauge(label: "siphon_workers_alive").record(liveWorkers)
    }
}
