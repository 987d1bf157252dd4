import SiphonCore

/// Calls a worker silenced because it could not renew their leases in time (cut off from Redis),
/// kept until a heartbeat says whether they are still its own: then resumed, or dropped.
struct SuspendedCalls {
    struct Call {
        let lease: CallLease
        /// Monotonic time (ns) it fell silent.
        let since: UInt64
    }

    private(set) var calls: [String: Call] = [:]

    var count: Int { calls.count }
    var leases: [CallLease] { calls.values.map(\.lease) }

    mutating func silence(_ lease: CallLease, at now: UInt64) { calls[lease.callID] = Call(lease: lease, since: now) }
    mutating func remove(_ callID: String) { calls[callID] = nil }

    /// What a heartbeat's reply says of them. Fenced: another worker owns it now (dropped, whenever
    /// the heartbeat was sent). Not fenced: still ours (same owner and epoch, the lease renewed) —
    /// but only a heartbeat sent after the call fell silent may resume it, and only once its runner
    /// has stopped; a reply that was merely late (a loaded host) proves nothing about the partition
    /// that silenced it.
    mutating func settle(fenced: Set<String>, heartbeatSentAt sentAt: UInt64, isRunning: (String) -> Bool)
        -> (dropped: [String], resumed: [CallLease]) {
        let dropped = calls.keys.filter { fenced.contains($0) }.sorted()
        let resumed = calls.values.filter { !fenced.contains($0.lease.callID) && !isRunning($0.lease.callID) && sentAt > $0.since }
            .map(\.lease).sorted { $0.callID < $1.callID }
        for id in dropped { calls[id] = nil }
        for lease in resumed { calls[lease.callID] = nil }
        return (dropped, resumed)
    }
}
