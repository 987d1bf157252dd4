import CPocketSphinx
import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import Synchronization

/// Offline speech recognition with CMU PocketSphinx (libpocketsphinx + pocketsphinx-en-us).
///
/// With a phrase list it decodes against a JSGF grammar of those phrases — accurate for a scripted
/// dialogue — with a dictionary trimmed to the phrases' words (a decoder then loads in ~10 ms and
/// takes ~6 MB instead of ~120 ms and ~28 MB); without one it uses the generic US-English language
/// model and the whole dictionary (much weaker: fine for a demo, not for production). Decoders are
/// pooled per recogniser and held by a call only while its caller speaks; all PocketSphinx work runs
/// on engine lanes, never on Swift's cooperative pool. Utterances are cut by the conversation's VAD:
/// decoding starts with 300 ms of padding before speech and ends when the VAD says the caller stopped.
public struct PocketSphinxSTT: SpeechToText {
    public let name = "pocketsphinx"
    public let sampleRate = 16000
    public let phrases: [String]
    let pool: PocketSphinxDecoderPool
    static let modelDirectory = "/usr/share/pocketsphinx/model/en-us"

    /// - Parameter phrases: what callers are expected to say; every word must be in the CMU dictionary.
    public init(phrases: [String] = []) throws {
        guard FileManager.default.fileExists(atPath: Self.modelDirectory + "/en-us") else {
            throw SiphonError(.configuration, "PocketSphinx model not found in \(Self.modelDirectory) (install pocketsphinx-en-us)")
        }
        self.phrases = phrases.map(Self.normalize).filter { !$0.isEmpty }
        let dir = Self.modelDirectory
        var files = PocketSphinxDecoderPool.Files(model: dir + "/en-us", dictionary: dir + "/cmudict-en-us.dict", languageModel: dir + "/en-us.lm.bin")
        if !self.phrases.isEmpty {
            let dictionary = try Self.dictionary()
            var lines: [String] = []
            for word in Set(self.phrases.flatMap { $0.split(separator: " ").map(String.init) }).sorted() {
                guard let pronunciations = dictionary[word] else {
                    let phrase = self.phrases.first { $0.split(separator: " ").contains(Substring(word)) } ?? ""
                    throw SiphonError(.configuration, "stt.phrases: '\(word)' (in \"\(phrase)\") is not in the PocketSphinx dictionary")
                }
                lines += pronunciations
            }
            let jsgf = "#JSGF V1.0;\ngrammar siphon;\npublic <utterance> = " + self.phrases.joined(separator: " | ") + ";\n"
            // The second pass, for utterances the strict grammar cannot end in (a clipped last
            // word): phrases still far likelier, plus a loop of the phrases' content words so the
            // search ends somewhere; `snap` maps the result back to the nearest phrase.
            let words = Set(self.phrases.flatMap { $0.split(separator: " ").map(String.init) }.filter { $0.count >= 4 }).sorted()
            files.looseGrammar = words.isEmpty ? nil : "#JSGF V1.0;\ngrammar loose;\n<word> = " + words.joined(separator: " | ") + ";\n"
                + "public <utterance> = /100/ (" + self.phrases.joined(separator: " | ") + ") | /1/ <word>+;\n"
            files.written = (jsgf, lines.joined(separator: "\n") + "\n")
        }
        pool = PocketSphinxDecoderPool(files: files)
    }

    public func open() async throws -> any STTStream { stream() }

    private func stream() -> PocketSphinxStream {
        PocketSphinxStream(pool: pool, lane: EngineLanes.shared.assign(), phrases: phrases, hasLoose: pool.files.looseGrammar != nil)
    }

    /// One utterance decoded whole, as a call's stream decodes it (`frames` at `sampleRate`; those
    /// before `speechFrom` are the padding before the VAD's start): its final words, for offline
    /// evaluation (`siphon amd eval --recogniser`). Paced so that no frame is dropped.
    public func transcribe(_ frames: [AudioFrame], speechFrom: Int) async throws -> String {
        let stream = stream()
        for (n, frame) in frames.enumerated() {
            try await stream.send(frame, speech: n >= speechFrom)
            if n % 200 == 199 { await stream.settle() }
        }
        await stream.close()
        var words: [String] = []
        for try await t in stream.transcripts where t.isFinal { words.append(t.text) }
        return words.joined(separator: " ")
    }

