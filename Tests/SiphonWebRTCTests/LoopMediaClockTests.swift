import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import SiphonRTP

/// The shared 20 ms clock of an event loop (RTP calls and WebRTC peers tick on it): calls spread
/// over its phases, a phase's calls tick together, a call that ends leaves, an idle clock restarts.
@Suite struct LoopMediaClockTests {
    @Test func callsSpreadOverThePhasesTickTogetherAndLeaveWhenDone() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)  // its own: no other test's calls on the clock
        let clock = LoopMediaClock.on(group.next())
        #expect(LoopMediaClock.on(group.next()) === clock)
        let log = Mutex<[Int]>([])
        let lasts = [20, 30, 30, 30, 30, 30, 30, 30]
        for (id, ticks) in lasts.enumerated() {
            let count = Mutex(0)
            clock.attach {
                log.withLock { $0.append(id) }
                return count.withLock { $0 += 1; return $0 < ticks }
            }
        }
        #expect(try await clock.attached.get() == [2, 2, 2, 2])
        try await waitFor { log.withLock { $0.count } == lasts.reduce(0, +) }
        #expect(try await clock.attached.get() == [0, 0, 0, 0])

        let entries = log.withLock { $0 }
        for (id, ticks) in lasts.enumerated() { #expect(entries.filter { $0 == id }.count == ticks) }
        // Calls 0 and 4 share a phase, 1 and 5, …: while both run, each tick of one is next to one of the other's.
        var seen = [Int](repeating: 0, count: lasts.count)
        for (p, id) in entries.enumerated() {
            let partner = (id + 4) % 8
            defer { seen[id] += 1 }
            guard seen[id] < lasts[partner] else { continue }  // the partner has ended
            let beside = (p > 0 && entries[p - 1] == partner) || (p + 1 < entries.count && entries[p + 1] == partner)
            #expect(beside, "tick \(p) of call \(id) is not beside its phase partner \(partner)")
        }

        // An idle clock starts again for the next call.
        let again = Mutex(0)
        clock.attach { again.withLock { $0 += 1; return $0 < 3 } }
        try await waitFor { again.withLock { $0 } == 3 }
        try await group.shutdownGracefully()
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(20)  // liveness only
        while !condition() {
            try #require(Date() < deadline, "the clock stopped ticking")
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
