import Foundation

/// Keeps the agent's own voice, echoed back by the line, from counting as caller speech.
///
/// A Geigel double-talk detector at frame resolution: while the agent is talking, an inbound frame
/// is caller speech only if its peak is within `margin` dB of the loudest outbound peak of the last
/// `tail` seconds. Telephone echo (hybrid reflection, handset coupling) comes back attenuated —
/// ITU-T G.168 assumes at least 6 dB of echo return loss (ERL) — so a caller who talks over the
/// agent is louder than the echo and gets through, while the echo alone does not.
///
/// The margin adapts to the line: the guard measures how far below the agent the inbound audio
/// sits while the agent talks (the 5th percentile over the last 2 s of agent speech: the loudest the
/// echo gets) and sets the margin 3 dB short of that, between `marginDB` and `maxMarginDB`. On a
/// line with little or no echo this lets a caller quieter than the agent interrupt; on an echoey
/// one it stays at the G.168 assumption. Only held-back frames are measured (caller speech held
/// back only lowers the margin, the safe direction); if the echo path changes mid-call and echo
/// gets through, the conversation sees a false interruption and calls `remeasure()`.
///
/// Why a gate and not an adaptive echo canceller: the decision needed here is binary (is the caller
/// talking?), the gate costs a few comparisons per frame, and it cannot diverge or distort the
/// caller's audio that goes on to STT. An NLMS canceller would also clean the audio, but needs
/// hundreds of taps per call at our frame budget and a convergence period at every call start.
public final class EchoGuard {
    public let tail: Double
    /// The margin before the line is measured, and the smallest it adapts to.
    public let marginDB: Double
    public let maxMarginDB: Double
    private var peaks: [Int32]
    private var index = 0
    /// Inbound attenuation relative to the reference (dB), one per frame of loud agent speech.
    private var attenuations: [Float]
    private var attenuationIndex = 0
    private var attenuationCount = 0
    private var threshold: Double

    /// Below this reference peak (about −30 dBFS) the agent is not loud enough to measure the line.
    private static let measurableReference: Int32 = 1000
    /// Attenuation recorded for digital silence (and the cap for anything quieter).
    private static let silenceAttenuation: Float = 60

    /// - Parameters:
    ///   - tail: the longest echo delay to cover (network round trip plus the far hybrid), seconds.
    ///   - marginDB: the echo return loss assumed until the line is measured, and the least margin.
    ///   - maxMarginDB: the most margin, however clean the line (a caller this far below the agent
    ///     still interrupts).
    ///   - measureFrames: frames of agent speech the line measurement spans (100: 2 s).
    public init(tail: Double = 0.5, marginDB: Double = 6, maxMarginDB: Double = 30, measureFrames: Int = 100) {
        self.tail = tail
        self.marginDB = marginDB
        self.maxMarginDB = max(marginDB, maxMarginDB)
        peaks = Array(repeating: 0, count: max(1, Int((tail * 50).rounded(.up))))
        attenuations = Array(repeating: 0, count: max(20, measureFrames))
        threshold = pow(10, -marginDB / 20)
    }

    /// The margin in force (dB): inbound within this much of the agent's peak counts as the caller.
    public var currentMarginDB: Double { -20 * log10(threshold) }

    /// Records a frame the agent sent (its peak), once per 20 ms; pass silence when not talking.
    public func outbound(_ samples: UnsafeBufferPointer<Int16>) {
        var peak: Int32 = 0
        for s in samples { peak = max(peak, abs(Int32(s))) }
        outboundPeak(peak)
    }

    /// Records the peak of a frame the agent sent (when the caller only tracks peaks).
    public func outboundPeak(_ peak: Int32) {
        peaks[index] = peak
        index = (index + 1) % peaks.count
    }

    public func outboundSilence() { outboundPeak(0) }

    /// True when the inbound frame can be the caller (not only the agent's echo). Call once per
    /// inbound frame: it also measures the line.
    public func admits(_ inbound: UnsafeBufferPointer<Int16>) -> Bool {
        var reference: Int32 = 0
        for p in peaks { reference = max(reference, p) }
        if reference == 0 { return true }
        var peak: Int32 = 0
        for s in inbound { peak = max(peak, abs(Int32(s))) }
        let admitted = Double(peak) > Double(reference) * threshold
        // Only what is held back measures the line: admitted frames are the caller, whose voice
        // would otherwise close the margin on itself within a few frames.
        if !admitted, reference >= Self.measurableReference { measure(reference: reference, inbound: peak) }
        return admitted
    }

    public func reset() {
        for i in peaks.indices { peaks[i] = 0 }
        index = 0
        remeasure()
    }

    /// Back to the G.168 margin until the line has been measured again (after audio got through
    /// that turned out not to be the caller).
    public func remeasure() {
        attenuationCount = 0
        attenuationIndex = 0
        threshold = pow(10, -marginDB / 20)
    }

    private func measure(reference: Int32, inbound: Int32) {
        let a = inbound == 0 ? Self.silenceAttenuation : min(Self.silenceAttenuation, Float(20 * log10(Double(reference) / Double(inbound))))
        attenuations[attenuationIndex] = a
        attenuationIndex = (attenuationIndex + 1) % attenuations.count
        attenuationCount = min(attenuationCount + 1, attenuations.count)
        guard attenuationCount == attenuations.count else { return }
        let margin = min(maxMarginDB, max(marginDB, Double(lowPercentile()) - 3))
        threshold = pow(10, -margin / 20)
    }

    /// The 5th percentile of the measured attenuations: the k-th smallest, kept in a small
    /// sorted window on the stack (no allocation).
    private func lowPercentile() -> Float {
        let k = max(1, attenuations.count / 20)
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { smallest in
            var n = 0
            for a in attenuations {
                if n < k {
                    var i = n
                    while i > 0, smallest[i - 1] > a { smallest[i] = smallest[i - 1]; i -= 1 }
                    smallest[i] = a
                    n += 1
                } else if a < smallest[k - 1] {
                    var i = k - 1
                    while i > 0, smallest[i - 1] > a { smallest[i] = smallest[i - 1]; i -= 1 }
                    smallest[i] = a
                }
            }
            return smallest[k - 1]
        }
    }
}
