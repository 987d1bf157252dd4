/// The Redis key layout (see docs/architecture.md). Per-call keys carry the call id in a `{…}` hash
/// tag so a call's hash, turns, context, events and lease land in one Redis Cluster slot.
///
/// The Lua scripts build the same names from the prefix (`ClusterScripts.prelude`); a test checks
/// that both agree.
public struct ClusterKeys: Sendable, Equatable {
    public let prefix: String
    public static let group = "workers"

    public init(prefix: String = "siphon") { self.prefix = prefix }

    public var calls: String { "\(prefix):calls" }
    /// Inbound calls a worker answered itself, one entry each (`call`): never queued, so not in
    /// `calls`; `SessionStore.list` reads both.
    public var inbound: String { "\(prefix):inbound" }
    public var workers: String { "\(prefix):workers" }
    public var dead: String { "\(prefix):dead" }
    public var orphans: String { "\(prefix):orphans" }
    public var leader: String { "\(prefix):supervisor:leader" }
    /// One entry per lifecycle event and dialogue turn of any call (`call`, `type`): what the
    /// console's live views follow, with one reader per dispatcher however many pages watch.
    public var activity: String { "\(prefix):activity" }

    public func call(_ id: String) -> String { "\(prefix):call:{\(id)}" }
    public func turns(_ id: String) -> String { call(id) + ":turns" }
    public func context(_ id: String) -> String { call(id) + ":context" }
    public func events(_ id: String) -> String { call(id) + ":events" }
    public func lease(_ id: String) -> String { call(id) + ":lease" }
    public func worker(_ id: String) -> String { "\(prefix):worker:\(id)" }
    public func workerAlive(_ id: String) -> String { worker(id) + ":alive" }
    public func workerCalls(_ id: String) -> String { worker(id) + ":calls" }
    /// A browser call's SDP offers (JSON `{gen, sdp}`, oldest first) and the workers' answers.
    public func webrtcOffers(_ id: String) -> String { call(id) + ":webrtc:offers" }
    public func webrtcAnswers(_ id: String) -> String { call(id) + ":webrtc:answers" }
    public func idempotency(_ key: String) -> String { "\(prefix):idem:\(key)" }
}
