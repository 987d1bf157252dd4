import Synchronization

/// Hands out media ports from a range in turn (even ports for RTP + RTCP pairs), from a random
/// start: a port a call has just released is the last one handed out again. Picked at random, a
/// port freed by a hang-up came back within seconds under load — while the far end of the old
/// call was still sending to it (carriers stream on for a moment after BYE; a phone may not stop)
/// — and the new call's symmetric RTP latched onto that stale sender: its audio went to the old
/// call's far end.
public enum RTPPortAllocator {
    private struct Key: Hashable { let lower: Int, upper: Int, pairs: Bool }
    private static let cursors = Mutex<[Key: Int]>([:])

    /// The next port to try in `range`: for `pairs`, an even port whose successor is in the range too.
    public static func next(in range: ClosedRange<Int>, pairs: Bool) -> Int {
        let first = pairs ? (range.lowerBound + 1) & ~1 : range.lowerBound
        let step = pairs ? 2 : 1
        let count = max(1, (range.upperBound - first + 1) / step)
        let index = cursors.withLock { table -> Int in
            let key = Key(lower: range.lowerBound, upper: range.upperBound, pairs: pairs)
            let i = table[key].map { ($0 + 1) % count } ?? Int.random(in: 0..<count)
            table[key] = i
            return i
        }
        return first + index * step
    }
}
