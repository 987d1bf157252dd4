import Foundation
import LiveKitProtocol
import Logging
import ServiceLifecycle
import SiphonCluster
import SiphonCore
import SiphonProviderKit
import SwiftProtobuf
import Synchronization

/// Inbound LiveKit calls to Siphon's workers through LiveKit's agent dispatch: the dispatcher
/// registers as a LiveKit agent worker (`/agent`, `livekit_agent.proto`) for every agent the
/// cluster serves over LiveKit, answers each AvailabilityRequest from the cluster's free
/// capacity, and turns each JobAssignment into an inbound call job in Redis (transport
/// `livekit`, the room) — so the call gets the same admission, fencing and failover as any other.
///
/// Why the dispatcher: it is the cluster's front door already (it validates and enqueues calls,
/// with Redis at hand), it runs replicated, and LiveKit spreads jobs over every process that
/// registered a name — a role of its own would be one more process to run for nothing.
public final class LiveKitAgentDispatcher: Service, Sendable {
    let credentials: LiveKitCredentials
    let api: LiveKitAPI
    let queue: CallQueue
    let logger: Logger
    /// How often the set of agents served over LiveKit is read again.
    let rescan: Duration
    private let connections = Mutex<[String: Task<Void, Never>]>([:])

    public init(credentials: LiveKitCredentials, queue: CallQueue, rescan: Duration = .seconds(5), logger: Logger) {
        (self.credentials, self.queue, self.rescan, self.logger) = (credentials, queue, rescan, logger)
        api = LiveKitAPI(credentials: credentials)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    for name in try await self.servedAgents() where self.connections.withLock({ $0[name] == nil }) {
                        let task = Task { await self.serve(agent: name) }
                        self.connections.withLock { $0[name] = task }
                    }
                } catch {
                    self.logger.warning("cannot read the workers for LiveKit dispatch", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.rescan)
            }
        }
        for task in connections.withLock({ Array($0.values) }) { task.cancel() }
    }

    /// Agents some live worker serves over LiveKit.
    func servedAgents() async throws -> Set<String> {
        Set(try await queue.liveWorkers().filter { $0.transports.contains(Transport.livekit.rawValue) }.flatMap(\.agents))
    }

    /// Free slots for `agent` over LiveKit, and the capacity behind them.
    func capacity(for agent: String) async throws -> (free: Int, total: Int) {
        let workers = try await queue.liveWorkers().filter {
            !$0.draining && $0.transports.contains(Transport.livekit.rawValue) && $0.agents.contains(agent)
        }
        return (workers.reduce(0) { $0 + max(0, $1.capacity - $1.active) }, workers.reduce(0) { $0 + $1.capacity })
    }

    /// One registration, kept up (reconnects with backoff) until the service stops.
    private func serve(agent: String) async {
        var backoff = Backoff(baseMs: 250, capMs: 10_000)
        while !Task.isCancelled {
            do {
                try await session(agent: agent)
                backoff.reset()
            } catch {
                logger.warning("LiveKit agent registration lost", metadata: ["livekit.agent": "\(agent)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(backoff.next()))
        }
    }

    private func session(agent: String) async throws {
        var base = credentials.httpURL
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) } else if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        let token = try credentials.token(identity: "siphon-dispatcher", claims: LiveKitClaims(video: VideoGrant(agent: true)), ttl: 3600)
        let socket = try await WebSocketConnection.connect("\(base)/agent?protocol=1", headers: [("Authorization", "Bearer \(token)")],
                                                           provider: "livekit") { status, _, body in
            ProviderError(provider: "livekit", kind: ProviderError.kind(forStatus: status), status: status,
                          message: "LiveKit refused the agent registration: HTTP \(status) \(body.prefix(160))")
        }
        defer { socket.abort() }
        var register = Livekit_RegisterWorkerRequest()
        register.type = .jtRoom
        register.agentName = agent
        register.version = SiphonVersion.current
        register.pingInterval = 5
        var hello = Livekit_WorkerMessage()
        hello.register = register
        try await send(hello, on: socket)

        let status = Task {
            // Load every 2.5 s (as LiveKit Agents reports it), and a ping.
            var tick = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(2500))
                tick += 1
                guard let (free, total) = try? await self.capacity(for: agent) else { continue }
                var update = Livekit_UpdateWorkerStatus()
                update.status = free > 0 ? .wsAvailable : .wsFull
                update.load = total == 0 ? 1 : Float(total - free) / Float(total)
                update.jobCount = UInt32(max(0, total - free))
                var m = Livekit_WorkerMessage()
                m.updateWorker = update
                try? await self.send(m, on: socket)
                if tick % 2 == 0 {
                    var ping = Livekit_WorkerPing()
                    ping.timestamp = Timestamp.nowMs()
                    var p = Livekit_WorkerMessage()
                    p.ping = ping
                    try? await self.send(p, on: socket)
                }
            }
        }
        defer { status.cancel() }

        var calls: [String: String] = [:]  // LiveKit job id → call id
        for try await message in socket.messages {
            guard case .binary(let bytes) = message, let m = try? Livekit_ServerMessage(serializedBytes: bytes) else {
                logger.debug("undecodable message on /agent skipped")
                continue
            }
            switch m.message {
            case .register(let r):
                logger.info("registered as a LiveKit agent worker", metadata: ["livekit.agent": "\(agent)", "livekit.worker_id": "\(r.workerID)"])
            case .availability(let request):
                let callID = calls[request.job.id] ?? Identifier.newCallID()
                let (free, _) = (try? await capacity(for: agent)) ?? (0, 0)
                var answer = Livekit_AvailabilityResponse()
                answer.jobID = request.job.id
                answer.available = free > 0
                answer.supportsResume = true
                answer.participantIdentity = "agent-\(callID)"
                answer.participantName = agent
                answer.participantAttributes = ["siphon.call_id": callID]
                if free > 0 { calls[request.job.id] = callID }
                var reply = Livekit_WorkerMessage()
                reply.availability = answer
                try await send(reply, on: socket)
                logger.info("LiveKit job offered", metadata: ["livekit.job": "\(request.job.id)", "livekit.room": "\(request.job.room.name)",
                                                              "livekit.available": "\(free > 0)", "call.id": "\(callID)"])
            case .assignment(let assignment):
                let job = assignment.job
                let callID = calls[job.id] ?? Identifier.newCallID()
                var update = Livekit_UpdateJobStatus()
                update.jobID = job.id
                do {
                    let id = try await enqueue(callID: callID, agent: agent, job: job)
                    update.status = .jsRunning
                    logger.info("LiveKit job queued as a call", metadata: ["livekit.job": "\(job.id)", "call.id": "\(id)", "livekit.room": "\(job.room.name)"])
                } catch {
                    update.status = .jsFailed
                    update.error = Redaction.redact((error as? SiphonError)?.message ?? "\(error)")
                    logger.error("LiveKit job refused", metadata: ["livekit.job": "\(job.id)", "error": "\(update.error)"])
                }
                var reply = Livekit_WorkerMessage()
                reply.updateJob = update
                try await send(reply, on: socket)
            case .termination(let t):
                if let callID = calls.removeValue(forKey: t.jobID) {
                    _ = try? await queue.cancel(callID, reason: "LiveKit terminated the job")
                }
            case .pong, nil:
                break
            }
        }
    }

    /// The inbound call for an assigned job: the numbers from the room's SIP participant.
    func enqueue(callID: String, agent: String, job: Livekit_Job) async throws -> String {
        let room = job.room.name
        var phone: ParticipantInfo?
        for _ in 0..<10 where phone == nil {
            phone = try await api.listParticipants(room: room).first { $0.kind == "SIP" || $0.attributes?["sip.phoneNumber"] != nil }
            if phone == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        guard let phone else { throw SiphonError(.notFound, "no SIP participant in room \(room)") }
        let caller = try? PhoneNumber(phone.attributes?["sip.phoneNumber"] ?? "")
        let called = (try? PhoneNumber(phone.attributes?["sip.trunkPhoneNumber"] ?? "")) ?? caller
        guard let to = called else {
            throw SiphonError(.invalidInput, "the SIP participant carries no phone number (hide_phone_number on the dispatch rule?)")
        }
        let call = try CallJob(id: callID, agent: agent, to: to, from: caller, transport: .livekit, idempotencyKey: "livekit-job-\(job.id)",
                               metadata: ["livekit_job": job.id, "livekit_phone": phone.identity ?? ""], direction: .inbound, room: room)
        return try await queue.enqueue(call).id
    }

    private func send(_ message: Livekit_WorkerMessage, on socket: WebSocketConnection) async throws {
        let bytes: [UInt8] = try message.serializedBytes()
        try await socket.send(binary: bytes)
    }
}
