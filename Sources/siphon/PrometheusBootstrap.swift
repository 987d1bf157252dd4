import Metrics
import Prometheus

/// One Prometheus registry per process, behind swift-metrics: the libraries emit through
/// swift-metrics, `/metrics` renders this registry.
enum PrometheusBootstrap {
    nonisolated(unsafe) private static var registry: PrometheusCollectorRegistry?

    /// Bootstraps once (later calls return the same registry); returns the `/metrics` renderer.
    static func start() -> @Sendable () -> String {
        if registry == nil {
            let r = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: r)
            // Turn and claim latencies are tens to hundreds of ms; the default buckets go to 10 s.
            factory.defaultDurationHistogramBuckets = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                       .milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(500),
                                                       .milliseconds(750), .seconds(1), .milliseconds(1500), .seconds(2), .seconds(3),
                                                       .seconds(5), .seconds(10)]
            MetricsSystem.bootstrap(factory)
            registry = r
        }
        let r = registry!
        return { r.emitToString() }
    }
}
