import SiphonCore

/// The call hash `siphon:call:{id}` as a value.
public struct CallRecord: Sendable, Codable, Equatable {
    public var id: String
    public var status: CallStatus
    public var agent: String
    public var to: String
    public var from: String?
    public var transport: String
    /// The worker that owns the call now (empty while queued or awaiting reassignment).
    public var worker: String
    public var epoch: Int
    public var attempts: Int
    public var maxAttempts: Int
    public var lastSeq: Int
    public var reason: String?
    public var createdAt: Int64
    public var claimedAt: Int64?
    public var answeredAt: Int64?
    public var endedAt: Int64?
    public var updatedAt: Int64
    public var job: String
    /// Whether the dispatcher can serve the call's recording (`GET /v1/calls/{id}/recording`); set
    /// on single-call reads by a dispatcher that shares the workers' recordings directory.
    public var recording: Bool?

    enum CodingKeys: String, CodingKey {
        case id, status, agent, to, from, transport, worker, epoch, attempts
        case maxAttempts = "max_attempts", lastSeq = "last_seq", reason
        case createdAt = "created_at", claimedAt = "claimed_at", answeredAt = "answered_at"
        case endedAt = "ended_at", updatedAt = "updated_at", job, recording
    }

    init?(id: String, fields h: [String: String]) {
        guard let status = h["status"].flatMap(CallStatus.init(rawValue:)) else { return nil }
        self.id = id
        self.status = status
        // What the job says lives in the job JSON only (one copy); jobs in the hash were validated.
        job = h["job"] ?? ""
        let parsed = try? CallJob.parse(job, defaultID: id)
        agent = parsed?.agent ?? ""
        to = parsed?.to?.e164 ?? ""
        from = parsed?.from?.e164
        transport = parsed?.transport.rawValue ?? ""
        worker = h["owner"] ?? ""
        epoch = Int(h["epoch"] ?? "") ?? 0
        attempts = Int(h["attempts"] ?? "") ?? 0
        maxAttempts = parsed?.maxAttempts ?? CallJob.defaultMaxAttempts
        lastSeq = Int(h["last_seq"] ?? "") ?? 0
        reason = h["reason"].flatMap { $0.isEmpty ? nil : $0 }
        createdAt = Int64(h["created_at"] ?? "") ?? 0
        claimedAt = h["claimed_at"].flatMap { Int64($0) }
        answeredAt = h["answered_at"].flatMap { Int64($0) }
        endedAt = h["ended_at"].flatMap { Int64($0) }
        updatedAt = Int64(h["updated_at"] ?? "") ?? createdAt
    }
}

/// A worker as registered in Redis.
public struct WorkerInfo: Sendable, Codable, Equatable {
    public var id: String
    public var alive: Bool
    public var capacity: Int
    public var active: Int
    public var draining: Bool
    public var agents: [String]
    public var transports: [String]
    public var host: String
    public var version: String
    public var heartbeatMs: Int
    public var startedAt: Int64
    public var lastHeartbeat: Int64

    enum CodingKeys: String, CodingKey {
        case id, alive, capacity, active, draining, agents, transports, host, version
        case heartbeatMs = "heartbeat_ms", startedAt = "started_at", lastHeartbeat = "last_heartbeat"
    }
}

/// Which worker holds a call, under which epoch: the token every fenced write carries.
public struct CallLease: Sendable, Equatable {
    public var callID: String
    public var worker: String
    public var epoch: Int
    /// The job's entry id in `siphon:calls` (for XACK and idle refresh).
    public var entry: String

    public init(callID: String, worker: String, epoch: Int, entry: String) {
        (self.callID, self.worker, self.epoch, self.entry) = (callID, worker, epoch, entry)
    }
}
