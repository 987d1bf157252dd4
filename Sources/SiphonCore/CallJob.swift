import Foundation

/// One call to place, as it travels through the `siphon:calls` stream (`job` = this JSON).
///
/// Jobs arrive from the HTTP API, from `siphon call`, and from `redis-cli XADD` by hand, so every
/// field is validated here, in one place, with messages that name the field.
public struct CallJob: Sendable, Equatable {
    public var id: String
    /// True when Siphon generated `id` (100 random bits): enqueueing then skips the collision check.
    public private(set) var idWasGenerated = false
    public var agent: String
    /// The number to call: required for outbound `sip` and `livekit` calls, absent for `webrtc`
    /// (the browser is the far end).
    public var to: PhoneNumber?
    public var from: PhoneNumber?
    public var transport: Transport
    public var sim: SimSpec?
    public var idempotencyKey: String?
    /// How many workers may own the call in total (first claim plus reassignments).
    public var maxAttempts: Int
    /// Free-form labels for the user's own bookkeeping (campaign, CRM id); small by design.
    public var metadata: [String: String]
    /// `sip`: the trunk to call through (nil: the workers' default trunk).
    public var trunk: TrunkSpec?
    /// Seconds to ring before giving up (CANCEL); default 30.
    public var ringTimeout: Int?
    /// Seconds after which the agent says goodbye and hangs up.
    public var maxDuration: Int?
    /// Redial when the worker died while the call was still ringing (off by default: a ringing
    /// phone must not be dialled twice blindly).
    public var retryDial: Bool
    /// `inbound` for calls a worker answered, or LiveKit dispatched (never created by the API).
    public var direction: Direction
    /// `livekit`, inbound: the room LiveKit's agent dispatch sent the call's agent to (the phone
    /// is already in it).
    public var room: String?
    /// Answering-machine detection for this call (outbound sip and livekit); replaces the agent's `amd:`.
    public var amd: AMDSettings?

    public enum Direction: String, Sendable, Codable { case outbound, inbound }

    public static let defaultMaxAttempts = 3
    public static let maxMetadataBytes = 4096

    public init(
        id: String? = nil, agent: String, to: PhoneNumber?, from: PhoneNumber? = nil,
        transport: Transport, sim: SimSpec? = nil, idempotencyKey: String? = nil,
        maxAttempts: Int = CallJob.defaultMaxAttempts, metadata: [String: String] = [:], trunk: TrunkSpec? = nil,
        ringTimeout: Int? = nil, maxDuration: Int? = nil, retryDial: Bool = false, direction: Direction = .outbound, room: String? = nil,
        amd: AMDSettings? = nil
    ) throws {
        self.id = id ?? Identifier.newCallID()
        self.idWasGenerated = id == nil
        self.agent = agent
        self.to = to
        self.from = from
        self.transport = transport
        self.sim = transport == .sim ? (sim ?? SimSpec()) : sim
        self.idempotencyKey = idempotencyKey
        self.maxAttempts = maxAttempts
        self.metadata = metadata
        self.trunk = trunk
        self.ringTimeout = ringTimeout
        self.maxDuration = maxDuration
        self.retryDial = retryDial
        self.direction = direction
        self.room = room
        self.amd = amd
        try validate()
    }

    /// Equality of what the job says (`idWasGenerated` is bookkeeping, not content).
    public static func == (a: CallJob, b: CallJob) -> Bool {
        a.id == b.id && a.agent == b.agent && a.to == b.to && a.from == b.from && a.transport == b.transport
            && a.sim == b.sim && a.idempotencyKey == b.idempotencyKey && a.maxAttempts == b.maxAttempts && a.metadata == b.metadata
            && a.trunk == b.trunk && a.ringTimeout == b.ringTimeout && a.maxDuration == b.maxDuration && a.retryDial == b.retryDial
            && a.direction == b.direction && a.room == b.room && a.amd == b.amd
    }

