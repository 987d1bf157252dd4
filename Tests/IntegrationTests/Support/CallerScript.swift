import Foundation
import SiphonAudio
import SiphonOffline

/// A caller's side of a conversation as one WAV: eSpeak NG lines at fixed times, silence between.
enum CallerScript {
    static func wav(_ lines: [(at: Double, text: String)], total: Double, rate: Int = 8000) async throws -> URL {
        let tts = try EspeakTTS(wordsPerMinute: 160)
        var samples = [Int16](repeating: 0, count: Int(total * Double(rate)))
        let down = try Resampler(from: 16000, to: rate)
        for (at, text) in lines {
            var speech: [Int16] = []
            for try await f in try await tts.synthesize(text) { speech += f.samples }
            let narrow = down.process(speech)
            let start = Int(at * Double(rate))
            for (i, s) in narrow.enumerated() where start + i < samples.count { samples[start + i] = s }
        }
        let url = try Repository.temporaryDirectory("caller").appendingPathComponent("caller.wav")
        try WAVFile(sampleRate: rate, samples: samples).write(url.path)
        return url
    }
}
