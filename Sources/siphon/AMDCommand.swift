import ArgumentParser
import Foundation
import SiphonAudio
import SiphonCore

/// `siphon amd eval`: answering-machine detection on a labelled corpus (Tests/Peers/amd_corpus.py),
/// to set beside Asterisk's app_amd on the same clips (Tests/Peers/app_amd.py).
struct AMDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amd", abstract: "Answering-machine detection tools.", subcommands: [Eval.self])

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval", abstract: "Classify each clip of a labelled corpus: confusion matrix, accuracy, decision times.")
        @Option(help: "Corpus directory (labels.json and its WAV files).") var corpus: String
        @Option(help: "Speech before a pause that makes a recorded greeting, ms.") var longGreeting = AnswerClassifier.Configuration().longGreetingMs
        @Option(help: "Pause after a short greeting that makes a person, ms.") var afterGreetingSilence = AnswerClassifier.Configuration().afterGreetingSilenceMs
        @Flag(help: "JSON output.") var json = false

        /// What each corpus label should come out as, while words are not used (screeners and IVR
        /// menus sound like recorded greetings).
        static let expected: [String: AnswerClassifier.Kind] = ["human": .human, "machine": .machine, "screener": .machine,
                                                                  "ivr": .machine, "fax": .fax, "silence": .silence]

        func run() async throws {
            let labels = try await reporting { () -> [[String: Any]] in
                guard let data = FileManager.default.contents(atPath: corpus + "/labels.json"),
                      let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                    throw SiphonError.invalid("\(corpus)/labels.json is missing or not a list")
                }
                return list
            }
            var matrix: [String: [String: Int]] = [:]
            var times: [String: [Int]] = [:]
            var right = 0
            for item in labels {
                guard let file = item["file"] as? String, let label = item["label"] as? String else { continue }
                let wav = try await reporting { try WAVFile.read(corpus + "/" + file) }
                var c = AnswerClassifier.Configuration()
                c.longGreetingMs = longGreeting
                c.afterGreetingSilenceMs = afterGreetingSilence
                let classifier = AnswerClassifier(sampleRate: wav.sampleRate, configuration: c)
                let frame = wav.sampleRate / 50
                var decision: AnswerClassifier.Decision?
                for start in stride(from: 0, to: wav.samples.count - frame + 1, by: frame) where decision == nil {
                    decision = classifier.process(Array(wav.samples[start..<start + frame]))
                }
                let kind = decision?.kind.rawValue ?? "undecided"
                matrix[label, default: [:]][kind, default: 0] += 1
                times[label, default: []].append(decision?.atMs ?? wav.samples.count * 1000 / wav.sampleRate)
                if Self.expected[label]?.rawValue == kind { right += 1 }
            }
            let percentile = { (v: [Int], p: Double) -> Int in let s = v.sorted(); return s.isEmpty ? 0 : s[Int(p * Double(s.count - 1))] }
            if json {
                printJSON(["accuracy": [Double(right) / Double(max(1, labels.count))],
                           "median_ms": times.keys.sorted().map { Double(percentile(times[$0]!, 0.5)) }])
                return
            }
            print("Siphon AMD (cadence and tones) on \(corpus)")
            for label in matrix.keys.sorted() {
                let row = matrix[label]!.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "  ")
                print("  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) \(row)   decided in \(percentile(times[label]!, 0.5)) ms median, \(percentile(times[label]!, 0.95)) p95")
            }
            print(String(format: "  accuracy %.1f %% of %d (screeners and IVR counted right as machine)", 100 * Double(right) / Double(max(1, labels.count)), labels.count))
        }
    }
}