    public func validate() throws {
        try Identifier.validateID(id, what: "id")
        try Identifier.validateAgentName(agent)
        if let key = idempotencyKey {
            guard (1...128).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw SiphonError.invalid("idempotency_key must be 1 to 128 printable ASCII characters without spaces")
            }
        }
        guard (1...20).contains(maxAttempts) else {
            throw SiphonError.invalid("max_attempts must be between 1 and 20, got \(maxAttempts)")
        }
        if transport == .webrtc {
            guard to == nil, from == nil else { throw SiphonError.invalid("to and from are not allowed with transport 'webrtc' (the browser is the far end)") }
            guard direction == .outbound else { throw SiphonError.invalid("webrtc calls have no inbound direction") }
        } else if to == nil {
            throw SiphonError.invalid("job: 'to' is required")
        }
        if transport != .sim, sim != nil {
            throw SiphonError.invalid("sim is only allowed with transport 'sim'")
        }
        try sim?.validate()
        guard metadata.count <= 32 else { throw SiphonError.invalid("metadata has \(metadata.count) keys, at most 32 allowed") }
        let size = metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard size <= Self.maxMetadataBytes else {
            throw SiphonError.invalid("metadata is \(size) bytes, at most \(Self.maxMetadataBytes) allowed")
        }
        if let trunk {
            guard transport == .sip || transport == .livekit else { throw SiphonError.invalid("trunk is only allowed with transport sip or livekit") }
            try trunk.validate()
        }
        if let room {
            guard transport == .livekit, direction == .inbound else { throw SiphonError.invalid("room is only for inbound livekit calls") }
            guard (1...256).contains(room.utf8.count), room.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw SiphonError.invalid("room must be 1 to 256 printable ASCII characters without spaces")
            }
        }
        if amd != nil, !((transport == .sip || transport == .livekit) && direction == .outbound) {
            throw SiphonError.invalid("amd is only for outbound sip and livekit calls")
        }
        if let problem = amd?.validate().first { throw SiphonError.invalid("amd: \(problem)") }
        if let r = ringTimeout, !(5...300).contains(r) { throw SiphonError.invalid("ring_timeout must be 5 to 300 seconds") }
        if let m = maxDuration, !(10...86_400).contains(m) { throw SiphonError.invalid("max_duration must be 10 to 86400 seconds") }
    }

    /// Seals an inline trunk password (the dispatcher does this before the job reaches Redis).
    public mutating func sealSecrets(with box: SecretBox?) throws {
        guard let password = trunk?.password else { return }
        guard let box else {
            throw SiphonError(.configuration, "inline trunk passwords need SIPHON_SECRET_KEY (shared by dispatchers and workers) so they never reach Redis in clear; or use a trunk configured on the workers")
        }
        trunk?.passwordSealed = try box.seal(password)
        trunk?.password = nil
    }

    /// Parses and validates a job. Without an `id`, the job gets `defaultID` (workers name jobs XADDed
    /// by hand after their entry), or a generated one.
    /// `allowPlainSecrets`: the API may receive an inline trunk password (sealed before enqueueing);
    /// jobs read from the stream may not.
    public static func parse(_ data: Data, defaultID: String? = nil, allowPlainSecrets: Bool = false) throws -> CallJob {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: data)
        } catch let error as SiphonError {
            throw error
        } catch let error as DecodingError {
            throw SiphonError.invalid("job: \(error.readable)")
        } catch {
            throw SiphonError.invalid("job is not valid JSON")
        }
        guard let agent = wire.agent else { throw SiphonError.invalid("job: 'agent' is required") }
        let transport = wire.transport ?? .sip
        if wire.to == nil, transport != .webrtc { throw SiphonError.invalid("job: 'to' is required") }
        if wire.trunk?.password != nil, !allowPlainSecrets {
            throw SiphonError.invalid("job: trunk.password must not appear in a queued job (it would sit in Redis in clear); use trunk.password_sealed or a configured trunk")
        }
        return try CallJob(
            id: wire.id ?? defaultID, agent: agent, to: wire.to.map(PhoneNumber.init), from: wire.from.map(PhoneNumber.init),
            transport: transport, sim: wire.sim, idempotencyKey: wire.idempotencyKey,
            maxAttempts: wire.maxAttempts ?? defaultMaxAttempts, metadata: wire.metadata ?? [:],
            trunk: try wire.trunk?.spec(), ringTimeout: wire.ringTimeout, maxDuration: wire.maxDuration,
            retryDial: wire.retryDial ?? false, direction: wire.direction ?? .outbound, room: wire.room, amd: wire.amd)
    }

    public static func parse(_ text: String, defaultID: String? = nil, allowPlainSecrets: Bool = false) throws -> CallJob {
        try parse(Data(text.utf8), defaultID: defaultID, allowPlainSecrets: allowPlainSecrets)
    }

    /// Canonical JSON (sorted keys): the form stored in the stream and in the call hash.
    public func json() -> String {
        var w = JSONWriter()
        w.field("agent", agent)
        if let amd { w.field("amd", object: amd.json()) }
        if let from { w.field("from", from.e164) }
        w.field("id", id)
        if let idempotencyKey { w.field("idempotency_key", idempotencyKey) }
        w.field("max_attempts", maxAttempts)
        if !metadata.isEmpty {
            var m = JSONWriter()
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { m.field(k, v) }
            w.field("metadata", object: m)
        }
        if direction != .outbound { w.field("direction", direction.rawValue) }
        if let maxDuration { w.field("max_duration", maxDuration) }
        if retryDial { w.field("retry_dial", 1) }
        if let ringTimeout { w.field("ring_timeout", ringTimeout) }
        if let room { w.field("room", room) }
        if let sim {
            var s = JSONWriter()
            s.field("interval_ms", sim.intervalMs)
            s.field("turns", sim.turns)
            w.field("sim", object: s)
        }
        if let to { w.field("to", to.e164) }
        w.field("transport", transport.rawValue)
        if let trunk {
            var t = JSONWriter()
            if let a = trunk.address { t.field("address", a) }
            if let n = trunk.name { t.field("name", n) }
            if let n = trunk.number { t.field("number", n.e164) }
            if let p = trunk.passwordSealed { t.field("password_sealed", p) }
            t.field("transport", trunk.transport)
            if let u = trunk.username { t.field("username", u) }
            w.field("trunk", object: t)
        }
        return w.finished()
    }

    /// The wire form: every field optional, so missing ones get a precise message.
    struct Wire: Decodable {
        var id: String?
        var agent: String?
        var to: String?
        var from: String?
        var transport: Transport?
        var sim: SimSpec?
        var idempotencyKey: String?
        var maxAttempts: Int?
        var metadata: [String: String]?
        var trunk: TrunkWire?
        var ringTimeout: Int?
        var maxDuration: Int?
        var retryDial: Bool?
        var direction: Direction?
        var room: String?
        var amd: AMDSettings?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, agent, to, from, transport, sim, amd
            case idempotencyKey = "idempotency_key"
            case maxAttempts = "max_attempts"
            case metadata, trunk
            case ringTimeout = "ring_timeout", maxDuration = "max_duration", retryDial = "retry_dial", direction, room
        }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "job")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id)
            agent = try c.decodeIfPresent(String.self, forKey: .agent)
            to = try c.decodeIfPresent(String.self, forKey: .to)
            from = try c.decodeIfPresent(String.self, forKey: .from)
            if let raw = try c.decodeIfPresent(String.self, forKey: .transport) {
                guard let t = Transport(rawValue: raw) else {
                    throw SiphonError.invalid("job: transport '\(raw.prefix(32))' is not one of sip, livekit, sim, webrtc")
                }
                transport = t
            }
            sim = try c.decodeIfPresent(SimSpec.self, forKey: .sim)
            idempotencyKey = try c.decodeIfPresent(String.self, forKey: .idempotencyKey)
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts)
            metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata)
            trunk = try c.decodeIfPresent(TrunkWire.self, forKey: .trunk)
            ringTimeout = try c.decodeIfPresent(Int.self, forKey: .ringTimeout)
            maxDuration = try c.decodeIfPresent(Int.self, forKey: .maxDuration)
            if let b = try? c.decodeIfPresent(Bool.self, forKey: .retryDial) { retryDial = b } else { retryDial = try c.decodeIfPresent(Int.self, forKey: .retryDial).map { $0 != 0 } }
            if let raw = try c.decodeIfPresent(String.self, forKey: .direction) {
                guard let d = Direction(rawValue: raw) else { throw SiphonError.invalid("job: direction must be outbound or inbound") }
                direction = d
            }
            room = try c.decodeIfPresent(String.self, forKey: .room)
            amd = try c.decodeIfPresent(AMDSettings.self, forKey: .amd)
        }
    }

    struct TrunkWire: Decodable {
        var name, address, transport, number, username, password, passwordSealed: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, address, transport, number, username, password
            case passwordSealed = "password_sealed"
        }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self, in: "job.trunk")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            address = try c.decodeIfPresent(String.self, forKey: .address)
            transport = try c.decodeIfPresent(String.self, forKey: .transport)
            number = try c.decodeIfPresent(String.self, forKey: .number)
            username = try c.decodeIfPresent(String.self, forKey: .username)
            password = try c.decodeIfPresent(String.self, forKey: .password)
            passwordSealed = try c.decodeIfPresent(String.self, forKey: .passwordSealed)
        }

        func spec() throws -> TrunkSpec {
            TrunkSpec(name: name, address: address, transport: transport ?? "udp", number: try number.map(PhoneNumber.init),
                      username: username, password: password, passwordSealed: passwordSealed)
        }
    }
}

