import CPocketSphinx
import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore

/// Offline speech recognition with CMU PocketSphinx (libpocketsphinx + pocketsphinx-en-us).
///
/// With a phrase list it decodes against a JSGF grammar of those phrases — accurate for a scripted
/// dialogue; without one it uses the generic US-English language model (much weaker: fine for a
/// demo, not for production). Utterances are cut by the conversation's VAD: decoding starts with
/// 300 ms of padding before speech and ends when the VAD says the caller stopped.
public struct PocketSphinxSTT: SpeechToText {
    public let name = "pocketsphinx"
    public let sampleRate = 16000
    public let phrases: [String]
    private let grammarPath: String?
    private let looseGrammar: String?
    static let modelDirectory = "/usr/share/pocketsphinx/model/en-us"

    /// - Parameter phrases: what callers are expected to say; every word must be in the CMU dictionary.
    public init(phrases: [String] = []) throws {
        guard FileManager.default.fileExists(atPath: Self.modelDirectory + "/en-us") else {
            throw SiphonError(.configuration, "PocketSphinx model not found in \(Self.modelDirectory) (install pocketsphinx-en-us)")
        }
        self.phrases = phrases.map(Self.normalize).filter { !$0.isEmpty }
        if self.phrases.isEmpty {
            grammarPath = nil
            looseGrammar = nil
        } else {
            let dictionary = try Self.dictionaryWords()
            for phrase in self.phrases {
                for word in phrase.split(separator: " ") where !dictionary.contains(String(word)) {
                    throw SiphonError(.configuration, "stt.phrases: '\(word)' (in \"\(phrase)\") is not in the PocketSphinx dictionary")
                }
            }
            let jsgf = "#JSGF V1.0;\ngrammar siphon;\npublic <utterance> = " + self.phrases.joined(separator: " | ") + ";\n"
            // The second pass, for utterances the strict grammar cannot end in (a clipped last
            // word): phrases still far likelier, plus a loop of the phrases' content words so the
            // search ends somewhere; `snap` maps the result back to the nearest phrase.
            let words = Set(self.phrases.flatMap { $0.split(separator: " ").map(String.init) }.filter { $0.count >= 4 }).sorted()
            looseGrammar = words.isEmpty ? nil : "#JSGF V1.0;\ngrammar loose;\n<word> = " + words.joined(separator: " | ") + ";\n"
                + "public <utterance> = /100/ (" + self.phrases.joined(separator: " | ") + ") | /1/ <word>+;\n"
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-grammar-\(UUID().uuidString).gram").path
            try jsgf.write(toFile: path, atomically: true, encoding: .utf8)
            grammarPath = path
        }
    }

    public func open() async throws -> any STTStream {
        let dir = Self.modelDirectory
        guard let decoder = siphon_ps_create(dir + "/en-us", dir + "/cmudict-en-us.dict", dir + "/en-us.lm.bin", grammarPath, "batch") else {
            throw SiphonError(.unavailable, "PocketSphinx failed to start")
        }
        if let loose = looseGrammar, ps_set_jsgf_string(decoder, "loose", loose) != 0 {
            ps_free(decoder)
            throw SiphonError(.internal, "PocketSphinx rejected the fallback grammar")
        }
        return PocketSphinxStream(decoder: decoder, phrases: phrases, hasLoose: looseGrammar != nil)
    }

    /// Lower case, letters, digits, apostrophes and single spaces.
    public static func normalize(_ s: String) -> String {
        let kept = s.lowercased().map { c -> Character in c.isLetter || c.isNumber || c == "'" ? c : " " }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    static func dictionaryWords() throws -> Set<String> {
        let text = try String(contentsOfFile: modelDirectory + "/cmudict-en-us.dict", encoding: .utf8)
        var words = Set<String>()
        for line in text.split(separator: "\n") {
            guard let word = line.split(separator: " ", maxSplits: 1).first else { continue }
            words.insert(String(word.split(separator: "(").first ?? word))
        }
        return words
    }
}

/// One call's decoder. Used from the conversation's task only (send/flush are sequential).
final class PocketSphinxStream: STTStream, @unchecked Sendable {
    private let decoder: OpaquePointer
    let transcripts: AsyncThrowingStream<Transcript, any Error>
    private let sink: AsyncThrowingStream<Transcript, any Error>.Continuation
    private var prefix: [AudioFrame] = []
    private var inUtterance = false
    private var silence = 0
    /// Frames still to decode after the VAD said the caller stopped: word endings are quiet, and a
    /// grammar search cut before the last phoneme finds no phrase at all.
    private var tail: Int?
    static let tailFrames = 8
    /// 300 ms of audio before the VAD's speech start.
    static let prefixFrames = 15
    private var closed = false
    private let phrases: [String]
    private let hasLoose: Bool
    /// The current utterance's audio, kept for the second pass.
    private var utterance: [AudioFrame] = []

