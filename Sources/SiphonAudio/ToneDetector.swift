import Foundation

/// Finds a single steady tone in the caller's audio: a voicemail's beep (any pitch in 400–2000 Hz,
/// at least 150 ms), or a fax machine's calling tone (CNG: 1100 Hz for half a second).
///
/// Every 20 ms, the last 40 ms are "tonal" when loud enough and one peak in the band holds most of
/// their energy within ±55 Hz (a 40 ms Hann window's main lobe; voice harmonics are at least 80 Hz
/// apart, so a voice always spreads its energy over several peaks and formants, a beep does not).
/// A tone is a run of tonal frames whose peak stays within `frequencyDrift`. Sans-IO: frames in,
/// events out; nothing allocated per frame.
public final class ToneDetector {
    public struct Configuration: Sendable {
        public var band: ClosedRange<Double> = 400...2000
        public var minDurationMs = 150
        /// Share of the energy within ±55 Hz of the peak for a frame to count as a tone.
        public var purity = 0.75
        /// Frames quieter than this (dBFS) are never a tone.
        public var floorDB = -45.0
        /// How far (Hz) the peak may wander within one tone.
        public var frequencyDrift = 45.0
        public init() {}
    }

    public enum Event: Sendable, Equatable {
        /// A tone has lasted `minDurationMs`: `atMs` is when it started.
        case started(frequency: Double, atMs: Int)
        /// The tone ended (`atMs`: when); `isFaxCNG` for 1100 Hz lasting 0.4–0.7 s.
        case ended(frequency: Double, durationMs: Int, atMs: Int, isFaxCNG: Bool)
    }

    public let sampleRate: Int
    public let configuration: Configuration
    private let fft: RealFFT
    private let frameSamples: Int
    private let window: [Double]
    /// The last two frames (40 ms), analysed together.
    private var recent: [Double]
    private var input: [Double]
    private var power: [Double]
    private var elapsedMs = 0
    private var run: (startMs: Int, frames: Int, frequency: Double, sum: Double)?

    public init(sampleRate: Int, configuration: Configuration = Configuration()) {
        self.sampleRate = sampleRate
        self.configuration = configuration
        frameSamples = sampleRate / 50
        let samples = 2 * frameSamples
        fft = RealFFT(size: 1 << Int(log2(Double(samples)).rounded(.up)))  // 15.6 Hz bins at 8 and 16 kHz
        window = (0..<samples).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(samples - 1)) }
        recent = Array(repeating: 0, count: samples)
        input = Array(repeating: 0, count: samples)
        power = Array(repeating: 0, count: fft.n / 2 + 1)
    }

    /// One 20 ms frame (`sampleRate / 50` samples; others are ignored).
    public func process(_ frame: [Int16]) -> Event? {
        guard frame.count == frameSamples else { return nil }
        defer { elapsedMs += 20 }
        let peak = tonalPeak(frame)
        if let f = peak, let r = run, abs(f - r.frequency) <= configuration.frequencyDrift {
            run = (r.startMs, r.frames + 1, r.frequency, r.sum + f)
            if Self.duration(frames: r.frames) < configuration.minDurationMs, Self.duration(frames: r.frames + 1) >= configuration.minDurationMs {
                return .started(frequency: (r.sum + f) / Double(r.frames + 1), atMs: r.startMs)
            }
            return nil
        }
        let ended = finishRun()
        run = peak.map { (elapsedMs, 1, $0, $0) }
        return ended
    }

    /// A tone still sounding when the audio stops.
    public func finish() -> Event? { finishRun() }

    private func finishRun() -> Event? {
        guard let r = run else { return nil }
        run = nil
        let duration = Self.duration(frames: r.frames)
        guard duration >= configuration.minDurationMs else { return nil }
        let f = r.sum / Double(r.frames)
        return .ended(frequency: f, durationMs: duration, atMs: r.startMs + duration,
                      isFaxCNG: abs(f - 1100) <= 40 && (400...700).contains(duration))
    }

    /// A run of tonal frames lasts one frame less than it spans: each analysis reaches 20 ms back.
    static func duration(frames: Int) -> Int { max(0, frames - 1) * 20 }

    /// The frame's peak frequency when the frame is a tone; nil otherwise.
    private func tonalPeak(_ frame: [Int16]) -> Double? {
        for i in 0..<frameSamples {
            recent[i] = recent[i + frameSamples]
            recent[i + frameSamples] = Double(frame[i]) / 32768
        }
        var energy = 0.0
        for i in recent.indices {
            energy += recent[i] * recent[i]
            input[i] = recent[i] * window[i]
        }
        let rms = (energy / Double(recent.count)).squareRoot()
        guard 20 * log10(max(rms, 1e-9)) >= configuration.floorDB else { return nil }
        input.withUnsafeBufferPointer { i in power.withUnsafeMutableBufferPointer { fft.powerSpectrum(i, into: $0) } }
        let binHz = Double(sampleRate) / Double(fft.n)
        var total = 0.0
        for k in 1..<power.count { total += power[k] }
        let low = max(2, Int((configuration.band.lowerBound / binHz).rounded(.down)))
        let high = min(power.count - 2, Int((configuration.band.upperBound / binHz).rounded(.up)))
        guard total > 0, low < high else { return nil }
        var best = low
        for k in low...high where power[k] > power[best] { best = k }
        let lobe = Int((55 / binHz).rounded())
        var around = 0.0
        for k in max(1, best - lobe)...min(power.count - 1, best + lobe) { around += power[k] }
        guard around / total >= configuration.purity else { return nil }
        // The peak between bins (parabolic interpolation on the log power).
        let (a, b, c) = (log(power[best - 1] + 1e-20), log(power[best] + 1e-20), log(power[best + 1] + 1e-20))
        let denominator = a - 2 * b + c
        let offset = denominator == 0 ? 0 : 0.5 * (a - c) / denominator
        let frequency = (Double(best) + max(-0.5, min(0.5, offset))) * binHz
        return configuration.band.contains(frequency) ? frequency : nil
    }
}
