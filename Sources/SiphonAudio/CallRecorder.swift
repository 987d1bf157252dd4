import Dispatch
import SiphonCore
import Synchronization

/// A call recording written on a serial queue of its own, so a slow or failing disk never holds
/// the media clock that hands it frames. The first write error stops the recording — reported
/// once through `onFailure` — and never the call: later frames are dropped.
public final class CallRecorder: Sendable {
    public let path: String
    private let queue: DispatchQueue
    /// Only touched on `queue`.
    private nonisolated(unsafe) var writer: WAVStreamWriter?
    private let state = Mutex(State())
    private let onFailure: @Sendable (String) -> Void
    /// Audio waiting for the disk beyond this (seconds of it) means the disk cannot keep up.
    private let maxBacklogBytes: Int

    struct State {
        var failed = false
        var closed = false
        var backlogBytes = 0
    }

    /// Returns at once: the file is created on the recorder's queue (a failure to create it is
    /// reported through `onFailure` like any other).
    public init(path: String, sampleRate: Int, channels: Int, maxBacklogSeconds: Int = 10,
                onFailure: @escaping @Sendable (String) -> Void) {
        self.path = path
        self.onFailure = onFailure
        maxBacklogBytes = sampleRate * channels * 2 * maxBacklogSeconds
        queue = DispatchQueue(label: "siphon.recorder")
        queue.async {
            do {
                self.writer = try WAVStreamWriter(path: path, sampleRate: sampleRate, channels: channels)
            } catch {
                self.state.withLock { $0.failed = true }
                self.report((error as? SiphonError)?.message ?? "\(error)")
            }
        }
    }

    /// True once a write failed (or the disk fell too far behind): nothing more is recorded.
    public var failed: Bool { state.withLock { $0.failed } }

    /// Queues one stereo frame of `count` samples a channel: `left` and `right` cut or padded with
    /// silence to `count` (nil: silence). What every path records each tick.
    public func append(left: [Int16]?, right: [Int16]?, count: Int) {
        var stereo = [Int16](repeating: 0, count: count * 2)
        if let left { for i in 0..<min(count, left.count) { stereo[2 * i] = left[i] } }
        if let right { for i in 0..<min(count, right.count) { stereo[2 * i + 1] = right[i] } }
        append(interleaved: stereo)
    }

    /// Queues interleaved samples; returns at once.
    public func append(interleaved samples: [Int16]) {
        let size = samples.count * 2
        let overflow = state.withLock { s -> Bool? in
            guard !s.failed, !s.closed else { return nil }
            if s.backlogBytes + size > maxBacklogBytes {
                s.failed = true
                return true
            }
            s.backlogBytes += size
            return false
        }
        switch overflow {
        case nil: return
        case true?:
            queue.async { self.abandon("the disk fell more than \(self.maxBacklogBytes) bytes behind") }
        case false?:
            queue.async {
                defer { self.state.withLock { $0.backlogBytes -= size } }
                guard let writer = self.writer else { return }
                do {
                    try writer.append(interleaved: samples)
                } catch {
                    self.state.withLock { $0.failed = true }
                    self.abandon((error as? SiphonError)?.message ?? "\(error)")
                }
            }
        }
    }

    /// Finishes the file (header sizes) after what is queued; returns at once.
    public func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        queue.async {
            guard let writer = self.writer else { return }
            self.writer = nil
            do { try writer.close() } catch { self.report((error as? SiphonError)?.message ?? "\(error)") }
        }
    }

    /// Closes the recording and waits until the file is complete on disk (off the caller's thread).
    public func finish() async {
        close()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in queue.async { done.resume() } }
    }

    /// On `queue`: keep what was written (a readable WAV up to the failure) and stop.
    private func abandon(_ reason: String) {
        if let writer {
            try? writer.close()
            self.writer = nil
        }
        report(reason)
    }

    private func report(_ reason: String) { onFailure(reason) }
}
