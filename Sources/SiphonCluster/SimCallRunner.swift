import SiphonCore

/// The `sim` transport: a call that exchanges synthetic turns, so the cluster can be tested,
/// benchmarked and chaos-tested without telephony. On resume it continues after the last
/// persisted turn.
public struct SimCallRunner: CallRunner {
    public init() {}

    public func run(_ call: CallContext) async throws -> CallEnd {
        let spec = call.job.sim ?? SimSpec()
        if !call.isResume || call.statusAtStart == .claimed {
            try await call.transition(.dialing)
            try await call.transition(.ringing)
            try await call.transition(.active)
        }
        var seq = call.lastSeq + 1
        while seq <= spec.turns {
            try await Task.sleep(for: .milliseconds(spec.intervalMs))
            let role: Turn.Role = seq % 2 == 1 ? .user : .agent
            try await call.appendTurn(Turn(seq: seq, role: role, text: "sim \(role.rawValue) turn \(seq)"))
            seq += 1
        }
        return CallEnd(.ended, "completed \(spec.turns) turns")
    }
}
