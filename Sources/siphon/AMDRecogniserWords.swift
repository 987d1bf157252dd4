import SiphonAudio
import SiphonOffline

/// `siphon amd eval --recogniser pocketsphinx`: the words of a real recogniser instead of the
/// stand-in's — Siphon's offline one (PocketSphinx, its generic US-English model: no phrase list,
/// nothing told about the corpus) — with its misheard and missing words. Each speech segment the
/// VAD cuts is decoded as a call's recogniser decodes it (the audio at 16 kHz, from 300 ms before
/// the segment to its end), and its words are a final `delayFrames` after the segment ends, when
/// a call would have them. Finals only, as the offline recogniser gives.
enum AMDRecogniserWords {
    static func transcripts(_ wav: WAVFile, stt: PocketSphinxSTT, delayFrames: Int) async throws -> [Int: (text: String, isFinal: Bool)] {
        let frame = wav.sampleRate / 50
        let frames = stride(from: 0, to: wav.samples.count - frame + 1, by: frame).map { Array(wav.samples[$0..<$0 + frame]) }
        let vad = VoiceActivityDetector(sampleRate: wav.sampleRate)
        var segments: [(start: Int, end: Int)] = []
        var start: Int?
        for (n, f) in frames.enumerated() {
            switch vad.process(f).event {
            case .speechStarted(let prefix)?: start = max(0, n - prefix)
            case .speechEnded?:
                if let s = start { segments.append((s, n)) }
                start = nil
            case nil: break
            }
        }
        if let s = start { segments.append((s, frames.count - 1)) }
        var out: [Int: (text: String, isFinal: Bool)] = [:]
        for segment in segments {
            let upsample = try Resampler(from: wav.sampleRate, to: stt.sampleRate)
            let from = max(0, segment.start - 15)
            let audio = (from...segment.end).map { AudioFrame(sampleRate: stt.sampleRate, samples: upsample.process(frames[$0])) }
            let text = try await stt.transcribe(audio, speechFrom: segment.start - from)
            if !text.isEmpty { out[segment.end + delayFrames] = (text, true) }
        }
        return out
    }
}
