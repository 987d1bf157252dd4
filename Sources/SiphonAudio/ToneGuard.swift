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
/// before a tracker could lock on. Nothing allocated per frame.
public final class ToneGuard {
    public static let minimumPredictionGainDB = 22.0
    public static let minimumPurity = 0.9
    static let order = 6

    private let frameSamples: Int
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
        recent = Array(repeating: 0, count: 2 * frameSamples)
        windowed = recent
        window = (0..<2 * frameSamples).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(2 * sampleRate / 50 - 1)) }
        autocorrelation = Array(repeating: 0, count: Self.order + 1)
        coefficients = Array(repeating: 0, count: Self.order + 1)
        previous = Array(repeating: 0, count: Self.order + 1)
    }

    public func reset() {
        for i in recent.indices { recent[i] = 0 }
        predictionGainDB = 0
        purity = 0
    }

    /// Whether this frame is a tone. `samples`: the frame (normalised to ±1, `frameSamples` long);
    /// `band`: the frame's power spectrum over the band the VAD scores, `lobeBins` bins either side of a peak.
    func isTone(_ samples: UnsafeBufferPointer<Double>, band: UnsafeBufferPointer<Double>, lobeBins: Int) -> Bool {
        for i in 0..<frameSamples {
            recent[i] = recent[i + frameSamples]
            recent[i + frameSamples] = i < samples.count ? samples[i] : 0
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
