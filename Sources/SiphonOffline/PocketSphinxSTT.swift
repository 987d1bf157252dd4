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
    static let modelDirectory = "/usr/share/pocketsphinx/model/en-us"

    /// - Parameter phrases: what callers are expected to say; every word must be in the CMU dictionary.
    public init(phrases: [String] = []) throws {
        guard FileManager.default.fileExists(atPath: Self.modelDirectory + "/en-us") else {
            throw SiphonError(.configuration, "PocketSphinx model not found in \(Self.modelDirectory) (install pocketsphinx-en-us)")
        }
        self.phrases = phrases.map(Self.normalize).filter { !$0.isEmpty }
        if self.phrases.isEmpty {
            grammarPath = nil
        } else {
            let dictionary = try Self.dictionaryWords()
            for phrase in self.phrases {
                for word in phrase.split(separator: " ") where !dictionary.contains(String(word)) {
                    throw SiphonError(.configuration, "stt.phrases: '\(word)' (in \"\(phrase)\") is not in the PocketSphinx dictionary")
                }
            }
            let jsgf = "#JSGF V1.0;\ngrammar siphon;\npublic <utterance> = " + self.phrases.joined(separator: " | ") + ";\n"
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-grammar-\(UUID().uuidString).gram").path
            try jsgf.write(toFile: path, atomically: true, encoding: .utf8)
            grammarPath = path
        }
    }

    public func open() async throws -> any STTStream {
        let dir = Self.modelDirectory
        guard let decoder = siphon_ps_create(dir + "/en-us", dir + "/cmudict-en-us.dict", dir + "/en-us.lm.bin", grammarPath) else {
            throw SiphonError(.unavailable, "PocketSphinx failed to start")
        }
        return PocketSphinxStream(decoder: decoder)
    }

    /// Lower case, letters, digits, apostrophes and single spaces.
    static func normalize(_ s: String) -> String {
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
    private var closed = false

    init(decoder: OpaquePointer) {
        self.decoder = decoder
        (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
    }

    deinit { ps_free(decoder) }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        guard !closed else { return }
        if !inUtterance {
            prefix.append(frame)
            if prefix.count > 15 { prefix.removeFirst() }  // 300 ms of padding
            guard speech else { return }
            ps_start_utt(decoder)
            inUtterance = true
            silence = 0
            for f in prefix { process(f) }
            prefix = []
            return
        }
        process(frame)
        silence = speech ? 0 : silence + 1
        if silence >= 25 { endUtterance() }  // the VAD normally ends it first (flush)
    }

    func flush() async throws { if inUtterance { endUtterance() } }

    func close() async {
        if inUtterance { endUtterance() }
        closed = true
        sink.finish()
    }

    private var noisy: [Int16] = []
    private var seed: UInt64 = 0x2545F4914F6CDD1D

    /// Decodes a frame with a −50 dBFS noise floor added. Phone audio (G.711, upsampled) has no
    /// energy above 4 kHz, and those empty filter bands throw the wideband acoustic model off
    /// completely (0 of 7 test phrases recognised); with the floor it recognises them all.
    private func process(_ frame: AudioFrame) {
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
        ps_end_utt(decoder)
        var score: Int32 = 0
        if let hyp = ps_get_hyp(decoder, &score) {
            let text = String(cString: hyp).trimmingCharacters(in: .whitespaces)
            if !text.isEmpty { sink.yield(Transcript(text: text, isFinal: true)) }
        }
    }
}
