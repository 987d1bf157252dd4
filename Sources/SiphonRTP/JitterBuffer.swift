/// An adaptive jitter buffer for one RTP stream, drained once per 20 ms frame.
///
/// Packets are slotted by extended sequence number (reordering and duplicates handled, late
/// packets dropped). The playout delay follows the RFC 3550 interarrival jitter: about four times
/// the jitter plus one frame, between `minDelayFrames` and `maxDelayFrames`. When the buffer runs
/// dry it rebuffers to the (raised) target; when it holds more than it needs, one frame is dropped
/// to pull the delay back down. A new SSRC or a jump in sequence numbers (another sender took the
/// call over) starts the stream afresh.
public final class JitterBuffer {
    public struct Configuration: Sendable {
        /// RTP timestamp units per second (8000 for G.711, 48000 for Opus).
        public var clockRate: Int
        public var minDelayFrames = 1
        public var maxDelayFrames = 10
        public var capacity = 64

        public init(clockRate: Int) { self.clockRate = clockRate }
    }

    public enum Output: Equatable {
        /// The next frame's payload.
        case frame([UInt8])
        /// A frame was lost: conceal it.
        case missing
        /// Nothing to play yet (start, rebuffering, or the sender is silent).
        case empty
    }

    public struct Statistics: Sendable, Equatable {
        public var received = 0
        public var lost = 0
        public var late = 0
        public var duplicates = 0
        public var reordered = 0
        public var dropped = 0
        public var underruns = 0
        /// Interarrival jitter in timestamp units (RFC 3550 A.8).
        public var jitter: Double = 0
        public var highestSequence: UInt32 = 0

        public init() {}
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()
    public private(set) var targetDelayFrames: Int

    private var slots: [(seq: Int64, payload: [UInt8])?]
    private var ssrc: UInt32?
    private var highest: Int64?
    private var next: Int64?
    private var playing = false
    private var lastTransit: Int64?
    private var pops = 0
    private var consecutiveMisses = 0

    public init(configuration: Configuration) {
        self.configuration = configuration
        slots = Array(repeating: nil, count: configuration.capacity)
        targetDelayFrames = max(configuration.minDelayFrames, 2)
    }

    /// Buffered frames ahead of the playout point.
    public var depth: Int {
        guard let next, let highest, highest >= next else { return 0 }
        return Int(highest - next + 1)
    }

    /// Adds a packet that arrived at `arrival` (any monotonic clock in nanoseconds).
    public func insert(_ packet: RTPPacket, arrivalNanoseconds arrival: UInt64) {
        if ssrc != packet.ssrc {
            if ssrc != nil { restart() }
            ssrc = packet.ssrc
        }
        let ext = extend(packet.sequence)
        if let highest, abs(ext - highest) > 1000 {
            restart()
            return insert(packet, arrivalNanoseconds: arrival)
        }
        statistics.received += 1
        if let next, ext < next {
            statistics.late += 1
            return
        }
        let index = Int(ext % Int64(configuration.capacity))
        if let slot = slots[index], slot.seq == ext {
            statistics.duplicates += 1
            return
        }
        if let highest, ext < highest { statistics.reordered += 1 }
        slots[index] = (ext, packet.payload)
        highest = max(highest ?? ext, ext)
        statistics.highestSequence = UInt32(truncatingIfNeeded: highest ?? 0)
        // RFC 3550 A.8 interarrival jitter, in timestamp units.
        let arrivalUnits = Int64(arrival / 1_000_000 * UInt64(configuration.clockRate) / 1000)
        let transit = arrivalUnits - Int64(packet.timestamp)
        if let last = lastTransit {
            let d = Double(abs(transit - last))
            statistics.jitter += (d - statistics.jitter) / 16
        }
        lastTransit = transit
        if next == nil { next = ext }
        if !playing && depth >= targetDelayFrames { playing = true }
    }

    /// The frame to play now; call once per 20 ms.
    public func pop() -> Output {
        pops += 1
        if pops % 50 == 0 { adapt() }
        guard playing, let n = next else { return .empty }
        let index = Int(n % Int64(configuration.capacity))
        if let slot = slots[index], slot.seq == n {
            slots[index] = nil
            next = n + 1
            consecutiveMisses = 0
            return .frame(slot.payload)
        }
        if let highest, n <= highest {
            // A gap behind newer packets: the frame is lost.
            statistics.lost += 1
            next = n + 1
            return .missing
        }
        // Ran dry: the next packet is late, or the sender stopped (silence suppression). Conceal a
        // little without giving up its sequence number — after DTX it arrives with exactly that
        // number, and skipping it would clip the start of the caller's next words — then rebuffer.
        consecutiveMisses += 1
        statistics.underruns += 1
        if consecutiveMisses >= 3 {
            playing = false
            if consecutiveMisses == 3 { targetDelayFrames = min(configuration.maxDelayFrames, targetDelayFrames + 1) }
            return .empty
        }
        return .missing
    }

    private func adapt() {
        let frameUnits = Double(configuration.clockRate) / 50
        let wanted = Int((4 * statistics.jitter / frameUnits).rounded(.up)) + 1
        let target = min(configuration.maxDelayFrames, max(configuration.minDelayFrames, wanted))
        if target < targetDelayFrames { targetDelayFrames -= 1 } else if target > targetDelayFrames { targetDelayFrames = target }
        // Too much audio queued: skip a frame to cut the delay.
        if playing, depth > targetDelayFrames + 2, let n = next {
            slots[Int(n % Int64(configuration.capacity))] = nil
            next = n + 1
            statistics.dropped += 1
        }
    }

    private func extend(_ seq: UInt16) -> Int64 {
        guard let highest else { return Int64(seq) + 65536 }  // start one cycle up so early reordering stays positive
        let cycle = highest & ~0xFFFF
        var ext = cycle | Int64(seq)
        if ext < highest - 32768 { ext += 65536 } else if ext > highest + 32768 { ext -= 65536 }
        return ext
    }

    private func restart() {
        for i in slots.indices { slots[i] = nil }
        highest = nil
        next = nil
        playing = false
        lastTransit = nil
        consecutiveMisses = 0
    }
}
