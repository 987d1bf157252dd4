/// One dialogue turn, persisted as it happens. `seq` starts at 1 and has no gaps: a turn
/// replayed after a takeover carries the same `seq` and is ignored by the store.
public struct Turn: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable {
        case user, agent, tool, system
    }

    public var seq: Int
    public var role: Role
    public var text: String
    /// The agent was cut off by the caller; `text` is what the caller actually heard.
    public var interrupted: Bool
    /// The ownership epoch under which the turn was written (set by the store).
    public var epoch: Int
    /// Milliseconds since the Unix epoch.
    public var at: Int64
    /// Structured details: tool call ids and arguments, per-turn latency marks (ms).
    public var extra: [String: String]

    public init(seq: Int, role: Role, text: String, interrupted: Bool = false, epoch: Int = 0,
                at: Int64 = Timestamp.nowMs(), extra: [String: String] = [:]) {
        (self.seq, self.role, self.text, self.interrupted, self.epoch, self.at, self.extra) =
            (seq, role, text, interrupted, epoch, at, extra)
    }

    enum CodingKeys: String, CodingKey {
        case seq, role, text, interrupted, epoch, at, extra
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(role, forKey: .role)
        try c.encode(text, forKey: .text)
        try c.encode(interrupted, forKey: .interrupted)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(at, forKey: .at)
        if !extra.isEmpty { try c.encode(extra, forKey: .extra) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int.self, forKey: .seq)
        role = try c.decode(Role.self, forKey: .role)
        text = try c.decode(String.self, forKey: .text)
        interrupted = try c.decodeIfPresent(Bool.self, forKey: .interrupted) ?? false
        epoch = try c.decodeIfPresent(Int.self, forKey: .epoch) ?? 0
        at = try c.decodeIfPresent(Int64.self, forKey: .at) ?? 0
        extra = try c.decodeIfPresent([String: String].self, forKey: .extra) ?? [:]
    }
}

/// A lifecycle event of a call: queued, claimed, dialing, ringing, answered, worker_lost,
/// reassigned, resumed, handed_off, ended, failed, …
public struct CallEvent: Sendable, Codable, Equatable {
    public var at: Int64
    public var type: String
    public var worker: String
    public var epoch: Int
    public var detail: String

    public init(at: Int64, type: String, worker: String, epoch: Int, detail: String) {
        (self.at, self.type, self.worker, self.epoch, self.detail) = (at, type, worker, epoch, detail)
    }
}
