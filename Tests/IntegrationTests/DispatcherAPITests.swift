import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SiphonCore

/// The dispatcher process over HTTP: auth, validation errors as JSON, the call resources.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DispatcherAPITests {
    struct API {
        let base: String
        let token: String

        func request(_ method: String, _ path: String, body: String? = nil, token: String? = nil,
                     headers: [String: String] = [:]) async throws -> (Int, [String: Any]) {
            var r = URLRequest(url: URL(string: base + path)!)
            r.httpMethod = method
            if let t = token ?? (self.token.isEmpty ? nil : self.token) { r.setValue("Bearer \(t)", forHTTPHeaderField: "Authorization") }
            for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
            if let body {
                r.httpBody = Data(body.utf8)
                r.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: r)
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return ((response as! HTTPURLResponse).statusCode, json)
        }
    }

    func start(_ h: ClusterHarness) async throws -> (SiphonProcess, API) {
        let port = LoopbackPort.free()
        let p = try SiphonProcess(["dispatcher", "--port", String(port), "--host", "127.0.0.1"], redis: h.redis.urlString,
                                  environment: ["SIPHON_API_TOKEN": "test-token-123"], name: "dispatcher")
        let api = API(base: "http://127.0.0.1:\(port)", token: "test-token-123")
        do {
            try await eventually(20, "dispatcher up") { try await api.request("GET", "/healthz").0 == 200 }
        } catch {
            throw HarnessError("\(error)\n\(p.output)")
        }
        return (p, api)
    }

    @Test func refusesToStartWithoutAToken() throws {
        let h = try ClusterHarness()
        let (status, _, err) = try SiphonProcess.run(["dispatcher", "--port", String(LoopbackPort.free()), "--env-file", "/nonexistent"],
                                                     redis: h.redis.urlString, environment: ["SIPHON_API_TOKEN": ""])
        #expect(status != 0)
        #expect(err.contains("SIPHON_API_TOKEN"))
    }

    @Test func callsResource() async throws {
        let h = try ClusterHarness()
        let (dispatcher, api) = try await start(h)
        defer { withExtendedLifetime(dispatcher) {} }
        try h.worker("w1")
        try h.supervisor()
        try await h.waitForWorkers(1)

        #expect(try await api.request("GET", "/v1/workers", token: "wrong").0 == 401)
        #expect(try await api.request("GET", "/v1/workers", token: "").0 == 401)
        let (ready, readyBody) = try await api.request("GET", "/readyz")
        #expect(ready == 200 && readyBody["live_workers"] as? Int == 1)

        let (created, body) = try await api.request("POST", "/v1/calls",
            body: #"{"agent":"Receptionist","to":"+1 555 020 0123","transport":"sim","sim":{"turns":3,"interval_ms":20}}"#,
            headers: ["Idempotency-Key": "api-1"])
        #expect(created == 201)
        let id = try #require(body["id"] as? String)
        let (replay, replayBody) = try await api.request("POST", "/v1/calls",
            body: #"{"agent":"Receptionist","to":"+15550200123","transport":"sim"}"#, headers: ["Idempotency-Key": "api-1"])
        #expect(replay == 200 && replayBody["id"] as? String == id)

        try await eventually(20, "call ended") { try await api.request("GET", "/v1/calls/\(id)").1["status"] as? String == "ended" }
        let (_, record) = try await api.request("GET", "/v1/calls/\(id)")
        #expect(record["to"] as? String == "+15550200123")
        #expect(record["worker"] as? String == "w1")
        let (_, turns) = try await api.request("GET", "/v1/calls/\(id)/turns")
        #expect((turns["turns"] as? [[String: Any]])?.map { $0["seq"] as? Int } == [1, 2, 3])
        let (_, events) = try await api.request("GET", "/v1/calls/\(id)/events")
        #expect((events["events"] as? [[String: Any]])?.last?["type"] as? String == "ended")
        let (_, list) = try await api.request("GET", "/v1/calls?status=ended")
        #expect((list["calls"] as? [[String: Any]])?.count == 1)
        let (_, workers) = try await api.request("GET", "/v1/workers")
        #expect((workers["workers"] as? [[String: Any]])?.first?["id"] as? String == "w1")

        // Cancel a long call while it runs.
        let (_, long) = try await api.request("POST", "/v1/calls", body: #"{"agent":"R","to":"+15550200123","transport":"sim","sim":{"turns":500,"interval_ms":50}}"#)
        let longID = try #require(long["id"] as? String)
        try await eventually(20, "long call running") { try await h.store.call(longID)?.lastSeq ?? 0 >= 1 }
        #expect(try await api.request("DELETE", "/v1/calls/\(longID)").0 == 202)
        try await eventually(20, "canceled") { try await h.status(longID) == .canceled }
        #expect(try await api.request("DELETE", "/v1/calls/\(longID)").0 == 409)
    }

    @Test func badInputGetsJSONErrors() async throws {
        let h = try ClusterHarness()
        let (dispatcher, api) = try await start(h)
        defer { withExtendedLifetime(dispatcher) {} }
        let cases: [(String, String, String, Int, String)] = [
            ("POST", "/v1/calls", #"{"agent":"R","to":"555"}"#, 400, "E.164"),
            ("POST", "/v1/calls", #"{"agent":"R","to":"+15550200123","speed":"fast"}"#, 400, "unknown key 'speed'"),
            ("POST", "/v1/calls", "not json", 400, "not valid JSON"),
            ("POST", "/v1/calls", #"{"agent":"Ghost","to":"+15550200123","transport":"sip"}"#, 404, "no live worker serves agent 'Ghost'"),
            ("GET", "/v1/calls/call-missing", "", 404, "no call"),
            ("GET", "/v1/calls/bad%20id", "", 400, "may only contain"),
            ("GET", "/v1/calls?status=dancing", "", 400, "status must be one of"),
            ("DELETE", "/v1/calls/call-missing", "", 404, "no call"),
        ]
        for (method, path, body, status, message) in cases {
            let (code, json) = try await api.request(method, path, body: body.isEmpty ? nil : body)
            #expect(code == status, "\(method) \(path): \(code)")
            let error = json["error"] as? [String: Any]
            #expect((error?["message"] as? String)?.contains(message) == true, "\(method) \(path): \(json)")
        }
        let big = String(repeating: "x", count: 70_000)
        let (code, _) = try await api.request("POST", "/v1/calls", body: #"{"agent":"R","to":"+15550200123","metadata":{"k":"\#(big)"}}"#)
        #expect(code == 413)
    }
}
