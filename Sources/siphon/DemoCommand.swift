import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SiphonCluster
import SiphonCore
import SiphonRedis

/// `siphon demo`: a complete call on this machine with the production processes and no provider or
/// carrier. Redis (started here unless --redis is given), the dispatcher, a supervisor, a worker serving
/// the built-in offline receptionist over SIP/RTP, and `siphon caller` — a SIP phone on loopback that
/// speaks scripted lines, one of them over the agent to show barge-in. The call is placed with one
/// HTTP request; the transcript is followed live; both sides are recorded.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Place a complete SIP call locally with the offline engines (no keys, no network).")

    @OptionGroup(title: "Common options (the demo starts a Redis of its own unless --redis is given; it never reads $REDIS_URL)")
    var common: CommonOptions
    @Option(help: "Directory for the recording, the session record and the processes' logs.") var out: String = "out/demo"
    @Flag(help: "End the output with the session record as JSON (the `sessions show --json` format).") var json = false

    static let lines = ["I would like to book a cleaning", "@2.5 Tuesday please", "In the morning", "No that is all thank you"]

    func run() async throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: "\(out)/call.wav")
        var logger = Logger(label: "siphon.demo")
        logger.logLevel = .critical
        let processes = DemoProcesses(out: out)
        defer { processes.stopAll() }

        // Children get the URL in REDIS_URL, not on their command line (where `ps` would show a password).
        var redisString = self.common.redis ?? ""
        if self.common.redis == nil { redisString = try await processes.startRedis() }
        let redisURL = try RedisURL(redisString)
        processes.environment["REDIS_URL"] = redisString
        let client = RedisClient(.init(url: redisURL, connections: 2), logger: logger)
        let keys = self.common.keys
        let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let apiPort = LoopbackPort.free()
        let common = self.common.childArguments(envFile: "")  // the demo's settings only, not a .env meant for production
        try processes.siphon("dispatcher", ["dispatcher", "--host", "127.0.0.1", "--port", String(apiPort)] + common, environment: ["SIPHON_API_TOKEN": token])
        try processes.siphon("supervisor", ["supervisor", "--metrics-port", "0"] + common)
        try processes.siphon("worker", ["worker", "--id", "demo-worker", "--capacity", "4", "--sip-port", "0", "--bind", "127.0.0.1",
                                        "--sip-host", "127.0.0.1", "--rtp-ports", "40000-40999", "--metrics-port", "0"] + common)
        try processes.siphon("caller", ["caller", "--port", "0", "--record", "\(out)/call.wav"] + Self.lines.flatMap { ["--line", $0] })
        let callerPort = try await processes.waitForPort(of: "caller")
        try await waitUntil("the worker to register") { try await CallQueue(client: client, keys: keys).liveWorkers().count >= 1 }
        try await waitUntil("the dispatcher to listen") { await Self.ready(apiPort) }
        print("== cluster up: dispatcher http://127.0.0.1:\(apiPort), caller SIP 127.0.0.1:\(callerPort), \(redisURL)")

        let body = #"{"agent":"offline-receptionist","to":"+15550200123","from":"+15550100000","transport":"sip","trunk":{"address":"127.0.0.1:\#(callerPort)"}}"#
        print("== POST /v1/calls \(body)")
        let id = try await Self.placeCall(port: apiPort, token: token, body: body)
        print("== call \(id), live (siphon sessions show \(id) --follow)")
        let store = SessionStore(client: client, keys: keys)
        let record = try await SessionsCommand.Show.follow(id, store: store)
        print("== caller: \(processes.waitForCaller())")

        let session = SessionView(record: record, turns: try await store.turns(id), events: try await store.events(id), context: try await store.context(id))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(session).write(to: URL(fileURLWithPath: "\(out)/session.json"))
        print("== session record: \(out)/session.json; recording: \(out)/call.wav (left: the agent as the caller heard it, right: the caller)")
        Self.printLatency(session.turns)
        if json { printJSON(session) }
        if record.status != .ended { throw ExitCode(1) }
    }

    /// Per-turn latency at the wire and the barge-ins, from the turns' latency marks.
    static func printLatency(_ turns: [Turn]) {
        for t in turns where t.role == .agent {
            guard let v2v = t.extra["latency.voice_to_voice_ms"] else { continue }
            let parts = ["stt", "endpointing", "llm", "tts", "framework"].compactMap { k in t.extra["latency.\(k)_ms"].map { "\(k)=\($0)" } }
            print("  turn #\(t.seq): voice-to-voice \(v2v) ms (\(parts.joined(separator: " ")))")
        }
        let cut = turns.filter(\.interrupted)
        print("  barge-ins: \(cut.count)")
        for t in cut {
            print("  turn #\(t.seq): the agent stopped \(t.extra["barge_in.detect_ms"] ?? "?") ms after the caller started talking; heard: \"\(t.text)\"")
        }
    }

    static func ready(_ port: Int) async -> Bool {
        guard let url = URL(string: "http://127.0.0.1:\(port)/healthz") else { return false }
        return ((try? await URLSession.shared.data(from: url))?.1 as? HTTPURLResponse)?.statusCode == 200
    }

    static func placeCall(port: Int, token: String, body: String) async throws -> String {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/calls")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 201,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let id = object["id"] as? String else {
            throw CleanExit.message("the dispatcher refused the call: \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        return id
    }
}