    /// Decoders of this recogniser: made, alive, idle, freed (shared by every call using it).
    public var decoders: (created: Int, live: Int, idle: Int, freed: Int) { pool.counts }

    /// Frees the idle decoders (a worker stopping).
    public func releaseIdleDecoders() { pool.drain() }

    /// Lower case, letters, digits, apostrophes and single spaces.
    public static func normalize(_ s: String) -> String {
        let kept = s.lowercased().map { c -> Character in c.isLetter || c.isNumber || c == "'" ? c : " " }
        return String(kept).split(separator: " ").joined(separator: " ")
    }

    /// The CMU dictionary, word → its pronunciation lines ("word(2)" alternates included), read
    /// once per process (agents are built at start-up, never on a call's path).
    static func dictionary() throws -> [String: [String]] {
        try cmudict.get()
    }

    private static let cmudict: Result<[String: [String]], any Error> = Result {
        let text = try String(contentsOfFile: modelDirectory + "/cmudict-en-us.dict", encoding: .utf8)
        var words: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            guard let head = line.split(separator: " ", maxSplits: 1).first else { continue }
            words[String(head.split(separator: "(").first ?? head), default: []].append(String(line))
        }
        return words
    }
}

/// One call's recogniser. `send`, `flush` and `close` return at once (close after the work queued
/// before it): the utterance logic and every PocketSphinx call run in order on the stream's engine
/// lane. A decoder is taken from the pool when the caller starts speaking and given back when the
/// utterance is decoded.
final class PocketSphinxStream: STTStream, @unchecked Sendable {
    // Everything mutable is touched on `lane.queue` only; `backlog` is atomic.
    private let pool: PocketSphinxDecoderPool
    private let lane: EngineLanes.Lane
    /// The decoder taken for the current utterance.
    private var held: PocketSphinxDecoderPool.Decoder?
    private var decoder: OpaquePointer? { held?.pointer }
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
    /// Frames queued on the lane and not yet handled: past this (10 s behind) frames are dropped
    /// rather than queued without bound.
    static let maxBacklog = 500
    private let backlog = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    private var closed = false
    private let phrases: [String]
    private let hasLoose: Bool
    /// The current utterance's audio, kept for the second pass.
    private var utterance: [AudioFrame] = []

    init(pool: PocketSphinxDecoderPool, lane: EngineLanes.Lane, phrases: [String], hasLoose: Bool) {
        (self.pool, self.lane, self.phrases, self.hasLoose) = (pool, lane, phrases, hasLoose)
        (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
    }

    deinit {
        if let held { pool.give(held) }
        if !closed { lane.release() }
    }

    /// Returns once everything queued before it has been handled (tests).
    func settle() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in lane.queue.async { done.resume() } }
    }

    /// Frames the lane was too far behind to take.
    var framesDropped: Int { dropped.load(ordering: .relaxed) }

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        guard backlog.add(1, ordering: .relaxed).newValue <= Self.maxBacklog else {
            backlog.subtract(1, ordering: .relaxed)
            dropped.add(1, ordering: .relaxed)
            return
        }
        lane.queue.async { [self] in
            backlog.subtract(1, ordering: .relaxed)
            handle(frame, speech: speech)
        }
    }

    /// The caller stopped: decode a short tail, then produce the final transcript.
    func flush() async throws {
        lane.queue.async { [self] in if inUtterance, tail == nil { tail = Self.tailFrames } }
    }

    func close() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            lane.queue.async { [self] in
                if !closed {
                    if inUtterance { endUtterance() }
                    closed = true
                    lane.release()
                    sink.finish()
                }
                done.resume()
            }
        }
    }

    private func handle(_ frame: AudioFrame, speech: Bool) {
        guard !closed else { return }
        if !inUtterance {
            prefix.append(frame)
            if prefix.count > Self.prefixFrames { prefix.removeFirst() }
            guard speech else { return }
            do {
                held = try pool.take()
            } catch {
                closed = true
                lane.release()
                sink.finish(throwing: error)
                return
            }
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
        if let held { pool.give(held) }
        held = nil
        if !text.isEmpty { sink.yield(Transcript(text: text, isFinal: true)) }
    }

    private func hypothesis() -> String {
        var score: Int32 = 0
        guard let hyp = ps_get_hyp(decoder, &score) else { return "" }
        return String(cString: hyp).trimmingCharacters(in: .whitespaces)
    }
}
