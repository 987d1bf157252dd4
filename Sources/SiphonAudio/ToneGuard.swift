import Foundation

/// Tells steady tones from speech, one 20 ms frame at a time, so the VAD does not take a keypad
/// press, a voicemail beep, ringback, busy, dial tone or fax CNG for a caller talking.
///
/// A tone is one or two sinusoids. Two tests, both needed:
/// - *predictable*: an order-6 linear predictor (autocorrelation over the last 40 ms, Levinson)
///   removes ≥ 22 dB of its energy — three sinusoids at most are predicted exactly, only line noise
///   and μ-law quantisation remain; speech through a phone line stays below ~20 dB.
/// - *narrow*: two ±125 Hz regions around the two strongest peaks hold ≥ 90 % of the band's energy
///   (the spectrum the VAD already computed) — a voice spreads its harmonics wider.
/// No history beyond 40 ms: the first frame of a tone is caught, so no speech start slips through
/// before a tracker could lock on. The predictor always runs at 8 kHz (16 kHz frames are low-passed
/// and decimated first): on a 16 kHz pipeline fed from an 8 kHz line the top half of the spectrum
/// is empty, and a predictor at 16 kHz gains 20 dB and more on any voice from that alone — the
/// agent's own eSpeak voice read as tones in a quarter of its frames. Nothing allocated per frame.
public final class ToneGuard {
    public static let minimumPredictionGainDB = 22.0
    public static let minimumPurity = 0.9
    static let order = 6

    private let frameSamples: Int
    /// 2 at 16 kHz (decimated to 8 kHz for the predictor), 1 at 8 kHz.
    private let decimation: Int
    /// Samples per frame at 8 kHz.
    private let analysedSamples: Int
    private var lastInput = 0.0
    private var recent: [Double]
    private var windowed: [Double]
    private let window: [Double]
    private var autocorrelation: [Double]
    private var coefficients: [Double]
    private var previous: [Double]
    /// Prediction gain of the last frame in dB (diagnostics, tests).
    public private(set) var predictionGainDB = 0.0
    /// Share of the band's energy in the two strongest peaks of the last frame.
    public private(set) var purity = 0.0

    public init(sampleRate: Int) {
        frameSamples = sampleRate / 50
        decimation = sampleRate >= 16000 ? sampleRate / 8000 : 1
        analysedSamples = frameSamples / decimation
        recent = Array(repeating: 0, count: 2 * analysedSamples)
        windowed = recent
        let n = 2 * analysedSamples
        window = (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n - 1)) }
        autocorrelation = Array(repeating: 0, count: Self.order + 1)
        coefficients = Array(repeating: 0, count: Self.order + 1)
        previous = Array(repeating: 0, count: Self.order + 1)
    }

    public func reset() {
        for i in recent.indices { recent[i] = 0 }
        lastInput = 0
        predictionGainDB = 0
        purity = 0
    }

    /// Whether this frame is a tone. `samples`: the frame (normalised to ±1, `frameSamples` long);
    /// `band`: the frame's power spectrum over the band the VAD scores, `lobeBins` bins either side of a peak.
    func isTone(_ samples: UnsafeBufferPointer<Double>, band: UnsafeBufferPointer<Double>, lobeBins: Int) -> Bool {
        for i in 0..<analysedSamples {
            recent[i] = recent[i + analysedSamples]
            if decimation == 1 {
                recent[i + analysedSamples] = i < samples.count ? samples[i] : 0
            } else {
                // A half-band [1 2 1]/4 low-pass, then every second sample.
                let j = i * decimation
                let x = j < samples.count ? samples[j] : 0, next = j + 1 < samples.count ? samples[j + 1] : 0
                recent[i + analysedSamples] = 0.25 * lastInput + 0.5 * x + 0.25 * next
                lastInput = next
            }
        }
        purity = Self.purity(band, lobe: lobeBins)
        guard purity >= Self.minimumPurity else {
            predictionGainDB = 0  // not narrow: not worth predicting (most frames stop here)
            return false
        }
        predictionGainDB = predictionGain()
        return predictionGainDB >= Self.minimumPredictionGainDB
    }

    /// Energy within `lobe` bins of the strongest peak and of the strongest one outside it, over the total.
    static func purity(_ band: UnsafeBufferPointer<Double>, lobe: Int) -> Double {
        var total = 0.0
        var first = 0
        for k in band.indices {
            total += band[k]
            if band[k] > band[first] { first = k }
        }
        guard total > 0 else { return 0 }
        let firstLobe = max(0, first - lobe)...min(band.count - 1, first + lobe)
        var inFirst = 0.0
        for k in firstLobe { inFirst += band[k] }
        var second = -1
        for k in band.indices where !firstLobe.contains(k) && (second < 0 || band[k] > band[second]) { second = k }
        var inSecond = 0.0
        if second >= 0 {
            for k in max(0, second - lobe)...min(band.count - 1, second + lobe) where !firstLobe.contains(k) { inSecond += band[k] }
        }
        return (inFirst + inSecond) / total
    }

    /// 10·log10(R(0) / residual) of an order-6 predictor over the last 40 ms (Hann-windowed).
    private func predictionGain() -> Double {
        let n = recent.count
        let order = Self.order
        windowed.withUnsafeMutableBufferPointer { y in
            recent.withUnsafeBufferPointer { x in
                window.withUnsafeBufferPointer { w in
                    for i in 0..<n { y[i] = x[i] * w[i] }
                }
            }
            for lag in 0...order {
                var sum = 0.0
                for i in lag..<n { sum += y[i] * y[i - lag] }
                autocorrelation[lag] = sum
            }
        }
        let energy = autocorrelation[0]
        guard energy > 1e-9 else { return 0 }
        // Levinson–Durbin; a tiny white-noise floor keeps it stable on exact sinusoids.
        var error = energy * (1 + 1e-9)
        for i in coefficients.indices { coefficients[i] = 0 }
        coefficients[0] = 1
        for m in 1...order {
            var acc = autocorrelation[m]
            for j in 1..<m { acc += coefficients[j] * autocorrelation[m - j] }
            let k = -acc / error
            for j in 0...m { previous[j] = coefficients[j] }
            for j in 1...m { coefficients[j] = previous[j] + k * previous[m - j] }
            error *= max(1e-12, 1 - k * k)
        }
        return 10 * log10(energy / max(error, 1e-20))
    }
}