/// Polls every 100 ms for up to `seconds`.
func waitUntil(_ what: String, seconds: Double = 20, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw CleanExit.message("timed out waiting for \(what)")
}

/// The demo's child processes, each logging to `<out>/<name>.log`; SIGTERM on the way out.
final class DemoProcesses: @unchecked Sendable {
    let out: String
    private var children: [(name: String, process: ChildProcess)] = []
    private var redisDirectory: String?
    /// Added to every child's environment.
    var environment: [String: String] = [:]

    init(out: String) { self.out = out }

    func log(_ name: String) -> String { "\(out)/\(name).log" }

    func pid(of name: String) -> Int32? { children.first { $0.name == name }?.process.pid }

    /// `executable`: another siphon binary (a benchmark's "before").
    func siphon(_ name: String, _ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        try? FileManager.default.removeItem(atPath: log(name))
        let env = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }.merging(environment) { $1 }
        children.append((name, try ChildProcess(executable ?? Self.executable, arguments, environment: env, output: log(name))))
    }

    /// redis-server with AOF on a free loopback port, in a temporary directory.
    func startRedis() async throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-demo-redis-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        redisDirectory = dir
        let port = LoopbackPort.free()
        do {
            children.append(("redis", try ChildProcess("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
                                                                         "--appendonly", "yes", "--save", ""],
                                                       environment: ProcessInfo.processInfo.environment, output: log("redis"))))
        } catch {
            throw CleanExit.message("redis-server is not installed (apt-get install redis-server), or pass --redis URL")
        }
        let url = "redis://127.0.0.1:\(port)/0"
        var logger = Logger(label: "siphon.demo")
        logger.logLevel = .critical
        let client = RedisClient(.init(url: try RedisURL(url), connections: 1), logger: logger)
        try await waitUntil("redis-server to start") { try await client.send("PING").string == "PONG" }
        return url
    }

    /// A benchmark's cluster: the Redis at `--redis`, or one of its own; the queue and session store
    /// on it (children get it as REDIS_URL).
    func cluster(_ common: CommonOptions, logger: Logger) async throws -> (CallQueue, SessionStore) {
        var url = common.redis ?? ""
        if common.redis == nil { url = try await startRedis() }
        environment["REDIS_URL"] = url
        let client = RedisClient(.init(url: try RedisURL(url), connections: 2), logger: logger)
        return (CallQueue(client: client, keys: common.keys), SessionStore(client: client, keys: common.keys))
    }

    /// The port a `siphon caller` child reports ("listening on N").
    func waitForPort(of name: String) async throws -> Int {
        var port = 0
        try await waitUntil("\(name) to listen") {
            let text = (try? String(contentsOfFile: self.log(name), encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) else { return false }
            port = Int(line.dropFirst("listening on ".count)) ?? 0
            return port > 0
        }
        return port
    }

    /// The caller's last line once it has exited (it does when the call ends).
    func waitForCaller() -> String {
        if let caller = children.first(where: { $0.name == "caller" })?.process { caller.wait(seconds: 10) }
        let text = (try? String(contentsOfFile: log("caller"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? "(no output)"
    }

    func stopAll() {
        for c in children.reversed() { c.process.signal(SIGTERM) }
        for c in children.reversed() { c.process.wait(seconds: 5) }
        if let redisDirectory { try? FileManager.default.removeItem(atPath: redisDirectory) }
    }

    /// This executable, so the demo runs the same build it was started from.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