/// Parameters of a `sim` call: how many synthetic turns, how far apart.
public struct SimSpec: Sendable, Codable, Equatable {
    public var turns: Int
    public var intervalMs: Int

    public init(turns: Int = 4, intervalMs: Int = 200) {
        self.turns = turns
        self.intervalMs = intervalMs
    }

    public func validate() throws {
        guard (0...10_000).contains(turns) else { throw SiphonError.invalid("sim.turns must be between 0 and 10000, got \(turns)") }
        guard (0...600_000).contains(intervalMs) else {
            throw SiphonError.invalid("sim.interval_ms must be between 0 and 600000, got \(intervalMs)")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case turns
        case intervalMs = "interval_ms"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "job.sim")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        turns = try c.decodeIfPresent(Int.self, forKey: .turns) ?? 4
        intervalMs = try c.decodeIfPresent(Int.self, forKey: .intervalMs) ?? 200
    }
}

extension DecodingError {
    /// A one-line message naming the field, instead of Foundation's debug dump.
    public var readable: String {
        func path(_ p: [any CodingKey]) -> String {
            let s = p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return s.isEmpty ? "the document" : "'\(s)'"
        }
        switch self {
        case .typeMismatch(let type, let ctx): return "\(path(ctx.codingPath)) must be \(Self.typeName(type))"
        case .valueNotFound(let type, let ctx): return "\(path(ctx.codingPath)) must be \(Self.typeName(type)), not null"
        case .keyNotFound(let key, let ctx): return "\(path(ctx.codingPath + [key])) is required"
        case .dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "not valid JSON" : "\(path(ctx.codingPath)) is invalid"
        @unknown default: return "invalid document"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: type is [Any].Type ? "an array" : "an object"
        }
    }
}
