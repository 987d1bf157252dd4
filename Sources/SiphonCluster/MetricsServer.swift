import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The small HTTP server of processes without an API (workers, supervisors): `GET /metrics`
/// (Prometheus text) and `GET /healthz` (200 while the process serves; what container health
/// checks probe).
public struct MetricsServer: Service {
    public var host: String
    public var port: Int
    let render: @Sendable () -> String
    let status: @Sendable () -> [String: Int]
    let logger: Logger

    /// `status`: extra figures for `/healthz` (a worker's active calls, whether it drains); the
    /// process id is always there, so `siphon healthcheck --drain` can signal the process it probes.
    public init(host: String = "0.0.0.0", port: Int, logger: Logger, render: @escaping @Sendable () -> String,
                status: @escaping @Sendable () -> [String: Int] = { [:] }) {
        (self.host, self.port, self.logger, self.render, self.status) = (host, port, logger, render, status)
    }

    public func run() async throws {
        let router = Router()
        let render = self.render, status = self.status
        router.get("/metrics") { _, _ in Self.response(render()) }
        router.get("/healthz") { _, _ in
            var body = status()
            body["pid"] = Int(getpid())
            let fields = body.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"," + fields.joined(separator: ",") + "}\n")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "siphon-metrics"), logger: logger)
        do {
            try await app.run()  // inside the caller's service group (which owns the signals)
        } catch {
            // Calls matter more than their metrics: a taken port must not stop a worker.
            logger.error("metrics server failed; /metrics and /healthz are off", metadata: ["http.port": "\(port)", "error": "\(error)"])
            try? await gracefulShutdown()
        }
    }

    /// Prometheus text exposition format 0.0.4.
    static func response(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
