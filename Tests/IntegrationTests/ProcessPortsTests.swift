import Foundation
import Testing
import SiphonCore

/// Operators run a supervisor and workers side by side on one host: the defaults must coexist,
/// a taken port must stop a process at start-up naming the address, the port and the option that
/// moves it, and a health probe must know what answered it.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ProcessPortsTests {
    @Test func defaultMetricsPortsDifferByRole() throws {
        let cli = try CLIHelp.load()
        #expect(cli.commands["worker"]?["metrics-port"]?.defaultValue == "9464")
        #expect(cli.commands["supervisor"]?["metrics-port"]?.defaultValue == "9465")
    }

    @Test func aTakenPortStopsTheProcessAndNamesIt() async throws {
        let redis = try RedisServer()
        let metrics = LoopbackPort.free(), sip = LoopbackPort.free(udp: true)
        let first = try SiphonProcess(["worker", "--id", "first", "--metrics-port", String(metrics), "--sip-port", String(sip), "--bind", "127.0.0.1"],
                                      redis: redis.urlString, name: "first")
        try await eventually(30, "the first worker's /healthz") {
            try SiphonProcess.run(["healthcheck", "--port", String(metrics), "--role", "worker"], redis: nil).0 == 0
        }
        // What answers is a worker: a probe that wants a supervisor there is told so.
        let (wrongRole, _, roleErr) = try SiphonProcess.run(["healthcheck", "--port", String(metrics), "--role", "supervisor"], redis: nil)
        #expect(wrongRole == 1 && roleErr.contains("a worker answers on port \(metrics), not a supervisor"), "\(roleErr)")

        // The same metrics port: the second worker stops before it binds SIP or claims anything.
        let second = try SiphonProcess(["worker", "--id", "second", "--metrics-port", String(metrics), "--sip-port", "0", "--bind", "127.0.0.1"],
                                       redis: redis.urlString, name: "second")
        #expect(second.wait(seconds: 20) == 1)
        #expect(second.output.contains("/metrics and /healthz cannot listen on 0.0.0.0:\(metrics): address already in use"), "\(second.output)")
        #expect(second.output.contains("--metrics-port"), "\(second.output)")
        // A supervisor on it: the same.
        let supervisor = try SiphonProcess(["supervisor", "--metrics-port", String(metrics)], redis: redis.urlString, name: "sup")
        #expect(supervisor.wait(seconds: 20) == 1)
        #expect(supervisor.output.contains("cannot listen on 0.0.0.0:\(metrics)"), "\(supervisor.output)")

        // Another metrics port but the same SIP port: named, with --sip-port (was "bind(descriptor:ptr:bytes:) … errno: 98").
        let third = try SiphonProcess(["worker", "--id", "third", "--metrics-port", "0", "--sip-port", String(sip), "--bind", "127.0.0.1"],
                                      redis: redis.urlString, name: "third")
        #expect(third.wait(seconds: 20) == 1)
        #expect(third.output.contains("SIP over UDP cannot listen on 127.0.0.1:\(sip): address already in use"), "\(third.output)")
        #expect(third.output.contains("--sip-port"), "\(third.output)")

        // The dispatcher's API port.
        let api = try SiphonProcess(["dispatcher", "--port", String(metrics), "--host", "0.0.0.0", "--no-auth"], redis: redis.urlString, name: "api")
        #expect(api.wait(seconds: 20) == 1)
        #expect(api.output.contains("the HTTP API cannot listen on 0.0.0.0:\(metrics)") && api.output.contains("--port"), "\(api.output)")

        #expect(first.isRunning)
        first.signal(SIGTERM)
        #expect(first.wait(seconds: 20) == 0)
    }
}
