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
    /// Steady tones (DTMF, beeps, ringback, CNG) are not speech (`ToneGuard`); they also leave the
    /// noise estimate alone.
    public var guardsTones = true
    /// A noise that swells over seconds (a car accelerating, wind) outruns the minimum tracking, and
    /// the probability creeps up (0.1 → 0.3 over a second) until a fluctuation reads as speech; speech
    /// jumps instead. So the noise estimate catches up fast (up only) while the one-second average
    /// probability has sat in that creeping band for half a second with a steady level (speech's
    /// syllables move the level several dB from frame to frame; without that check, seconds of
    /// unbroken speech in noise faded into the floor), and a frame that reaches speech after 200 ms
    /// of creeping with no jump is a swell (`creptUp`: the VAD does not start on it).
    public var followsSwells = true
    /// Whether the last frame was a tone (`guardsTones`).
    public private(set) var lastFrameWasTone = false

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
    // Swell following (tuned on seed 11's corpus with its hard cases, checked on seed 7).
    private let creepBand = 0.13...0.4     // one-second average probability of a noise outrunning its estimate
    private let creepFrames = 25           // in the band this long (0.5 s) before catching up: speech passes through it faster
    private let creepOnset = 0.22          // 200 ms average probability of a swell reaching speech (steady noise: ~0.11)
    private let creepModulation = 2.0      // … and the level moving less than this from frame to frame: speech moves it more
    private let creepRise = 3.0            // … with the level less than this (dB) above its 200 ms average: a voice in babble jumps more
    private let catchUpSmoothing = 0.9     // noise update while catching up (200 ms)
    private var averageProbability = 0.0
    private var creeping = 0
    private var recent = [Double](repeating: 0, count: 10)
    private var recentIndex = 0
    private var recentLevels = [Double](repeating: -100, count: 10)
    private var sinceJump = 0
    private var catchingUp = false
    private var previousLevelDB = -100.0
    /// How much the level moves from frame to frame (dB, averaged over ~200 ms): speech's syllables
    /// move it several dB, a swelling noise about one.
    public private(set) var levelModulationDB = 0.0
    /// The last frame reached speech by creeping up over 200 ms, its level without a jump: a swell
    /// outrunning the noise estimate, not an onset (`followsSwells`).
    public private(set) var creptUp = false
    /// The guard's view of the last frame (`purity`, `predictionGainDB`).
    public let toneGuard: ToneGuard
    private var raw: [Double]
    private let lobeBins = 4               // ±125 Hz: a 20 ms Hann window's main lobe, and a beating pair (440+480 Hz) within it

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
        raw = Array(repeating: 0, count: frameSamples)
        toneGuard = ToneGuard(sampleRate: sampleRate)
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
        toneGuard.reset()
        lastFrameWasTone = false
        averageProbability = 0
        creeping = 0
        previousLevelDB = -100
        levelModulationDB = 0
        for i in recent.indices { recent[i] = 0; recentLevels[i] = -100 }
        sinceJump = 0
        catchingUp = false
        creptUp = false
    }

    /// The level of the last frame in dB relative to full scale.
    public private(set) var levelDB: Double = -100

    /// Speech probability of one 20 ms frame (`frameSamples` samples; a short frame is padded with
    /// silence, extra samples are ignored).
    public func process(_ samples: UnsafeBufferPointer<Int16>) -> Double {
        var energy = 0.0
        let available = min(samples.count, frameSamples)
        frame.withUnsafeMutableBufferPointer { f in
            raw.withUnsafeMutableBufferPointer { r in
                window.withUnsafeBufferPointer { w in
                    for i in 0..<frameSamples {
                        let x = i < available ? Double(samples[i]) / 32768 : 0
                        energy += x * x
                        r[i] = x
                        f[i] = x * w[i]
                    }
                }
            }
            power.withUnsafeMutableBufferPointer { p in fft.powerSpectrum(UnsafeBufferPointer(f), into: p) }
        }
        levelDB = 10 * log10(energy / Double(frameSamples) + 1e-12)
        if guardsTones, frames >= warmupFrames, levelDB >= energyFloorDB {
            lastFrameWasTone = raw.withUnsafeBufferPointer { r in
                power.withUnsafeBufferPointer { p in
                    toneGuard.isTone(r, band: UnsafeBufferPointer(rebasing: p[lowBin...highBin]), lobeBins: lobeBins)
                }
            }
        } else {
            lastFrameWasTone = false
        }
        if lastFrameWasTone {
            // A tone is neither speech nor the line's noise: the estimates wait for it to end.
            smoothedLLR *= llrSmoothing
            return 0
        }
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
                                        if catchingUp, s[b] > nz[b] { nz[b] = catchUpSmoothing * nz[b] + (1 - catchUpSmoothing) * s[b] }  // up only
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
        let probability = 1 / (1 + exp(-llrSlope * (smoothedLLR - llrCenter)))
        averageProbability = 0.95 * averageProbability + 0.05 * probability
        levelModulationDB = 0.9 * levelModulationDB + 0.1 * min(20, abs(levelDB - previousLevelDB))
        previousLevelDB = levelDB
        creeping = creepBand.contains(averageProbability) && levelModulationDB < creepModulation ? creeping + 1 : 0
        var sum = 0.0, levels = 0.0
        for r in recent { sum += r }
        for l in recentLevels { levels += l }
        let rise = levelDB - levels / Double(recentLevels.count)
        creptUp = followsSwells && probability >= 0.5 && sinceJump >= recent.count && sum / Double(recent.count) >= creepOnset && rise < creepRise
        recentLevels[recentIndex] = levelDB
        sinceJump = probability >= 0.5 && !creptUp ? 0 : sinceJump + 1
        recent[recentIndex] = probability
        recentIndex = (recentIndex + 1) % recent.count
        catchingUp = followsSwells && (creptUp || (probability < 0.5 && creeping >= creepFrames))
        return probability
    }
}
