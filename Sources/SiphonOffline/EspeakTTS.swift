import CEspeakNG
import Dispatch
import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore

/// Offline text-to-speech with eSpeak NG (libespeak-ng): no key, no network, robotic but clear.
///
/// eSpeak keeps global state, so every synthesis runs on one serial dispatch queue (never on the
/// cooperative pool: a sentence takes a few milliseconds of CPU), resampled there from eSpeak's
/// 22.05 kHz to the pipeline rate. What was said recently is kept (`EspeakEngine`): an agent's
/// fixed lines — greeting, resume line, fallback — are rendered once per worker, not per call, so
/// a hundred calls starting do not queue a hundred greetings.
public struct EspeakTTS: TextToSpeech {
    public let name = "espeak-ng"
    public let sampleRate: Int
    public var voice: String
    public var wordsPerMinute: Int
    public var pitch: Int

    public init(voice: String = "en-us", wordsPerMinute: Int = 165, pitch: Int = 50, sampleRate: Int = 16000) throws {
        self.voice = voice
        self.wordsPerMinute = wordsPerMinute
        self.pitch = pitch
        self.sampleRate = sampleRate
        try EspeakEngine.shared.check(voice: voice)
    }

    public func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let resampled = try await EspeakEngine.shared.synthesize(text, voice: voice, rate: wordsPerMinute, pitch: pitch, sampleRate: sampleRate)
        let n = sampleRate / 50
        return AsyncThrowingStream { c in
            var i = 0
            while i < resampled.count {
                var f = Array(resampled[i..<min(resampled.count, i + n)])
                if f.count < n { f += [Int16](repeating: 0, count: n - f.count) }
                c.yield(AudioFrame(sampleRate: sampleRate, samples: f))
                i += n
            }
            c.finish()
        }
    }
}

/// The process-wide eSpeak NG instance.
final class EspeakEngine: @unchecked Sendable {
    // All state below is touched on `queue` only.
    static let shared = EspeakEngine()
    let queue = DispatchQueue(label: "siphon.espeak")
    private(set) var nativeRate = 22050
    private var initialized = false
    private var collected: [Int16] = []
    /// Rendered lines by voice, rate, pitch, output rate and text, oldest first; at most
    /// `cacheSamples` samples in all (8 MB).
    private var cache: [String: [Int16]] = [:]
    private var cacheOrder: [String] = []
    private var cachedSamples = 0
    static let cacheSamples = 4_000_000
    /// Syntheses done and answered from the cache (for tests and metrics).
    private(set) var rendered = 0
    private(set) var reused = 0

    private func initialize() throws {
        guard !initialized else { return }
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, 0)
        guard rate > 0 else { throw SiphonError(.unavailable, "eSpeak NG failed to initialise (is espeak-ng-data installed?)") }
        nativeRate = Int(rate)
        espeak_SetSynthCallback { wav, count, events in
            guard let wav, count > 0, let engine = events?.pointee.user_data else { return 0 }
            let target = Unmanaged<EspeakEngine>.fromOpaque(engine).takeUnretainedValue()
            target.collected.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
            return 0
        }
        initialized = true
    }

    func check(voice: String) throws {
        try queue.sync {
            try initialize()
            guard espeak_SetVoiceByName(voice) == EE_OK else { throw SiphonError(.configuration, "eSpeak NG has no voice '\(voice)'") }
        }
    }

    /// `text` spoken at `sampleRate`: from the cache, or rendered and resampled on the queue.
    func synthesize(_ text: String, voice: String, rate: Int, pitch: Int, sampleRate: Int) async throws -> [Int16] {
        let key = "\(voice)|\(rate)|\(pitch)|\(sampleRate)|\(text)"
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result {
                    if let hit = self.cache[key] {
                        self.reused += 1
                        return hit
                    }
                    let pcm = try Resampler(from: self.nativeRateAfterInit(), to: sampleRate)
                        .process(try self.render(text, voice: voice, rate: rate, pitch: pitch))
                    self.rendered += 1
                    if text.utf8.count <= 400 { self.remember(key, pcm) }
                    return pcm
                })
            }
        }
    }

    /// Whether that line is kept rendered (tests).
    func isCached(_ text: String, voice: String, rate: Int, pitch: Int, sampleRate: Int) -> Bool {
        queue.sync { cache["\(voice)|\(rate)|\(pitch)|\(sampleRate)|\(text)"] != nil }
    }

    /// Counts of renders and cache answers (read on the queue).
    var renders: (rendered: Int, reused: Int) { queue.sync { (rendered, reused) } }

    private func nativeRateAfterInit() throws -> Int {
        try initialize()
        return nativeRate
    }

    private func remember(_ key: String, _ pcm: [Int16]) {
        guard pcm.count < Self.cacheSamples / 4 else { return }
        cache[key] = pcm
        cacheOrder.append(key)
        cachedSamples += pcm.count
        while cachedSamples > Self.cacheSamples, !cacheOrder.isEmpty {
            let old = cacheOrder.removeFirst()
            cachedSamples -= cache.removeValue(forKey: old)?.count ?? 0
        }
    }

    /// One synthesis at eSpeak's own rate. On the queue.
    private func render(_ text: String, voice: String, rate: Int, pitch: Int) throws -> [Int16] {
        try initialize()
        guard espeak_SetVoiceByName(voice) == EE_OK else { throw SiphonError(.configuration, "eSpeak NG has no voice '\(voice)'") }
        espeak_SetParameter(espeakRATE, Int32(rate), 0)
        espeak_SetParameter(espeakPITCH, Int32(pitch), 0)
        collected = []
        let me = Unmanaged.passUnretained(self).toOpaque()
        let status = text.withCString { p in
            espeak_Synth(p, strlen(p) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, me)
        }
        guard status == EE_OK else { throw SiphonError(.internal, "eSpeak NG synthesis failed (\(status))") }
        espeak_Synchronize()
        return collected
    }
}
