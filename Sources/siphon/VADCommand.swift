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

        func configuration() throws -> VADConfiguration {
            let c = VADConfiguration(activationThreshold: activation, deactivationThreshold: deactivation,
                                     minSpeechDuration: minSpeech, minSilenceDuration: minSilence)
            if let problem = try c.validate().first { throw ValidationError(problem) }
            return c
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Print speech segments of a WAV file (8 or 16 kHz).")
        @Option(name: .customLong("in"), help: "WAV file (PCM16, μ-law or A-law).") var input: String
        @OptionGroup var knobs: Knobs
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let config = try knobs.configuration()
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
            if json { printJSON(results); return }
            for (name, s) in results.sorted(by: { $0.key < $1.key }) {
                print(String(format: "%-14@ precision %.3f  recall %.3f  F1 %.3f", name as NSString, s.precision, s.recall, s.f1))
            }
        }
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