    init(decoder: OpaquePointer, phrases: [String], hasLoose: Bool) {
        self.decoder = decoder
        self.phrases = phrases
        self.hasLoose = hasLoose
        (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
    }

    deinit { ps_free(decoder) }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        guard !closed else { return }
        if !inUtterance {
            prefix.append(frame)
            if prefix.count > Self.prefixFrames { prefix.removeFirst() }
            guard speech else { return }
            ps_start_utt(decoder)
            inUtterance = true
            silence = 0
            utterance = []
            for f in prefix { process(f) }
            prefix = []
            return
        }
        process(frame)
        silence = speech ? 0 : silence + 1
        if speech { tail = nil }
        if let t = tail {
            if t <= 1 { endUtterance() } else { tail = t - 1 }
        } else if silence >= 25 {
            endUtterance()  // the VAD normally ends it first (flush)
        }
    }

    /// The caller stopped: decode a short tail, then produce the final transcript.
    func flush() async throws { if inUtterance, tail == nil { tail = Self.tailFrames } }

    func close() async {
        if inUtterance { endUtterance() }
        closed = true
        sink.finish()
    }

    /// The phrase sharing most words with what was heard (at least half of both), else the words.
    static func snap(_ heard: String, to phrases: [String]) -> String {
        guard !phrases.isEmpty, !phrases.contains(heard) else { return heard }
        let h = Set(heard.split(separator: " "))
        var best: (String, Double)?
        for p in phrases {
            let w = Set(p.split(separator: " "))
            let common = Double(h.intersection(w).count)
            let score = min(common / Double(w.count), common / Double(max(1, h.count)))
            if score >= 0.5, score > (best?.1 ?? 0) { best = (p, score) }
        }
        return best?.0 ?? heard
    }

    private var noisy: [Int16] = []
    private var seed: UInt64 = 0x2545F4914F6CDD1D

    /// Decodes a frame with a −50 dBFS noise floor added. Phone audio (G.711, upsampled) has no
    /// energy above 4 kHz, and those empty filter bands throw the wideband acoustic model off
    /// completely (0 of 7 test phrases recognised); with the floor it recognises them all.
    private func process(_ frame: AudioFrame, keep: Bool = true) {
        if keep, utterance.count < 750 { utterance.append(frame) }  // at most 15 s
        noisy.removeAll(keepingCapacity: true)
        for s in frame.samples {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = Int32(truncatingIfNeeded: Int64(bitPattern: seed >> 33) % 201) - 100
            noisy.append(Int16(clamping: Int32(s) + n))
        }
        _ = noisy.withUnsafeBufferPointer { ps_process_raw(decoder, $0.baseAddress, $0.count, 0, 0) }
    }

    private func endUtterance() {
        inUtterance = false
        tail = nil
        ps_end_utt(decoder)
        var text = hypothesis()
        if text.isEmpty, hasLoose, !utterance.isEmpty {
            // Second pass over the same audio with the lenient grammar.
            ps_set_search(decoder, "loose")
            ps_start_utt(decoder)
            for f in utterance { process(f, keep: false) }
            ps_end_utt(decoder)
            text = Self.snap(hypothesis(), to: phrases)
            ps_set_search(decoder, "_default")
        }
        utterance = []
        if !text.isEmpty { sink.yield(Transcript(text: text, isFinal: true)) }
    }

    private func hypothesis() -> String {
        var score: Int32 = 0
        guard let hyp = ps_get_hyp(decoder, &score) else { return "" }
        return String(cString: hyp).trimmingCharacters(in: .whitespaces)
    }
}
