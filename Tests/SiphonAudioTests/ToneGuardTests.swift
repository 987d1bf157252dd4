import Foundation
import Testing
@testable import SiphonAudio

/// The VAD's tone guard and swell following on synthetic lines: tones a call meets are never a
/// speech start, speech right after a tone still is, and a slowly swelling noise does not start
/// speech — each checked against the detector with the feature off, so the test can fail.
@Suite struct ToneGuardTests {
    static let dtmfLow: [Double] = [697, 770, 852, 941]
    static let dtmfHigh: [Double] = [1209, 1336, 1477, 1633]

    static func tones(_ frequencies: [Double], rate: Int, seconds: Double, dbfs: Double) -> [Int16] {
        let amplitude = 32767 * pow(10, dbfs / 20)
        return frequencies.map { Signals.sine($0, rate: rate, seconds: seconds, amplitude: amplitude) }
            .reduce([Int16](repeating: 0, count: Int(seconds * Double(rate)))) { Signals.mix($0, $1) }
    }

    /// A line: a second of hiss, then the parts with 300 ms gaps, over hiss at about −60 dBFS.
    static func line(_ parts: [[Int16]], rate: Int) -> [Int16] {
        var x = [Int16](repeating: 0, count: rate)
        for p in parts { x += p + [Int16](repeating: 0, count: rate * 3 / 10) }
        return Signals.mix(x, Signals.noise(count: x.count, amplitude: 35))
    }

    static func starts(_ x: [Int16], rate: Int, _ configuration: VADConfiguration = VADConfiguration()) -> Int {
        let vad = VoiceActivityDetector(sampleRate: rate, configuration: configuration)
        return Signals.frames(x, size: rate / 50).filter { if case .speechStarted = vad.process($0).event { true } else { false } }.count
    }

    @Test(arguments: [8000, 16000])
    func keypadPressesAreNotSpeech(rate: Int) {
        var parts: [[Int16]] = []
        for (i, low) in Self.dtmfLow.enumerated() {
            for (j, high) in Self.dtmfHigh.enumerated() {
                parts.append(Self.tones([low, high], rate: rate, seconds: 0.06 + 0.02 * Double((i + j) % 4), dbfs: i % 2 == 0 ? -10 : -25))
            }
        }
        let x = Self.line(parts, rate: rate)
        #expect(Self.starts(x, rate: rate) == 0)
        #expect(Self.starts(x, rate: rate, VADConfiguration(toneGuard: false)) >= 12, "without the guard the presses read as speech")
    }

    @Test(arguments: [8000, 16000])
    func beepsRingbackBusyDialToneAndFaxAreNotSpeech(rate: Int) {
        let parts = [
            Self.tones([1000], rate: rate, seconds: 0.5, dbfs: -12),   // a voicemail beep
            Self.tones([440], rate: rate, seconds: 0.25, dbfs: -20),
            Self.tones([1950], rate: rate, seconds: 0.8, dbfs: -15),
            Self.tones([440, 480], rate: rate, seconds: 2, dbfs: -18), // US ringback (beating)
            Self.tones([400, 450], rate: rate, seconds: 0.4, dbfs: -18), // UK ringback
            Self.tones([480, 620], rate: rate, seconds: 0.5, dbfs: -18), // busy
            Self.tones([350, 440], rate: rate, seconds: 1.5, dbfs: -18), // dial tone
            Self.tones([1100], rate: rate, seconds: 0.5, dbfs: -15),   // fax CNG
        ]
        let x = Self.line(parts, rate: rate)
        #expect(Self.starts(x, rate: rate) == 0)
        #expect(Self.starts(x, rate: rate, VADConfiguration(toneGuard: false)) >= 6)
    }

    @Test func aVoiceRightAfterABeepIsSpeech() {
        // A voice with a wandering pitch (no steady tone) 200 ms after a beep.
        let rate = 8000
        var voice: [Int16] = []
        for k in 0..<10 { voice += Signals.harmonic(120 + Double(k * 6), rate: rate, seconds: 0.1, amplitude: 2500) }
        let x = Self.line([Self.tones([1000], rate: rate, seconds: 0.5, dbfs: -12) + [Int16](repeating: 0, count: 1600) + voice], rate: rate)
        let vad = VoiceActivityDetector(sampleRate: rate)
        let decisions = Signals.frames(x, size: 160).map { vad.process($0) }
        let started = decisions.indices.filter { if case .speechStarted = decisions[$0].event { true } else { false } }
        #expect(started.count == 1)
        // The voice starts at frame 50 + 25 + 10 = 85; at most one frame of delay for the tone check.
        #expect(started.first.map { (85...87).contains($0) } == true, "\(started)")
    }

    @Test func theGuardMeasuresToneAndVoiceApart() {
        let rate = 8000
        let estimator = SpeechProbabilityEstimator(sampleRate: rate)
        for f in Signals.frames(Signals.noise(count: 4000, amplitude: 35), size: 160) { _ = f.withUnsafeBufferPointer { estimator.process($0) } }
        for (i, f) in Signals.frames(Self.tones([852, 1477], rate: rate, seconds: 0.2, dbfs: -15), size: 160).enumerated() {
            _ = f.withUnsafeBufferPointer { estimator.process($0) }
            if i == 0 { continue }  // the onset: half of the guard's 40 ms is still the hiss before it
            #expect(estimator.lastFrameWasTone)
            #expect(estimator.toneGuard.purity > 0.95 && estimator.toneGuard.predictionGainDB > ToneGuard.minimumPredictionGainDB)
        }
        for f in Signals.frames(Signals.harmonic(140, rate: rate, seconds: 0.3), size: 160) {
            _ = f.withUnsafeBufferPointer { estimator.process($0) }
            #expect(!estimator.lastFrameWasTone)
        }
    }

    /// Noise whose level swells 15 dB over four seconds and ebbs again, twice: no speech — and the
    /// swell raises false starts without the following (so the test can fail).
    @Test(arguments: [8000, 16000])
    func aSlowlySwellingNoiseIsNotSpeech(rate: Int) {
        let n = rate * 20
        let hiss = Signals.noise(count: n, amplitude: 1000)
        var x = [Int16](repeating: 0, count: n)
        for i in 0..<n {
            let t = Double(i) / Double(rate)
            let db = t < 2 ? -15 : -15 + 15 * (0.5 - 0.5 * cos(2 * Double.pi * (t - 2) / 8))  // −15 → 0 → −15 dB per 8 s
            x[i] = Int16(Double(hiss[i]) * pow(10, db / 20))
        }
        #expect(Self.starts(x, rate: rate) == 0)
        #expect(Self.starts(x, rate: rate, VADConfiguration(followNoiseSwells: false)) >= 1)
    }
}
