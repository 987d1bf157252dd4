import ArgumentParser
import Foundation
import SiphonAudio
import SiphonCore

struct VADCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vad", abstract: "Run the voice activity detector on audio (calibration, evaluation).",
        subcommands: [Run.self, Eval.self])

    struct Knobs: ParsableArguments {
        @Option(help: "Activation threshold (0…1).") var activation: Double = VADConfiguration().activationThreshold
        @Option(help: "Deactivation threshold (0…1, hysteresis).") var deactivation: Double = VADConfiguration().deactivationThreshold
        @Option(help: "Minimum speech duration, seconds.") var minSpeech: Double = VADConfiguration().minSpeechDuration
        @Option(help: "Minimum silence duration, seconds.") var minSilence: Double = VADConfiguration().minSilenceDuration
        @Flag(help: "Without the tone guard (tones count as speech, as before it).") var noToneGuard = false
        @Flag(help: "Without following noise swells (the noise floor as before).") var noSwellFollowing = false

        func configuration() throws -> VADConfiguration {
            let c = VADConfiguration(activationThreshold: activation, deactivationThreshold: deactivation,
                                     minSpeechDuration: minSpeech, minSilenceDuration: minSilence,
                                     toneGuard: !noToneGuard, followNoiseSwells: !noSwellFollowing)
            if let problem = try c.validate().first { throw ValidationError(problem) }
            return c
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Print speech segments of a WAV file (8 or 16 kHz).")
        @Option(name: .customLong("in"), help: "WAV file (PCM16, μ-law or A-law).") var input: String
        @OptionGroup var knobs: Knobs
        @Flag(help: "JSON output.") var json = false
        @Flag(help: "Print every 20 ms frame: time, level, speech probability, state, and whether it was a tone.") var frames = false

        func run() async throws {
            let config = try knobs.configuration()
            if frames { try printFrames(config); return }
            let (wav, detector) = try await reporting { () -> (WAVFile, VoiceActivityDetector) in
                let wav = try WAVFile.read(input)
                return (wav, try VoiceActivityDetector.make(sampleRate: wav.sampleRate, configuration: config))
            }
            let states = VADScore.decisions(wav.samples, detector: detector)
            var segments: [[Double]] = []
            var start: Int?
            for (i, s) in states.enumerated() {
                if s, start == nil { start = i }
                if !s, let b = start { segments.append([Double(b) * 0.02, Double(i) * 0.02]); start = nil }
            }
            if let b = start { segments.append([Double(b) * 0.02, Double(states.count) * 0.02]) }
            if json {
                printJSON(["speech_ratio": [Double(states.filter { $0 }.count) / Double(max(1, states.count))], "segments": segments.flatMap { $0 }])
            } else {
                for s in segments { print(String(format: "speech %7.2f – %7.2f s", s[0], s[1])) }
                print(String(format: "%d segments, %.0f%% of %.1f s", segments.count, 100 * Double(states.filter { $0 }.count) / Double(max(1, states.count)), wav.duration))
            }
        }

        private func printFrames(_ config: VADConfiguration) throws {
            let wav = try WAVFile.read(input)
            let detector = try VoiceActivityDetector.make(sampleRate: wav.sampleRate, configuration: config)
            let n = detector.frameSamples
            wav.samples.withUnsafeBufferPointer { all in
                var i = 0
                while i + n <= all.count {
                    let d = detector.process(UnsafeBufferPointer(rebasing: all[i..<i + n]))
                    let e = detector.estimator
                    print(String(format: "%8.2f %7.1f dB  p %.3f  modulation %4.1f dB  purity %.2f  gain %4.1f dB  %@%@", Double(i / n) * 0.02, e.levelDB, d.probability, e.levelModulationDB,
                                 e.toneGuard.purity, e.toneGuard.predictionGainDB, d.isSpeech ? "speech" : "      ", e.lastFrameWasTone ? "  tone" : ""))
                    i += n
                }
            }
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval", abstract: "Score the VAD on a labelled corpus (scripts/vad_corpus.py): precision, recall, F1 per file.")
        @Option(help: "Corpus directory (labels.txt and *_NNdB.wav).") var corpus: String
        @OptionGroup var knobs: Knobs
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let config = try knobs.configuration()
            let results = try await reporting { try VADCommand.evaluate(corpus: corpus, configuration: config) }
            let hard = try await reporting { try VADCommand.evaluateHardCases(corpus: corpus, configuration: config) }
            if json {
                var out: [String: [String: Double]] = results.mapValues { ["precision": $0.precision, "recall": $0.recall, "f1": $0.f1, "frames": Double($0.frames)] }
                if let hard { out["tones"] = ["flagged": hard.toneFramesFlagged, "f1": hard.tonesF1]; out["swell"] = ["starts_per_minute": hard.swellStartsPerMinute] }
                printJSON(out)
                return
            }
            for (name, s) in results.sorted(by: { $0.key < $1.key }) {
                print(String(format: "%-14@ precision %.3f  recall %.3f  F1 %.3f", name as NSString, s.precision, s.recall, s.f1))
            }
            if let hard {
                print(String(format: "tones          %.1f%% of tone frames flagged as speech, speech F1 %.3f", 100 * hard.toneFramesFlagged, hard.tonesF1))
                print(String(format: "swell          %.1f false speech starts a minute", hard.swellStartsPerMinute))
            }
        }
    }

    /// The hard cases `scripts/vad_hard_corpus.py` adds to a corpus: tones between utterances, swelling noise.
    struct HardCases {
        var toneFramesFlagged: Double
        var tonesF1: Double
        var swellStartsPerMinute: Double
    }

    /// Nil when the corpus has no hard cases.
    static func evaluateHardCases(corpus: String, configuration: VADConfiguration) throws -> HardCases? {
        let fm = FileManager.default
        guard fm.fileExists(atPath: corpus + "/tones.wav"), fm.fileExists(atPath: corpus + "/swell.wav") else { return nil }
        func marks(_ file: String) throws -> [Bool] {
            try String(contentsOfFile: corpus + "/" + file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines).map { $0 == "1" }
        }
        let labels = try marks("labels.txt"), toneMask = try marks("tones.txt")
        let tones = try WAVFile.read(corpus + "/tones.wav")
        let states = VADScore.decisions(tones.samples, detector: try VoiceActivityDetector.make(sampleRate: tones.sampleRate, configuration: configuration))
        let toneFrames = zip(states, toneMask).filter { $0.1 }
        let swell = try WAVFile.read(corpus + "/swell.wav")
        let swellStates = VADScore.decisions(swell.samples, detector: try VoiceActivityDetector.make(sampleRate: swell.sampleRate, configuration: configuration))
        let starts = zip(swellStates.dropFirst(), swellStates).filter { $0.0 && !$0.1 }.count + (swellStates.first == true ? 1 : 0)
        return HardCases(toneFramesFlagged: Double(toneFrames.filter { $0.0 }.count) / Double(max(1, toneFrames.count)),
                         tonesF1: VADScore(predicted: states, labels: labels).f1,
                         swellStartsPerMinute: Double(starts) / max(1e-9, swell.duration / 60))
    }

    static func evaluate(corpus: String, configuration: VADConfiguration) throws -> [String: VADScore] {
        let labelText = try String(contentsOfFile: corpus + "/labels.txt", encoding: .utf8)
        let labels = labelText.trimmingCharacters(in: .whitespacesAndNewlines).map { $0 == "1" }
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix("dB.wav") }.sorted()
        var out: [String: VADScore] = [:]
        for f in files {
            let wav = try WAVFile.read(corpus + "/" + f)
            let detector: VoiceActivityDetector
            do {
                detector = try VoiceActivityDetector.make(sampleRate: wav.sampleRate, configuration: configuration)
            } catch let e as SiphonError {
                throw SiphonError(e.code, "\(f): \(e.message)")
            }
            out[String(f.dropLast(4))] = VADScore(predicted: VADScore.decisions(wav.samples, detector: detector), labels: labels)
        }
        return out
    }
}
