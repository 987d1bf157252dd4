import ArgumentParser
import Foundation
import SiphonAudio
import SiphonCore
import SiphonOffline

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
        @Option(help: "The same pause after a bare \"hello\" (with --words), ms.") var afterBareAnswerSilence = AnswerClassifier.Configuration().afterBareAnswerSilenceMs
        @Option(help: "The same pause after a business's opening (\"thank you for calling\", with --words), ms.") var afterBusinessOpeningSilence = AnswerClassifier.Configuration().afterBusinessOpeningSilenceMs
        @Flag(help: "Words too, from a recogniser stand-in: each clip's text (labels.json), spoken evenly over its speech_ms (each of its parts over its own), given as a final 300 ms after each speech segment ends with the words said by then — a recogniser that hears every word, as a cloud one may on a clean line.")
        var words = false
        @Option(help: "With --words, the stand-in's delay after a segment ends, ms.") var wordsDelay = 300
        @Flag(help: "With --words, a streaming recogniser: interim results every 200 ms while the far end speaks, 240 ms behind its speech, as well as the finals.")
        var interims = false
        @Option(help: "Words from a real recogniser instead of the stand-in: pocketsphinx (Siphon's offline one, its generic model; finals only, --words-delay after each speech segment).")
        var recogniser: String?
        @Flag(help: "One line per clip.") var verbose = false
        @Flag(help: "JSON output.") var json = false

        /// `--json`: the figures, keyed as `Tests/Peers/app_amd.py --json` keys its own.
        struct Report: Encodable {
            struct Spread: Encodable { var median: Int, p95: Int }
            var accuracy: Double
            /// Humans decided human and machines machine, of both (what app_amd is scored on).
            var accuracyHumanMachine: Double
            var matrix: [String: [String: Int]]
            var decisionMs: [String: Spread]
            /// Humans decided human: from the end of their speech to the decision.
            var humanAfterSpeechMs: Spread?
            /// When the humans stopped speaking (median, from the answer).
            var humanStoppedMs: Int?
            /// Decided a person (by cadence, or by a phrase while the far end spoke), then taken back
            /// by the words (the agent had begun its greeting, or was waiting for the pause to).
            var takenBack: Int
            /// Each human clip decided human: when (ms from the answer), by file.
            var humanDecisionsMs: [String: Int]
            enum CodingKeys: String, CodingKey {
                case accuracy, matrix, accuracyHumanMachine = "accuracy_human_machine", decisionMs = "decision_ms"
                case humanAfterSpeechMs = "human_after_speech_ms", humanStoppedMs = "human_stopped_ms", takenBack = "taken_back"
                case humanDecisionsMs = "human_decisions_ms"
            }
        }

        /// What each corpus label should come out as. Without words, screeners and IVR menus sound
        /// like recorded greetings and count right as machines.
        func expected(_ label: String) -> String {
            hasWords || !["screener", "ivr"].contains(label) ? label : "machine"
        }

        /// Words from the stand-in or from a recogniser.
        var hasWords: Bool { words || recogniser != nil }

        func validate() throws {
            guard recogniser == nil || recogniser == "pocketsphinx" else { throw ValidationError("--recogniser: pocketsphinx") }
            guard recogniser == nil || !words else { throw ValidationError("--words is the stand-in; --recogniser replaces it") }
        }

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
            var takenBack = 0
            var humanDecisions: [String: Int] = [:]
            /// Humans decided human: from the end of their speech (the label's `speech_ms`) to the
            /// decision (negative: while they were still talking); all humans: when they stopped.
            var afterSpeech: [Int] = []
            var stoppedAt: [Int] = []
            let stt = try await reporting { try recogniser.map { _ in try PocketSphinxSTT() } }
            for item in labels {
                guard let file = item["file"] as? String, let label = item["label"] as? String else { continue }
                let wav = try await reporting { try WAVFile.read(corpus + "/" + file) }
                let said = (item["speech_ms"] as? [Int]).flatMap { $0.count == 2 ? (start: $0[0], end: $0[1]) : nil }
                if words, said == nil, item["text"] as? String != nil {
                    throw ValidationError("\(file) has no speech_ms in labels.json: generate the corpus again (Tests/Peers/amd_corpus.py)")
                }
                var c = AnswerClassifier.Configuration()
                c.longGreetingMs = longGreeting
                c.afterGreetingSilenceMs = afterGreetingSilence
                c.afterBareAnswerSilenceMs = afterBareAnswerSilence
                c.afterBusinessOpeningSilenceMs = afterBusinessOpeningSilence
                let classifier = AnswerClassifier(sampleRate: wav.sampleRate, configuration: c)
                let frame = wav.sampleRate / 50
                let transcripts = if let stt {
                    try await AMDRecogniserWords.transcripts(wav, stt: stt, delayFrames: wordsDelay / 20)
                } else if words, let said {
                    Self.wordsStandIn(wav, parts: Self.parts(item, said: said), delayFrames: wordsDelay / 20, interims: interims)
                } else {
                    [Int: (text: String, isFinal: Bool)]()
                }
                var decision: AnswerClassifier.Decision?
                var greetingOver = false
                // As a call's gate: after a "long greeting", the greeting's words may revise the
                // decision until the greeting ends (its beep, or 1.5 s of silence); after a person,
                // while the classifier watches (`isWatching`).
                for (n, start) in stride(from: 0, to: wav.samples.count - frame + 1, by: frame).enumerated() {
                    let samples = Array(wav.samples[start..<start + frame])
                    if decision == nil {
                        if let t = transcripts[n] { decision = classifier.heard(t.text, isFinal: t.isFinal) }
                        if decision == nil { decision = classifier.process(samples) }
                    } else if classifier.isWatching {
                        // Words only a recording says may still revise it.
                        if let t = transcripts[n] { classifier.heard(t.text, isFinal: t.isFinal) }
                        classifier.process(samples)
                    } else if decision?.cause == "long greeting", !greetingOver, classifier.revision == nil {
                        if let t = transcripts[n] { classifier.heard(t.text, isFinal: t.isFinal) }
                        greetingOver = classifier.followGreeting(samples, silenceMs: 1500) != nil
                    } else {
                        break
                    }
                }
                if let first = decision, [.human, .silence].contains(first.kind), classifier.revision != nil { takenBack += 1 }
                decision = classifier.revision ?? decision
                let kind = decision?.kind.rawValue ?? "undecided"
                matrix[label, default: [:]][kind, default: 0] += 1
                times[label, default: []].append(decision?.atMs ?? wav.samples.count * 1000 / wav.sampleRate)
                if label == "human", let said {
                    stoppedAt.append(said.end)
                    if let d = decision, d.kind == .human {
                        afterSpeech.append(d.atMs - said.end)
                        humanDecisions[file] = d.atMs
                    }
                }
                if expected(label) == kind { right += 1 }
                if verbose {
                    print("\(expected(label) == kind ? " " : "✗") \(file) \(kind) at \(decision?.atMs ?? -1) ms (\(decision?.cause ?? "")) heard \"\(classifier.words)\"")
                }
            }
            let percentile = { (v: [Int], p: Double) -> Int in let s = v.sorted(); return s.isEmpty ? 0 : s[Int(p * Double(s.count - 1))] }
            if json {
                let humanMachine = ["human", "machine"].map { l in (matrix[l]?[l] ?? 0, matrix[l]?.values.reduce(0, +) ?? 0) }
                printJSON(Report(
                    accuracy: Double(right) / Double(max(1, labels.count)),
                    accuracyHumanMachine: Double(humanMachine.map(\.0).reduce(0, +)) / Double(max(1, humanMachine.map(\.1).reduce(0, +))),
                    matrix: matrix,
                    decisionMs: times.mapValues { Report.Spread(median: percentile($0, 0.5), p95: percentile($0, 0.95)) },
                    humanAfterSpeechMs: afterSpeech.isEmpty ? nil : Report.Spread(median: percentile(afterSpeech, 0.5), p95: percentile(afterSpeech, 0.95)),
                    humanStoppedMs: stoppedAt.isEmpty ? nil : percentile(stoppedAt, 0.5), takenBack: takenBack, humanDecisionsMs: humanDecisions))
                return
            }
            let source = recogniser.map { ", words from \($0)" } ?? (words ? ", words from the recogniser stand-in" : "")
            print("Siphon AMD (cadence and tones\(source)) on \(corpus)")
            for label in matrix.keys.sorted() {
                let row = matrix[label]!.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "  ")
                print("  \(label.padding(toLength: 9, withPad: " ", startingAt: 0)) \(row)   decided in \(percentile(times[label]!, 0.5)) ms median, \(percentile(times[label]!, 0.95)) p95")
            }
            if !afterSpeech.isEmpty {
                print("  humans decided \(percentile(afterSpeech, 0.5)) ms median (\(percentile(afterSpeech, 0.95)) p95) after they stopped speaking (negative: before), which was \(percentile(stoppedAt, 0.5)) ms median after the answer")
            }
            if takenBack > 0 { print("  \(takenBack) decided a person, then taken back by their words (the agent had begun its greeting or was about to)") }
            print(String(format: "  accuracy %.1f %% of %d%@", 100 * Double(right) / Double(max(1, labels.count)), labels.count,
                         hasWords ? "" : " (screeners and IVR counted right as machine)"))
        }

        /// What a clip says and when: its `parts` (a sentence, a pause, the rest), or its whole `text`
        /// over its `speech_ms`.
        static func parts(_ item: [String: Any], said: (start: Int, end: Int)) -> [(words: [Substring], start: Int, end: Int)] {
            let listed = (item["parts"] as? [[String: Any]] ?? []).compactMap { part -> (words: [Substring], start: Int, end: Int)? in
                guard let text = part["text"] as? String, let ms = part["speech_ms"] as? [Int], ms.count == 2 else { return nil }
                return (AnswerPhrases.normalize(text).split(separator: " "), ms[0], ms[1])
            }
            return listed.isEmpty ? [(AnswerPhrases.normalize(item["text"] as? String ?? "").split(separator: " "), said.start, said.end)] : listed
        }

        /// The recogniser stand-in's transcripts, by frame, from the clip's text spoken evenly over
        /// `said` (ms): a final `delayFrames` after each speech segment ends (as the VAD cuts it)
        /// with the words said by then, and after the speech itself ends; with `interims`, every
        /// 10th frame while it is said an interim with the words since the last final, 12 frames
        /// (240 ms) behind the speech.
        static func wordsStandIn(_ wav: WAVFile, parts: [(words: [Substring], start: Int, end: Int)], delayFrames: Int,
                                 interims: Bool = false) -> [Int: (text: String, isFinal: Bool)] {
            let all = parts.flatMap(\.words)
            guard !all.isEmpty, let said = parts.first.map({ (start: $0.start, end: parts.last!.end) }) else { return [:] }
            let vad = VoiceActivityDetector(sampleRate: wav.sampleRate)
            let frame = wav.sampleRate / 50
            let hangover = Int((VADConfiguration().minSilenceDuration * 50).rounded())
            /// Words said by the end of frame `n`: each part's spoken evenly over its own time.
            let wordsBy = { (n: Int) -> Int in
                let ms = (n + 1) * 20
                return parts.reduce(0) { sum, part in
                    guard ms > part.start else { return sum }
                    return sum + min(part.words.count, Int((Double(part.words.count) * Double(ms - part.start) / Double(max(1, part.end - part.start))).rounded()))
                }
            }
            var finalsAt: [Int: Int] = [said.end / 20 + hangover + delayFrames: all.count]
            for (n, start) in stride(from: 0, to: wav.samples.count - frame + 1, by: frame).enumerated() {
                if wav.samples[start..<start + frame].withUnsafeBufferPointer({ vad.process($0) }).event == .speechEnded {
                    finalsAt[n + delayFrames] = max(finalsAt[n + delayFrames] ?? 0, wordsBy(n - hangover))
                }
            }
            var out: [Int: (text: String, isFinal: Bool)] = [:]
            var given = 0
            for n in 0..<(wav.samples.count / frame) {
                if let upTo = finalsAt[n] {
                    if upTo > given { out[n] = (all[given..<upTo].joined(separator: " "), true) }
                    given = max(given, upTo)
                } else if interims, n % 10 == 0, n * 20 >= said.start, n * 20 <= said.end + 240 {
                    let upTo = wordsBy(n - 12)
                    if upTo > given { out[n] = (all[given..<upTo].joined(separator: " "), false) }
                }
            }
            return out
        }
    }
}
