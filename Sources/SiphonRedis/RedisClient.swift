import Dispatch
import Foundation
import Logging
import SiphonCore
import Synchronization

/// An async Redis client over hiredis.
///
/// Each of its connections lives on a dedicated serial `DispatchQueue` (the swift-kafka-client
/// pattern), so hiredis' blocking socket calls never occupy Swift's cooperative threads. Commands go
/// to the connection with the fewest commands in flight. A broken connection is reopened on the next
/// command with exponential backoff and jitter, for up to `reconnectWindowMs`.
public final class RedisClient: Sendable {
    public struct Configuration: Sendable {
        public var url: RedisURL
        public var connections: Int
        public var connectTimeoutMs: Int
        /// Socket read timeout; must exceed the longest `BLOCK` a caller uses on this client.
        public var commandTimeoutMs: Int
        /// How long a command keeps trying to (re)connect before failing with `.unavailable`.
        public var reconnectWindowMs: Int

        public init(url: RedisURL, connections: Int = 2, connectTimeoutMs: Int = 1000,
                    commandTimeoutMs: Int = 10_000, reconnectWindowMs: Int = 5000) {
            self.url = url
            self.connections = max(1, connections)
            self.connectTimeoutMs = connectTimeoutMs
            self.commandTimeoutMs = commandTimeoutMs
            self.reconnectWindowMs = reconnectWindowMs
        }
    }

    public let configuration: Configuration
    private let slots: [Slot]
    private let inflight: Mutex<[Int]>
    let logger: Logger

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "siphon.redis")) {
        self.configuration = configuration
        self.logger = logger
        self.slots = (0..<configuration.connections).map { i in
            Slot(index: i, configuration: configuration, logger: logger)
        }
        self.inflight = Mutex(Array(repeating: 0, count: configuration.connections))
    }

    public convenience init(url: RedisURL, connections: Int = 2, logger: Logger = Logger(label: "siphon.redis")) {
        self.init(Configuration(url: url, connections: connections), logger: logger)
    }

    /// Runs one command. Redis error replies are thrown as `RedisError(.server, …)`.
    @discardableResult
    public func send(_ args: [String]) async throws -> RedisReply {
        let reply = try await run { try $0.command(args) }
        if case .error(let e) = reply { throw RedisError(.server, e) }
        return reply
    }

    @discardableResult
    public func send(_ args: String...) async throws -> RedisReply { try await send(args) }

    /// Runs several commands in one round trip, in order, on one connection. Error replies come back
    /// as `.error` values in their place so one failed command does not hide the others' results.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        return try await run { try $0.pipeline(commands) }
    }

    /// Pipelined writes where only failures matter: the error message of each command, or nil.
    public func pipelineErrors(_ commands: [[String]]) async throws -> [String?] {
        if commands.isEmpty { return [] }
        return try await run { try $0.pipelineErrors(commands) }
    }

    /// Runs a Lua script by SHA, loading it first if the server does not have it (`NOSCRIPT`).
    @discardableResult
    public func eval(_ script: RedisScript, keys: [String] = [], args: [String] = []) async throws -> RedisReply {
        let reply = try await run { conn in try Self.evalOn(conn, script, keys: keys, args: args) }
        if case .error(let e) = reply { throw RedisError(.server, e) }
        return reply
    }

    /// Many invocations of scripts in one round trip (bulk enqueue); error replies stay in place.
    public func evalPipeline(_ calls: [(RedisScript, [String], [String])]) async throws -> [RedisReply] {
        if calls.isEmpty { return [] }
        return try await run { conn in
            let commands = calls.map { Self.evalshaArgs($0.0, keys: $0.1, args: $0.2) }
            var replies = try conn.pipeline(commands)
            // After a restart or SCRIPT FLUSH, load what is missing and redo only those calls.
            let missing = replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
            if !missing.isEmpty {
                var loaded = Set<String>()
                for i in missing where loaded.insert(calls[i].0.sha).inserted {
                    _ = try conn.command(["SCRIPT", "LOAD", calls[i].0.source])
                }
                let redo = try conn.pipeline(missing.map { commands[$0] })
                for (j, i) in missing.enumerated() { replies[i] = redo[j] }
            }
            return replies
        }
    }

    /// Loads scripts ahead of time (once per process), so the first call pays no extra round trip.
    public func load(_ scripts: [RedisScript]) async throws {
        _ = try await run { conn in
            for s in scripts {
                let r = try conn.command(["SCRIPT", "LOAD", s.source])
                if case .error(let e) = r { throw RedisError(.server, "loading \(s.name): \(e)") }
            }
        }
    }

    /// Closes every connection (they reopen on the next command).
    public func close() {
        for s in slots { s.queue.sync { s.connection.close() } }
    }

    static func evalshaArgs(_ script: RedisScript, keys: [String], args: [String]) -> [String] {
        ["EVALSHA", script.sha, String(keys.count)] + keys + args
    }

    static func evalOn(_ conn: RedisConnection, _ script: RedisScript, keys: [String], args: [String]) throws -> RedisReply {
        let command = evalshaArgs(script, keys: keys, args: args)
        let reply = try conn.command(command)
        guard reply.errorMessage?.hasPrefix("NOSCRIPT") == true else { return reply }
        let load = try conn.command(["SCRIPT", "LOAD", script.source])
        if case .error(let e) = load { return .error("loading \(script.name): \(e)") }
        return try conn.command(command)
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        let index = inflight.withLock { counts -> Int in
            var best = 0
            for i in counts.indices where counts[i] < counts[best] { best = i }
            counts[best] += 1
            return best
        }
        defer { inflight.withLock { $0[index] -= 1 } }
        let slot = slots[index]
        // A cancelled caller stops waiting at once: a command stuck on a socket nobody answers
        // (a partition) would otherwise hold it for the whole command timeout. The command itself
        // still completes or fails on its queue; its result is dropped.
        let waiter = Waiter<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard waiter.install(continuation) else { return }
                slot.queue.async {
                    waiter.resume(with: Result { try slot.perform(body) })
                }
            }
        } onCancel: {
            waiter.resume(with: .failure(CancellationError()))
        }
    }
}

