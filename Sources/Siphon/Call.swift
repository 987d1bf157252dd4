import Foundation
import SiphonCluster
import SiphonRedis

/// A call to place, as the original product's API has it:
///
///     let call = Call(agent: "Receptionist",
///                     trunk: .credentials(name: "telnyx-primary", address: "sip.telnyx.com",
///                                         number: env["FROM_NUMBER"], username: env["SIP_USERNAME"], password: env["SIP_PASSWORD"]),
///                     to: "+15550200")
///     let handle = try await call.start()        // enqueued through Redis
///     for try await update in handle.updates { … }
///
/// An inline password is sealed with `SIPHON_SECRET_KEY` before the job reaches Redis.
public struct Call: Sendable {
    public enum Trunk: Sendable {
        /// A trunk configured on the workers (`default`: `SIP_TRUNK_ADDRESS`, …).
        case named(String)
        case credentials(name: String? = nil, address: String, transport: String = "udp", number: String? = nil,
                         username: String? = nil, password: String? = nil)
    }

    public var agent: String
    public var trunk: Trunk?
    public var to: String
    public var from: String?
    public var transport: Transport
    public var idempotencyKey: String?
    public var metadata: [String: String]
    public var ringTimeout: Int?
    public var maxDuration: Int?

    public init(agent: String, trunk: Trunk? = nil, to: String, from: String? = nil, transport: Transport = .sip,
                idempotencyKey: String? = nil, metadata: [String: String] = [:], ringTimeout: Int? = nil, maxDuration: Int? = nil) {
        (self.agent, self.trunk, self.to, self.from, self.transport) = (agent, trunk, to, from, transport)
        (self.idempotencyKey, self.metadata, self.ringTimeout, self.maxDuration) = (idempotencyKey, metadata, ringTimeout, maxDuration)
    }

    /// The job this call enqueues (validated: numbers, agent name, trunk).
    public func job() throws -> CallJob {
        var spec: TrunkSpec?
        var from = try self.from.map(PhoneNumber.init)
        switch trunk {
        case .named(let name)?:
            spec = TrunkSpec(name: name)
        case let .credentials(name, address, transport, number, username, password)?:
            let n = try number.map(PhoneNumber.init)
            from = from ?? n
            spec = TrunkSpec(name: name, address: address, transport: transport, number: n, username: username, password: password)
        case nil:
            break
        }
        return try CallJob(agent: agent, to: PhoneNumber(to), from: from, transport: transport, idempotencyKey: idempotencyKey,
                           metadata: metadata, trunk: spec, ringTimeout: ringTimeout, maxDuration: maxDuration)
    }

    /// Validates and enqueues the call (refused when no live worker serves the agent).
    public func start(redis: String? = nil, keyPrefix: String = "siphon", environment: Environment = .process) async throws -> CallHandle {
        let client = RedisClient(.init(url: try RedisURL(redis ?? environment["REDIS_URL"] ?? "redis://127.0.0.1:6379/0"), connections: 1))
        let keys = ClusterKeys(prefix: keyPrefix)
        var queue = CallQueue(client: client, keys: keys)
        queue.secretBox = try SecretBox.from(environment)
        try await queue.ensureGroup()
        let enqueued = try await queue.enqueue(try job())
        return CallHandle(id: enqueued.id, client: client, keys: keys)
    }
}

/// A placed call: follow it, or hang it up.
public struct CallHandle: Sendable {
    public enum Update: Sendable {
        /// A lifecycle step: queued, claimed, dialing, ringing, answered, worker_lost, resumed, ended, …
        case event(CallEvent)
        /// A dialogue turn, as stored.
        case turn(Turn)
        /// The call is over; the last update.
        case ended(CallStatus, reason: String?)
    }

    public let id: String
    let client: RedisClient
    let keys: ClusterKeys

    /// Events and turns as they are stored, ending with `.ended` (polled every `interval`).
    public func updates(interval: Duration = .milliseconds(200)) -> AsyncThrowingStream<Update, any Error> {
        let store = SessionStore(client: client, keys: keys)
        let id = self.id
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var seenEvents = 0, seenTurns = 0
                    while !Task.isCancelled {
                        let events = try await store.events(id)
                        let turns = try await store.turns(id)
                        for e in events.dropFirst(seenEvents) { continuation.yield(.event(e)) }
                        for t in turns.dropFirst(seenTurns) { continuation.yield(.turn(t)) }
                        (seenEvents, seenTurns) = (events.count, turns.count)
                        if let record = try await store.call(id), record.status.isTerminal {
                            continuation.yield(.ended(record.status, reason: record.reason))
                            break
                        }
                        try await Task.sleep(for: interval)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Events, turns and the end, polled every 200 ms.
    public var updates: AsyncThrowingStream<Update, any Error> { updates() }

    /// Cancels a queued call or hangs up a running one.
    public func hangup() async throws {
        _ = try await CallQueue(client: client, keys: keys).cancel(id, reason: "hung up by the application")
    }
}
