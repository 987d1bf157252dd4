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
