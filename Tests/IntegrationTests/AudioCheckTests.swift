import Testing
import SiphonAudio

/// The interop tests' measure of "the audio crossed": it must forgive what a peer's jitter buffer
/// does while it settles (a few milliseconds dropped) and still fail audio that did not cross whole.
struct AudioCheckTests {
    static let probe = AudioCheck.probe()
    static let lead = [Int16](repeating: 0, count: 4000)

    @Test func anIntactProbeScoresFull() {
        #expect(AudioCheck.correlation(Self.probe, in: Self.lead + Self.probe + Self.lead) > 0.99)
    }

    /// PJSIP's adaptive jitter buffer shortened its latency by 10 ms three times in a probe (seen in
    /// the outbound PJSIP test: the probe's later parts 10, 20, 30 ms early).
    @Test func aJitterBufferDroppingTenMillisecondsAFewTimesStillScoresHigh() {
        var heard = Self.lead + Self.probe + Self.lead
        for at in [4000 + 21000, 4000 + 14000, 4000 + 6000] { heard.removeSubrange(at..<at + 80) }
        #expect(AudioCheck.correlation(Self.probe, in: heard) > AudioCheck.whole)
    }

    @Test func audioThatDidNotCrossWholeScoresLow() {
        // μ-law bytes decoded as A-law: the envelope survives, the waveform does not.
        let wrongLaw = Self.probe.map { G711.alawDecode(G711.ulawEncode($0)) }
        #expect(AudioCheck.correlation(Self.probe, in: Self.lead + wrongLaw + Self.lead) < AudioCheck.whole)
        // Every other 20 ms frame lost.
        var gappy = Self.probe
        for frame in stride(from: 0, to: gappy.count - 160, by: 320) { gappy.replaceSubrange(frame..<frame + 160, with: repeatElement(0, count: 160)) }
        #expect(AudioCheck.correlation(Self.probe, in: Self.lead + gappy + Self.lead) < AudioCheck.whole)
        // Noise in the probe's envelope.
        var seed: UInt32 = 7
        let noise = Self.probe.map { s -> Int16 in
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return s == 0 ? 0 : Int16(truncatingIfNeeded: Int(seed >> 20) - 2048) * 4
        }
        #expect(AudioCheck.correlation(Self.probe, in: Self.lead + noise + Self.lead) < AudioCheck.whole)
    }
}
