import Synchronization

/// One stereo recording fed by two media clocks: over LiveKit's v0 signalling a call's phone is
/// heard on one peer connection and the agent is sent on another, each ticking every 20 ms on
/// its own. Each side's frames wait here for the other's and go to the recorder in pairs (heard
/// left, sent right). The clocks share the host's time, so the wait stays within a frame or two;
/// a side that falls more than `maxLagFrames` behind (its connection not up yet, or gone) is
/// written as silence, which keeps the other side on time rather than growing a backlog.
public final class TwoClockRecording: Sendable {
    private let recorder: CallRecorder
    private let maxLagFrames: Int
    private let queues = Mutex(Queues())

    private struct Queues {
        var heard: [[Int16]] = []
        var sent: [[Int16]] = []
    }

    public init(recorder: CallRecorder, maxLagFrames: Int = 10) {
        self.recorder = recorder
        self.maxLagFrames = maxLagFrames
    }

    /// The phone's frame of this tick (the left channel).
    public func heard(_ samples: [Int16]) { push(samples, heard: true) }

    /// The agent's frame of this tick (the right channel); nil when nothing was sent (silence of
    /// `count` samples).
    public func sent(_ samples: [Int16]?, count: Int) {
        push(samples ?? [Int16](repeating: 0, count: count), heard: false)
    }

    private func push(_ frame: [Int16], heard: Bool) {
        // Written under the lock: the two clocks' threads must not swap pairs on their way to the
        // recorder (whose append only queues).
        queues.withLock { q in
            if heard { q.heard.append(frame) } else { q.sent.append(frame) }
            while !q.heard.isEmpty, !q.sent.isEmpty { write(q.heard.removeFirst(), q.sent.removeFirst()) }
            // The other side is not ticking: its share is silence, so this side stays on time.
            while q.heard.count > maxLagFrames { let f = q.heard.removeFirst(); write(f, [Int16](repeating: 0, count: f.count)) }
            while q.sent.count > maxLagFrames { let f = q.sent.removeFirst(); write([Int16](repeating: 0, count: f.count), f) }
        }
    }

    private func write(_ left: [Int16], _ right: [Int16]) {
        var stereo = [Int16](repeating: 0, count: max(left.count, right.count) * 2)
        for i in left.indices { stereo[2 * i] = left[i] }
        for i in right.indices { stereo[2 * i + 1] = right[i] }
        recorder.append(interleaved: stereo)
    }
}
