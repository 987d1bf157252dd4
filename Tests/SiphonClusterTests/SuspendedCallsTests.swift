import Testing
@testable import SiphonCluster

/// What a heartbeat's reply decides for the calls a worker silenced when it could not renew their
/// leases: dropped when fenced, resumed only by a heartbeat sent after the silence.
struct SuspendedCallsTests {
    let lease = CallLease(callID: "c1", worker: "wa", epoch: 1, entry: "1-0")

    @Test func aHeartbeatSentAfterTheSilenceResumesTheCallOnceItsRunnerHasStopped() {
        var calls = SuspendedCalls()
        calls.silence(lease, at: 1_000)
        let stillRunning = calls.settle(fenced: [], heartbeatSentAt: 2_000) { _ in true }
        #expect(stillRunning.resumed.isEmpty && stillRunning.dropped.isEmpty && calls.count == 1)
        let stopped = calls.settle(fenced: [], heartbeatSentAt: 3_000) { _ in false }
        #expect(stopped.resumed.map(\.callID) == ["c1"] && stopped.resumed.first?.epoch == 1 && calls.count == 0)
    }

    /// The partition's race: a heartbeat sent before the call fell silent, its reply processed
    /// after (a loaded host). It renewed a lease in the past; the partition may be on now.
    @Test func aLateReplyToAnEarlierHeartbeatResumesNothing() {
        var calls = SuspendedCalls()
        calls.silence(lease, at: 5_000)
        let late = calls.settle(fenced: [], heartbeatSentAt: 4_900) { _ in false }
        #expect(late.resumed.isEmpty && late.dropped.isEmpty && calls.count == 1)
        #expect(calls.settle(fenced: [], heartbeatSentAt: 5_000) { _ in false }.resumed.isEmpty, "sent at the same instant")
    }

    /// Fenced is fenced, whenever the heartbeat was sent: the call is someone else's.
    @Test func aFencedCallIsDroppedEvenByALateReply() {
        var calls = SuspendedCalls()
        calls.silence(lease, at: 5_000)
        calls.silence(CallLease(callID: "c2", worker: "wa", epoch: 3, entry: "2-0"), at: 5_000)
        let reply = calls.settle(fenced: ["c1"], heartbeatSentAt: 4_000) { _ in false }
        #expect(reply.dropped == ["c1"] && reply.resumed.isEmpty && calls.leases.map(\.callID) == ["c2"])
    }
}
