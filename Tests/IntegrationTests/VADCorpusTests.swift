import Foundation
import Testing
import SiphonAudio

/// The VAD on a labelled corpus generated in the test run: espeak-ng speech mixed with sox noise
/// (white, pink, babble) at 20, 10 and 5 dB SNR through 8 kHz μ-law — next to Google's WebRTC VAD
/// scored on the same files in the same run.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct VADCorpusTests {
    /// One corpus for the suite (seed 7; the VAD's constants were tuned on seed 11).
    static let corpus: Result<URL, any Error> = Result {
        let dir = try Repository.temporaryDirectory("vad-corpus")
        try Repository.run(Repository.python, [Repository.root.appendingPathComponent("scripts/vad_corpus.py").path, dir.path, "--seed", "7"])
        return dir
    }

    static func labels(_ dir: URL) throws -> [Bool] {
        try String(contentsOf: dir.appendingPathComponent("labels.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).map { $0 == "1" }
    }

    @Test func atLeastWebRTCVADsF1AtEveryNoiseAndSNR() throws {
        let dir = try Self.corpus.get()
        let labels = try Self.labels(dir)
        let webrtcJSON = try Repository.run(Repository.python, [Repository.root.appendingPathComponent("scripts/vad_webrtc.py").path, dir.path])
        let webrtc = try #require(try JSONSerialization.jsonObject(with: Data(webrtcJSON.utf8)) as? [String: [String: [String: Double]]])
        #expect(webrtc.count == 9)
        var table = "condition      ours P/R/F1             webrtc-2 F1  webrtc-3 F1\n"
        for (name, modes) in webrtc.sorted(by: { $0.key < $1.key }) {
            let wav = try WAVFile.read(dir.appendingPathComponent("\(name).wav").path)
            #expect(wav.sampleRate == 8000)
            let score = VADScore(predicted: VADScore.decisions(wav.samples, detector: VoiceActivityDetector(sampleRate: 8000)), labels: labels)
            let best = max(modes["mode2"]?["f1"] ?? 1, modes["mode3"]?["f1"] ?? 1)
            table += name.padding(toLength: 15, withPad: " ", startingAt: 0)
                + String(format: "%.3f/%.3f/%.3f       %.3f        %.3f\n", score.precision, score.recall, score.f1,
                         modes["mode2"]?["f1"] ?? 0, modes["mode3"]?["f1"] ?? 0)
            #expect(score.f1 >= best, "\(name): F1 \(score.f1) < WebRTC VAD \(best)")
            #expect(score.precision > 0.6 && score.recall > 0.85, "\(name): \(score)")
        }
        print(table)
    }

    @Test func runsAt16kHzToo() throws {
        let dir = try Self.corpus.get()
        let labels = try Self.labels(dir)
        let wav = try WAVFile.read(dir.appendingPathComponent("pink_10dB.wav").path)
        let up = try Resampler(from: 8000, to: 16000).process(wav.samples)
        let score = VADScore(predicted: VADScore.decisions(up, detector: VoiceActivityDetector(sampleRate: 16000)), labels: labels)
        #expect(score.f1 > 0.9, "\(score)")
    }

    @Test func noDTMFInSpeech() throws {
        let dir = try Self.corpus.get()
        for name in ["clean", "babble_20dB", "white_10dB"] {
            let wav = try WAVFile.read(dir.appendingPathComponent("\(name).wav").path)
            let detector = DTMFDetector(sampleRate: 8000)
            var found: [Character] = []
            wav.samples.withUnsafeBufferPointer { all in
                var i = 0
                while i + 160 <= all.count {
                    if let d = detector.process(UnsafeBufferPointer(rebasing: all[i..<i + 160])) { found.append(d) }
                    i += 160
                }
            }
            #expect(found.isEmpty, "\(name): false digits \(String(found))")
        }
    }

    /// `siphon vad run` on a 44.1 kHz recording (a precondition trapped it), and a clear refusal
    /// of a rate the VAD cannot take.
    @Test func theCommandTakesCommonRatesAndRefusesOthersClearly() throws {
        let dir = try Repository.temporaryDirectory("vad-rates")
        let file = dir.appendingPathComponent("cd.wav").path
        let rate = 44100
        var samples = [Int16](repeating: 0, count: rate)
        for i in 0..<rate {  // a second of a 140 Hz voice-like harmonic stack
            let t = Double(i) / Double(rate)
            var x = 0.0
            for h in 1...10 { x += sin(2 * Double.pi * 140 * Double(h) * t) / Double(h) }
            samples.append(Int16(x * 2500))
        }
        samples += [Int16](repeating: 0, count: rate)
        try WAVFile(sampleRate: rate, samples: samples).write(file)
        let (ok, out, err) = try SiphonProcess.run(["vad", "run", "--in", file, "--json"], redis: nil)
        #expect(ok == 0, "\(err)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [Double]])
        let share = try #require(report["speech_ratio"]?.first)
        #expect(share > 0.2 && share < 0.5, "\(out)")
        let low = dir.appendingPathComponent("low.wav").path
        try WAVFile(sampleRate: 4000, samples: [Int16](repeating: 0, count: 4000)).write(low)
        let (bad, _, badErr) = try SiphonProcess.run(["vad", "run", "--in", low], redis: nil)
        #expect(bad == 1 && badErr.contains("4000 Hz audio: the VAD takes 8, 16"), "\(badErr)")
        let (pre, preOut, _) = try SiphonProcess.run(["preflight", "--vad-sample", low, "--skip", "redis", "--skip", "sip", "--skip", "livekit",
                                                      "--skip", "providers", "--skip", "codecs", "--skip", "barge-in", "--skip", "environment",
                                                      "--env-file", ""], redis: nil)
        #expect(pre == 1 && preOut.contains("4000 Hz audio"), "\(preOut)")
    }
}
