import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SiphonCore

/// The small HTTP server of processes without an API (workers, supervisors): `GET /metrics`
/// (Prometheus text) and `GET /healthz` (200 while the process serves; what container health
/// checks probe). If its port is taken the process stops with an error naming the port: a worker
/// that ran on with its health checks silently off (or answered by another process on the port)
/// would look healthy while nobody could see it.
public struct MetricsServer: Service {
    public var host: String
    public var port: Int
    /// `worker`, `supervisor`: in `/healthz`, so a probe knows what answered.
    public var role: String
    let render: @Sendable () -> String
    let status: @Sendable () -> [String: Int]
    let logger: Logger

    /// `status`: extra figures for `/healthz` (a worker's active calls, whether it drains); the
    /// process id is always there, so `siphon healthcheck --drain` can signal the process it probes.
    public init(host: String = "0.0.0.0", port: Int, role: String, logger: Logger, render: @escaping @Sendable () -> String,
                status: @escaping @Sendable () -> [String: Int] = { [:] }) {
        (self.host, self.port, self.role, self.logger, self.render, self.status) = (host, port, role, logger, render, status)
    }

    public func run() async throws {
        let router = Router()
        let render = self.render, status = self.status, role = self.role
        router.get("/metrics") { _, _ in Self.response(render()) }
        router.get("/healthz") { _, _ in
            var body = status()
            body["pid"] = Int(getpid())
            let fields = body.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\",\"role\":\"\(role)\"," + fields.joined(separator: ",") + "}\n")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "siphon-metrics"), logger: logger)
        do {
            try await app.run()  // inside the caller's service group (which owns the signals)
        } catch {
            throw ListenError(.metrics, host: host, port: port, error: error)
        }
    }

    /// Prometheus text exposition format 0.0.4.
    static func response(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
