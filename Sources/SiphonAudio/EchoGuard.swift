import Foundation

/// Keeps the agent's own voice, echoed back by the line, from counting as caller speech.
///
/// A Geigel double-talk detector at frame resolution: while the agent is talking, an inbound frame
/// is caller speech only if its peak exceeds the loudest outbound peak of the last `tail` seconds
/// by less than `margin` dB of attenuation. Telephone echo (hybrid reflection, handset coupling)
/// comes back attenuated — ITU-T G.168 assumes at least 6 dB of echo return loss — so a caller who
/// talks over the agent is louder than the echo and gets through, while the echo alone does not.
///
/// Why a gate and not an adaptive echo canceller: the decision needed here is binary (is the caller
/// talking?), the gate costs a few comparisons per frame, and it cannot diverge or distort the
/// caller's audio that goes on to STT. An NLMS canceller would also clean the audio, but needs
/// hundreds of taps per call at our frame budget and a convergence period at every call start.
public final class EchoGuard {
    public let tail: Double
    public let marginDB: Double
    private var peaks: [Int32]
    private var index = 0
    private let threshold: Double

    /// - Parameters:
    ///   - tail: the longest echo delay to cover (network round trip plus the far hybrid), seconds.
    ///   - marginDB: the echo return loss assumed; inbound must be louder than outbound minus this.
    public init(tail: Double = 0.5, marginDB: Double = 6) {
        self.tail = tail
        self.marginDB = marginDB
        peaks = Array(repeating: 0, count: max(1, Int((tail * 50).rounded(.up))))
        threshold = pow(10, -marginDB / 20)
    }

    /// Records a frame the agent sent (its peak), once per 20 ms; pass silence when not talking.
    public func outbound(_ samples: UnsafeBufferPointer<Int16>) {
        var peak: Int32 = 0
        for s in samples { peak = max(peak, abs(Int32(s))) }
        peaks[index] = peak
        index = (index + 1) % peaks.count
    }

    /// Records the peak of a frame the agent sent (when the caller only tracks peaks).
    public func outboundPeak(_ peak: Int32) {
        peaks[index] = peak
        index = (index + 1) % peaks.count
    }

    public func outboundSilence() {
        peaks[index] = 0
        index = (index + 1) % peaks.count
    }

    /// True when the inbound frame can be the caller (not only the agent's echo).
    public func admits(_ inbound: UnsafeBufferPointer<Int16>) -> Bool {
        var reference: Int32 = 0
        for p in peaks { reference = max(reference, p) }
        if reference == 0 { return true }
        var peak: Int32 = 0
        for s in inbound { peak = max(peak, abs(Int32(s))) }
        return Double(peak) > Double(reference) * threshold
    }

    public func reset() {
        for i in peaks.indices { peaks[i] = 0 }
        index = 0
    }
}
