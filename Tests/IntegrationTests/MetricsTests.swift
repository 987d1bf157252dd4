import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SiphonCore

/// Every process serves Prometheus `/metrics`; scraped after real calls and parsed with
/// prometheus_client's parser. `siphon healthcheck` against the same ports.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MetricsTests {
    /// Samples by name: [(labels, value)].
    typealias Samples = [String: [([String: String], Double)]]

    func scrape(_ port: Int) async throws -> Samples {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Repository.python)
        p.arguments = [Repository.root.appendingPathComponent("scripts/parse-metrics.py").path]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(data)
        try input.fileHandleForWriting.close()
        let parsed = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let object = try JSONSerialization.jsonObject(with: parsed) as? [String: [[Any]]] else {
            throw HarnessError("metrics on :\(port) did not parse:\n\(String(decoding: data, as: UTF8.self))")
        }
        return object.mapValues { $0.compactMap { pair in
            guard pair.count == 2, let labels = pair[0] as? [String: String], let value = pair[1] as? Double else { return nil }
            return (labels, value)
        } }
    }

    func value(_ s: Samples, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        s[name]?.first { sample in labels.allSatisfy { sample.0[$0.key] == $0.value } }?.1
    }

    @Test func workerSupervisorAndDispatcherServeMetrics() async throws {
        let h = try ClusterHarness()
        let (wPort, sPort) = (LoopbackPort.free(), LoopbackPort.free())
        try h.worker("w1", extra: ["--no-sip", "--metrics-port", String(wPort)])
        let sup = try SiphonProcess(["supervisor", "--id", "sup", "--tick-ms", "50", "--metrics-port", String(sPort)], redis: h.redis.urlString, name: "sup")
        let (dispatcherProcess, api) = try await DispatcherAPITests().start(h)
        try await h.waitForWorkers(1)
        for _ in 0..<3 {
            let (status, _) = try await api.request("POST", "/v1/calls", body: #"{"agent":"Sim","to":"+15550200123","transport":"sim","sim":{"turns":2,"interval_ms":20}}"#)
            #expect(status == 201)
        }
        let (bad, _) = try await api.request("POST", "/v1/calls", body: #"{"agent":"Sim","to":"12","transport":"sim"}"#)
        #expect(bad == 400)
        let ids = try await h.store.list(status: nil, limit: 10).map(\.id)
        try await h.waitAllTerminal(ids)

        let worker = try await scrape(wPort)
        #expect(value(worker, "siphon_calls_total", ["status": "ended"]) == 3)
        #expect(value(worker, "siphon_claim_latency_seconds_count") == 3)
        #expect(value(worker, "siphon_worker_active_calls", ["worker": "w1"]) == 0)
        // The media loops' nice value in effect: raised (root may), else the process's own.
        #expect(value(worker, "siphon_worker_media_nice") == (geteuid() == 0 ? -10 : 0))

        try await eventually(10, "the supervisor's queue report") { try await value(scrape(sPort), "siphon_workers_alive") == 1 }
        let supervisor = try await scrape(sPort)
        #expect(value(supervisor, "siphon_queue_depth") == 0)

        let port = Int(api.base.split(separator: ":").last!)!
        let dispatcher = try await scrape(port)
        #expect(value(dispatcher, "siphon_api_calls_total", ["outcome": "created"]) == 3)
        #expect(value(dispatcher, "siphon_api_calls_total", ["outcome": "error_invalid_input"]) == 1)

        // The container health check.
        #expect(try SiphonProcess.run(["healthcheck", "--port", String(wPort)], redis: nil).0 == 0)
        #expect(try SiphonProcess.run(["healthcheck", "--port", String(LoopbackPort.free())], redis: nil).0 == 1)
        _ = (sup, dispatcherProcess)  // alive until here
    }

    /// The preStop drain: the worker is signalled, stops claiming, finishes its call, exits.
    @Test func healthcheckDrainWaitsForTheWorkersCalls() async throws {
        let h = try ClusterHarness()
        let port = LoopbackPort.free()
        let w = try h.worker("w1", extra: ["--no-sip", "--metrics-port", String(port), "--drain-timeout", "30"])
        try await h.waitForWorkers(1)
        let ids = try await h.enqueueSim(1, turns: 6, intervalMs: 300)
        try await eventually(10, "the call running") { try await h.status(ids[0]) == .active }
        let (status, out, err) = try SiphonProcess.run(["healthcheck", "--port", String(port), "--drain", "--timeout", "30"], redis: nil)
        #expect(status == 0, "\(out) \(err)")
        #expect(try await h.status(ids[0]) == .ended, "the call finished before the drain returned")
        #expect(w.wait(seconds: 10) == 0)
    }
}
