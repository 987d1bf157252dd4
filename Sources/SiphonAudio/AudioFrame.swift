import Foundation
import Synchronization

/// 20 ms of mono PCM16 audio: the unit every stage of a call's media pipeline works on.
public struct AudioFrame: Sendable, Equatable {
    public static let durationMs = 20
    public var sampleRate: Int
    public var samples: [Int16]

    public init(sampleRate: Int, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.samples = samples
    }

    public static func samplesPerFrame(_ sampleRate: Int) -> Int { sampleRate / 50 }

    public static func silence(sampleRate: Int) -> AudioFrame {
        AudioFrame(sampleRate: sampleRate, samples: Array(repeating: 0, count: samplesPerFrame(sampleRate)))
    }

    /// Root mean square level in dBFS (−100 for digital silence).
    public var levelDB: Double {
        var sum = 0.0
        for s in samples { let x = Double(s); sum += x * x }
        let rms = (sum / Double(max(1, samples.count))).squareRoot() / 32768
        return rms > 0 ? 20 * log10(rms) : -100
    }
}

/// Recycles frame storage so a call's steady state allocates nothing: `take` hands out a buffer
/// of the right size (reusing a returned one when there is one), `recycle` takes it back.
public final class FramePool: Sendable {
    private let free: Mutex<[Int: [[Int16]]]> = Mutex([:])
    private let limit: Int

    /// `limit`: buffers kept per sample rate; beyond it, returned buffers are simply released.
    public init(limit: Int = 64) { self.limit = limit }

    public func take(sampleRate: Int) -> AudioFrame {
        let n = AudioFrame.samplesPerFrame(sampleRate)
        let reused = free.withLock { $0[sampleRate]?.popLast() }
        return AudioFrame(sampleRate: sampleRate, samples: reused ?? Array(repeating: 0, count: n))
    }

    public func recycle(_ frame: consuming AudioFrame) {
        let rate = frame.sampleRate
        let storage = frame.samples
        guard storage.count == AudioFrame.samplesPerFrame(rate) else { return }
        free.withLock { pools in
            if pools[rate, default: []].count < limit { pools[rate, default: []].append(storage) }
        }
    }

    public var available: Int { free.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
