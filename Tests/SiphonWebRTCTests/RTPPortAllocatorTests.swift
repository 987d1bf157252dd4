import Testing
import SiphonRTP

/// Media ports come round in turn: a port released by a hang-up is the last to be handed out
/// again, so a far end still streaming to it is never latched onto by the next call.
@Suite struct RTPPortAllocatorTests {
    @Test func portsComeRoundInTurnAndAReleasedOneIsTheLastAgain() {
        let range = 31001...31010  // odd start: pairs are 31002, 31004, …, 31008 (31010 has no RTCP port)
        let pairs = (0..<8).map { _ in RTPPortAllocator.next(in: range, pairs: true) }
        #expect(pairs.allSatisfy { $0 % 2 == 0 && range.contains($0) && range.contains($0 + 1) }, "\(pairs)")
        #expect(Set(pairs.prefix(4)) == [31002, 31004, 31006, 31008])  // every pair once before any repeats
        #expect(Array(pairs.suffix(4)) == Array(pairs.prefix(4)))        // then the same order again
        let singles = (0..<20).map { _ in RTPPortAllocator.next(in: 40000...40009, pairs: false) }
        #expect(Set(singles.prefix(10)) == Set(40000...40009) && Array(singles.suffix(10)) == Array(singles.prefix(10)))
        #expect(RTPPortAllocator.next(in: 50000...50001, pairs: true) == 50000)  // one pair: always it
    }
}
