import Foundation

/// Per-frame speech probability for telephone audio (8 or 16 kHz, 20 ms frames).
///
/// A statistical model detector (Sohn, Kim & Sung 1999): for each frequency bin of the telephone
/// band (250–3500 Hz), the likelihood ratio of "speech + noise" over "noise" under Gaussian models,
/// with the a-priori SNR estimated decision-directed (Ephraim–Malah). The noise spectrum is tracked
/// by minima-controlled recursive averaging (Cohen's MCRA): each bin's noise estimate follows the
/// signal only where the smoothed power stays near its recent minimum, so line hiss, hum and comfort
/// noise become the floor instead of triggering the detector, while speech does not leak into it.
///
/// Everything is preallocated at init; `process` allocates nothing.
public final class SpeechProbabilityEstimator {
    public let sampleRate: Int
    public let frameSamples: Int
    /// Frames whose level is below this are not speech, whatever their spectrum (digital silence).
    public var energyFloorDB: Double = -60

    private let fft: RealFFT
    private let window: [Double]
    private let lowBin: Int
    private let highBin: Int
    private var frame: [Double]
    private var power: [Double]
    private var smoothed: [Double]
    private var minimum: [Double]
    private var minimumTemp: [Double]
    private var presence: [Double]
    private var noise: [Double]
    private var previousCleanSNR: [Double]
    private var frames = 0
    private var smoothedLLR = 0.0

    // Model constants (see the papers above); tuned on an espeak-ng corpus with seed 11, checked on
    // seeds 7 (the tests) and 23 (scripts/vad-table.sh).
    private let powerSmoothing = 0.8       // αs: time smoothing of the periodogram for minimum tracking
    private let minimumWindow = 40         // L: frames per minimum-tracking window (0.8 s)
    private let presenceRatio = 5.0        // δ: S/Smin above this means speech is present in the bin
    private let presenceSmoothing = 0.2    // αp
    private let noiseSmoothing = 0.99      // αd: noise update where speech is absent (slow: babble must not pull the floor up and down)
    private let decisionDirected = 0.98    // a: a-priori SNR smoothing
    private let minimumPrioriSNR = 0.003   // ξmin ≈ −25 dB
    private let warmupFrames = 10
    private let llrSmoothing = 0.5
    private let llrCenter = 0.35
    private let llrSlope = 6.0

    public init(sampleRate: Int) {
        precondition(sampleRate == 8000 || sampleRate == 16000, "the VAD runs at 8 or 16 kHz")
        self.sampleRate = sampleRate
        frameSamples = sampleRate / 50
        let n = sampleRate == 8000 ? 256 : 512  // 31.25 Hz bins at both rates
        fft = RealFFT(size: n)
        window = (0..<frameSamples).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(sampleRate / 50 - 1)) }
        let binHz = Double(sampleRate) / Double(n)
        lowBin = Int((250 / binHz).rounded(.up))
        highBin = Int((3500 / binHz).rounded(.down))
        frame = Array(repeating: 0, count: frameSamples)
        power = Array(repeating: 0, count: n / 2 + 1)
        let bins = highBin - lowBin + 1
        smoothed = Array(repeating: 0, count: bins)
        minimum = Array(repeating: 0, count: bins)
        minimumTemp = Array(repeating: 0, count: bins)
        presence = Array(repeating: 0, count: bins)
        noise = Array(repeating: 0, count: bins)
        previousCleanSNR = Array(repeating: 1, count: bins)
    }

    public func reset() {
        frames = 0
        smoothedLLR = 0
        for i in noise.indices { noise[i] = 0; previousCleanSNR[i] = 1 }
    }

    /// The level of the last frame in dB relative to full scale.
    public private(set) var levelDB: Double = -100

    /// Speech probability of one 20 ms frame (`frameSamples` samples; a short frame is padded with
    /// silence, extra samples are ignored).
    public func process(_ samples: UnsafeBufferPointer<Int16>) -> Double {
        var energy = 0.0
        let available = min(samples.count, frameSamples)
        frame.withUnsafeMutableBufferPointer { f in
            window.withUnsafeBufferPointer { w in
                for i in 0..<frameSamples {
                    let x = i < available ? Double(samples[i]) / 32768 : 0
                    energy += x * x
                    f[i] = x * w[i]
                }
            }
            power.withUnsafeMutableBufferPointer { p in fft.powerSpectrum(UnsafeBufferPointer(f), into: p) }
        }
        levelDB = 10 * log10(energy / Double(frameSamples) + 1e-12)
        // The first frames (200 ms) are taken as noise and averaged into the initial estimates: a
        // single frame is too noisy a start, and a too-low floor would read all that follows as speech.
        let warmup = frames < warmupFrames
        let warmupWeight = 1 / Double(frames + 1)
        frames += 1
        let renewMinimum = frames % minimumWindow == 0
        var llrSum = 0.0
        let count = highBin - lowBin + 1

        power.withUnsafeBufferPointer { p in
            smoothed.withUnsafeMutableBufferPointer { s in
                minimum.withUnsafeMutableBufferPointer { smin in
                    minimumTemp.withUnsafeMutableBufferPointer { stmp in
                        presence.withUnsafeMutableBufferPointer { pres in
                            noise.withUnsafeMutableBufferPointer { nz in
                                previousCleanSNR.withUnsafeMutableBufferPointer { prev in
                                    for b in 0..<count {
                                        let pk = p[lowBin + b] + 1e-14
                                        if warmup {
                                            nz[b] += (pk - nz[b]) * warmupWeight
                                            s[b] = nz[b]; smin[b] = nz[b]; stmp[b] = nz[b]; pres[b] = 0
                                        }
                                        // MCRA noise tracking.
                                        s[b] = powerSmoothing * s[b] + (1 - powerSmoothing) * pk
                                        if renewMinimum {
                                            smin[b] = min(stmp[b], s[b])
                                            stmp[b] = s[b]
                                        } else {
                                            smin[b] = min(smin[b], s[b])
                                            stmp[b] = min(stmp[b], s[b])
                                        }
                                        let present = s[b] > presenceRatio * smin[b] ? 1.0 : 0.0
                                        pres[b] = presenceSmoothing * pres[b] + (1 - presenceSmoothing) * present
                                        let alpha = noiseSmoothing + (1 - noiseSmoothing) * pres[b]
                                        nz[b] = alpha * nz[b] + (1 - alpha) * pk
                                        // Sohn likelihood ratio with decision-directed a-priori SNR.
                                        let gamma = min(pk / nz[b], 1e4)
                                        let xi = max(decisionDirected * prev[b] + (1 - decisionDirected) * max(gamma - 1, 0), minimumPrioriSNR)
                                        llrSum += gamma * xi / (1 + xi) - log(1 + xi)
                                        let gain = xi / (1 + xi)
                                        prev[b] = gain * gain * gamma
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let llr = llrSum / Double(count)
        // Fast attack, smoothed release: onsets are reported in the frame they happen, while one
        // quiet frame inside a word does not drop the probability.
        smoothedLLR = llr > smoothedLLR ? llr : llrSmoothing * smoothedLLR + (1 - llrSmoothing) * llr
        if levelDB < energyFloorDB { return 0 }
        return 1 / (1 + exp(-llrSlope * (smoothedLLR - llrCenter)))
    }
}