/// One command's continuation, resumed exactly once: by the result, or by cancellation first.
private final class Waiter<T: Sendable>: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<T, any Error>)
        case cancelledEarly
        case done
    }
    private let state = Mutex(State.waiting)

    /// False when the task was cancelled before the command was even queued (resumed here).
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early = state.withLock { s -> Bool in
            if case .cancelledEarly = s {
                s = .done
                return true
            }
            s = .installed(continuation)
            return false
        }
        if early { continuation.resume(throwing: CancellationError()) }
        return !early
    }

    func resume(with result: Result<T, any Error>) {
        let continuation = state.withLock { s -> CheckedContinuation<T, any Error>? in
            switch s {
            case .installed(let c):
                s = .done
                return c
            case .waiting:
                if case .failure(let e) = result, e is CancellationError { s = .cancelledEarly }
                return nil
            case .cancelledEarly, .done:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}

/// A connection and the serial queue it is confined to.
private final class Slot: @unchecked Sendable {
    let queue: DispatchQueue
    // Only touched on `queue`.
    let connection: RedisConnection
    private let reconnectWindowMs: Int
    private let logger: Logger
    private var outage = false

    init(index: Int, configuration: RedisClient.Configuration, logger: Logger) {
        self.queue = DispatchQueue(label: "siphon.redis.\(index)")
        self.connection = RedisConnection(
            url: configuration.url, connectTimeoutMs: configuration.connectTimeoutMs,
            commandTimeoutMs: configuration.commandTimeoutMs)
        self.reconnectWindowMs = configuration.reconnectWindowMs
        self.logger = logger
    }

    /// Runs `body` on a live connection, reconnecting first if needed. Runs on `queue`.
    func perform<T>(_ body: (RedisConnection) throws -> T) throws -> T {
        if !connection.isConnected { try reconnect() }
        do {
            return try body(connection)
        } catch let e as RedisError where e.code == .connectionLost {
            if !outage {
                outage = true
                logger.warning("redis connection lost", metadata: ["redis.url": "\(connection.url)", "error": "\(e.message)"])
            }
            throw e
        }
    }

    private func reconnect() throws {
        var backoff = Backoff(baseMs: 25, capMs: 1000)
        let deadline = Timestamp.monotonicNs() + UInt64(reconnectWindowMs) * 1_000_000
        while true {
            do {
                try connection.connect()
                if outage {
                    outage = false
                    logger.info("redis connection restored", metadata: ["redis.url": "\(connection.url)"])
                }
                return
            } catch let e as RedisError where e.code == .unavailable {
                if !outage {
                    outage = true
                    logger.warning("redis unavailable, retrying", metadata: ["redis.url": "\(connection.url)", "error": "\(e.message)"])
                }
                let delay = backoff.next()
                if Timestamp.monotonicNs() + UInt64(delay * 1_000_000) > deadline { throw e }
                usleep(useconds_t(delay * 1000))
            }
        }
    }
}
