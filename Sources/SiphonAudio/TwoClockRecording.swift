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

    /// A tick's samples (nil: silence) and its length.
    private typealias Frame = (samples: [Int16]?, count: Int)

    private struct Queues {
        var heard: [Frame] = []
        var sent: [Frame] = []
    }

    public init(recorder: CallRecorder, maxLagFrames: Int = 10) {
        self.recorder = recorder
        self.maxLagFrames = maxLagFrames
    }

    /// The phone's frame of this tick (the left channel).
    public func heard(_ samples: [Int16]) { push((samples, samples.count), heard: true) }

    /// The agent's frame of this tick (the right channel), `count` samples; nil when nothing was sent.
    public func sent(_ samples: [Int16]?, count: Int) { push((samples, count), heard: false) }

    private func push(_ frame: Frame, heard: Bool) {
        // Written under the lock: the two clocks' threads must not swap pairs on their way to the
        // recorder (whose append only queues).
        queues.withLock { q in
            if heard { q.heard.append(frame) } else { q.sent.append(frame) }
            while !q.heard.isEmpty, !q.sent.isEmpty {
                let (l, r) = (q.heard.removeFirst(), q.sent.removeFirst())
                recorder.append(left: l.samples, right: r.samples, count: l.count)
            }
            // The other side is not ticking: its share is silence, so this side stays on time.
            while q.heard.count > maxLagFrames { let f = q.heard.removeFirst(); recorder.append(left: f.samples, right: nil, count: f.count) }
            while q.sent.count > maxLagFrames { let f = q.sent.removeFirst(); recorder.append(left: nil, right: f.samples, count: f.count) }
        }
    }
}
