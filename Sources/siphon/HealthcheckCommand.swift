import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `siphon healthcheck`: the container health probe (the image has no curl), and the Kubernetes
/// preStop drain for workers.
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Probe a local siphon process's /healthz (exit 0 when healthy); --drain: drain a worker and wait.",
        discussion: """
            With --drain, the process answering on --port is sent SIGTERM (it stops claiming calls and lets
            its calls finish), and the command waits until it has no active calls, has exited, or --timeout
            passes. Use it as a worker's preStop hook so the pod is not killed mid-call.
            """)

    @Option(help: "Host of the probed process.") var host: String = "127.0.0.1"
    @Option(help: "Its metrics port (workers 9464, supervisors 9465) or API port (dispatcher 8080).") var port: Int
    @Option(help: "The role the process must have: worker or supervisor (another process answering on the port is unhealthy).")
    var role: String?
    @Flag(help: "Drain the worker and wait for its calls to end.") var drain = false
    @Option(help: "Seconds to wait with --drain.") var timeout: Double = 60

    func validate() throws {
        if let role, !["worker", "supervisor"].contains(role) { throw ValidationError("--role must be worker or supervisor") }
        guard (1...65535).contains(port) else { throw ValidationError("--port: 1 to 65535") }
        guard timeout.isFinite, (0...86_400).contains(timeout) else { throw ValidationError("--timeout: 0 to 86400 seconds") }
    }

    func run() async throws {
        guard let status = await Self.health(host: host, port: port) else {
            if drain { return }  // nothing answers: nothing to drain
            throw CleanExit.message("unhealthy: no answer from http://\(host):\(port)/healthz")
        }
        // Only workers drain: never SIGTERM a supervisor that happens to answer on the port.
        let expected = drain ? "worker" : role
        if let expected, status.role != expected {
            throw CleanExit.message("unhealthy: a \(status.role ?? "process without a role") answers on port \(port), not a \(expected)")
        }
        guard drain else { return }
        // In a container the worker is pid 1; make sure that pid is really siphon before signalling it.
        guard let pid = status.figures["pid"], pid > 0,
              (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.hasPrefix("siphon") == true else {
            throw CleanExit.message("the process on port \(port) is not a siphon process this command can signal")
        }
        kill(pid_t(pid), SIGTERM)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            guard let s = await Self.health(host: host, port: port) else { return }  // exited
            if (s.figures["active_calls"] ?? 0) == 0 { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw CleanExit.message("still \(await Self.health(host: host, port: port)?.figures["active_calls"] ?? 0) active calls after \(timeout) s")
    }

    struct Health {
        var role: String?
        var figures: [String: Int]
    }

    /// The /healthz answer, or nil when it does not answer 200.
    static func health(host: String, port: Int) async -> Health? {
        guard let url = URL(string: "http://\(host):\(port)/healthz") else { return nil }
        var request = URLRequest(url: url)
        request.timeoutInterval = 3
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              (response as? HTTPURLResponse)?.statusCode == 200 else { return nil }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Health(role: object["role"] as? String, figures: object.compactMapValues { $0 as? Int })
    }
}
