import Foundation
import Testing
import SiphonAgent
import SiphonAudio
@testable import SiphonOffline

/// The offline engines on real audio: eSpeak NG speech recognised by PocketSphinx.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct OfflineEngineTests {
    static let phrases = [
        "I would like to book a cleaning", "Tuesday please", "In the morning", "Thursday afternoon",
        "No that is all thank you", "Yes please", "What are your opening hours",
    ]

    func speak(_ text: String, tts: EspeakTTS) async throws -> [AudioFrame] {
        var frames: [AudioFrame] = []
        for try await f in try await tts.synthesize(text) { frames.append(f) }
        return frames
    }

    /// Feeds frames (with the VAD deciding `speech`) and returns the final transcripts.
    func recognise(_ frames: [AudioFrame], stt: PocketSphinxSTT) async throws -> [String] {
        let stream = try await stt.open()
        let vad = VoiceActivityDetector(sampleRate: 16000)
        let silence = [AudioFrame](repeating: .silence(sampleRate: 16000), count: 25)
        for f in silence + frames + silence {
            let d = vad.process(f.samples)
            try await stream.send(f, speech: d.isSpeech)
            if d.event == .speechEnded { try await stream.flush() }
        }
        await stream.close()
        var out: [String] = []
        for try await t in stream.transcripts where t.isFinal { out.append(t.text) }
        return out
    }

    /// A worker's calls share one recogniser's decoders, and a call holds one only while its caller
    /// speaks: twelve calls in silence make none; twelve callers speaking one after another reuse
    /// one; three at once need three; when nobody speaks every decoder is idle, at most `maxIdle`
    /// are kept, and releasing frees them all. The dictionary is trimmed to the phrases' words.
    @Test func decodersAreSharedAndHeldOnlyWhileACallerSpeaks() async throws {
        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        let dictionary = try #require(stt.pool.files.written?.dictionary).split(separator: "\n")
        let words = Set(Self.phrases.flatMap { PocketSphinxSTT.normalize($0).split(separator: " ") })
        #expect(dictionary.count >= words.count && dictionary.count <= 3 * words.count, "\(dictionary.count) lines for \(words.count) words")
        let speech = try await speak("Tuesday please", tts: try EspeakTTS())
        let vad = VoiceActivityDetector(sampleRate: 16000)
        let labelled = ([AudioFrame](repeating: .silence(sampleRate: 16000), count: 25) + speech + [AudioFrame](repeating: .silence(sampleRate: 16000), count: 30))
            .map { ($0, vad.process($0.samples).isSpeech) }
        var streams: [PocketSphinxStream] = []
        for _ in 0..<12 { streams.append(try #require(try await stt.open() as? PocketSphinxStream)) }
        for s in streams { for _ in 0..<30 { try await s.send(.silence(sampleRate: 16000), speech: false) } }
        for s in streams { await s.settle() }
        #expect(stt.decoders.created == 0)
        for s in streams {
            for (f, speaking) in labelled { try await s.send(f, speech: speaking) }
            await s.settle()
        }
        #expect(stt.decoders.created == 1, "\(stt.decoders)")
        // Three callers at once, frame by frame: all three have started speaking (each lane has
        // taken the frames) before any stops, however busy the lanes are.
        let started = try #require(labelled.firstIndex { $0.1 }) + 5
        for (f, speaking) in labelled[..<started] { for s in streams.prefix(3) { try await s.send(f, speech: speaking) } }
        for s in streams.prefix(3) { await s.settle() }
        #expect(stt.decoders.created == 3 && stt.decoders.idle == 0, "\(stt.decoders)")
        for (f, speaking) in labelled[started...] { for s in streams.prefix(3) { try await s.send(f, speech: speaking) } }
        for s in streams { await s.settle() }
        let counts = stt.decoders
        #expect(counts.created == 3 && counts.live == counts.idle && counts.idle <= stt.pool.maxIdle, "\(counts)")
        var heard: [String] = []
        for s in streams {
            await s.close()
            for try await t in s.transcripts where t.isFinal { heard.append(t.text) }
        }
        #expect(heard.filter { $0 == "tuesday please" }.count == 15, "\(heard)")
        stt.releaseIdleDecoders()
        #expect(stt.decoders.live == 0 && stt.decoders.freed == stt.decoders.created, "\(stt.decoders)")
        // A recogniser dropped (its worker stopping) takes its decoders with it.
        weak var dropped: PocketSphinxDecoderPool?
        do {
            let other = try PocketSphinxSTT(phrases: ["Yes please"])
            dropped = other.pool
            let s = try await other.open()
            for (f, speaking) in labelled { try await s.send(f, speech: speaking) }
            await s.close()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(dropped == nil)
    }

    /// A line said again (a greeting, each call) is rendered once and then reused.
    @Test func fixedLinesAreRenderedOncePerWorker() async throws {
        let tts = try EspeakTTS()
        let line = "Welcome to clinic number \(Int.random(in: 1000...9999))."
        #expect(!EspeakEngine.shared.isCached(line, voice: "en-us", rate: 165, pitch: 50, sampleRate: 16000))
        let before = EspeakEngine.shared.renders
        let first = try await speak(line, tts: tts)
        #expect(EspeakEngine.shared.isCached(line, voice: "en-us", rate: 165, pitch: 50, sampleRate: 16000))
        for _ in 0..<9 { #expect(try await speak(line, tts: tts) == first) }
        #expect(EspeakEngine.shared.renders.reused - before.reused >= 9)
        // Another voice setting is another rendering.
        let faster = try await speak(line, tts: try EspeakTTS(wordsPerMinute: 200))
        #expect(faster.count < first.count)
    }

    @Test func espeakSpeaksAtThePipelineRate() async throws {
        let tts = try EspeakTTS()
        let frames = try await speak("Thank you for calling Bright Smile Dental.", tts: tts)
        #expect(frames.count > 50 && frames.count < 300)  // 1–6 s
        #expect(frames.allSatisfy { $0.sampleRate == 16000 && $0.samples.count == 320 })
        let level = frames.map(\.levelDB).max() ?? -100
        #expect(level > -30)
        #expect(throws: (any Error).self) { try EspeakTTS(voice: "no-such-voice") }
    }

    @Test func pocketsphinxRecognisesEspeakWithAGrammar() async throws {
        let tts = try EspeakTTS()
        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        var correct = 0
        for phrase in Self.phrases {
            let heard = try await recognise(try await speak(phrase, tts: tts), stt: stt)
            if heard.joined(separator: " ") == PocketSphinxSTT.normalize(phrase) { correct += 1 }
        }
        #expect(correct >= Self.phrases.count - 1, "\(correct)/\(Self.phrases.count) phrases recognised")
    }

    /// `transcribe` (offline evaluation) decodes an utterance whole however fast it is handed over:
    /// 12 s of it, more than a stream queues before it drops frames (10 s), the phrase at its end.
    @Test func aWholeUtteranceIsTranscribedWithNoFrameDropped() async throws {
        let tts = try EspeakTTS()
        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        let padding = [AudioFrame](repeating: .silence(sampleRate: 16000), count: 550)
        let heard = try await stt.transcribe(padding + (try await speak("Tuesday please", tts: tts)), speechFrom: 15)
        #expect(heard == "tuesday please")
    }

    /// A phrase list's grammar and dictionary are files only while a decoder is made: a worker that
    /// is killed leaves none behind in the temporary directory (they once stayed for the process).
    @Test func aPhraseListLeavesNoFileBehind() async throws {
        let stt = try PocketSphinxSTT(phrases: ["zebra crossing please", "Tuesday please"])
        let heard = try await stt.transcribe(try await speak("Tuesday please", tts: try EspeakTTS()), speechFrom: 0)
        #expect(heard == "tuesday please" && stt.decoders.created == 1)
        let tmp = FileManager.default.temporaryDirectory
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix("siphon-ps-") }.filter { name in
            (try? String(contentsOf: tmp.appendingPathComponent(name), encoding: .utf8))?.contains("zebra") == true
        }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func recognisesThroughOpusAt16kHz() async throws {
        let tts = try EspeakTTS()
        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        let enc = try OpusEncoder(sampleRate: 16000)
        let dec = try OpusDecoder(sampleRate: 16000)
        var correct = 0
        for phrase in Self.phrases {
            let frames = try await speak(phrase, tts: tts).map { f in AudioFrame(sampleRate: 16000, samples: try dec.decode(try enc.encode(f.samples))) }
            let heard = try await recognise(frames, stt: stt).joined(separator: " ")
            if heard == PocketSphinxSTT.normalize(phrase) { correct += 1 } else { print("Opus miss: \(phrase) -> \(heard)") }
        }
        #expect(correct >= Self.phrases.count - 1, "\(correct)/\(Self.phrases.count) through Opus")
    }

    @Test func phrasesMustBeInTheDictionary() {
        #expect(throws: (any Error).self) { try PocketSphinxSTT(phrases: ["book a flurbleglorp"]) }
    }
}

extension OfflineEngineTests {
    @Test func recognisesThroughG711Too() async throws {
        let tts = try EspeakTTS()
        let stt = try PocketSphinxSTT(phrases: Self.phrases)
        var correct = 0
        for phrase in Self.phrases {
            let down = try Resampler(from: 16000, to: 8000), up = try Resampler(from: 8000, to: 16000)
            let frames = try await speak(phrase, tts: tts).map { f in
                AudioFrame(sampleRate: 16000, samples: up.process(down.process(f.samples).map { G711.ulawDecode(G711.ulawEncode($0)) }))
            }
            let heard = try await recognise(frames, stt: stt).joined(separator: " ")
            if heard == PocketSphinxSTT.normalize(phrase) { correct += 1 } else { print("G711 miss: \(phrase) -> \(heard)") }
        }
        #expect(correct >= Self.phrases.count - 1, "\(correct)/\(Self.phrases.count) through G.711")
    }
}
