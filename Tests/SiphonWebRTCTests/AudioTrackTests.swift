import Foundation
import Testing
import SiphonAudio
import SiphonRTP
@testable import SiphonWebRTC

/// The agent's outbound Opus stream: what the far end decodes when the agent talks, stops and
/// talks again.
struct AudioTrackTests {
    /// A voiced 20 ms frame at 16 kHz: a 140 Hz voice with harmonics, its loudness swelling.
    static func voice(_ k: Int) -> AudioFrame {
        let samples = (0..<320).map { i -> Int16 in
            let t = Double(k * 320 + i) / 16000
            let v = (1...6).reduce(0.0) { $0 + sin(2 * .pi * 140 * Double($1) * t) / Double($1) }
            return Int16(v * 5000 * (0.6 + 0.4 * sin(2 * .pi * 3 * t)))
        }
        return AudioFrame(sampleRate: 16000, samples: samples)
    }

    static func rms(_ x: ArraySlice<Int16>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, x.count))).squareRoot()
    }

    @Test(arguments: [16000, 48000])
    func theCannedSilencePacketDecodesToSilence(rate: Int) throws {
        let pcm = try OpusDecoder(sampleRate: rate).decode(OpusEncoder.silenceFrame)
        #expect(pcm.count == rate / 50)
        #expect(pcm.allSatisfy { $0 == 0 })
    }

    /// Speech, 800 ms of the agent listening, speech again: the first 200 ms of the pause are
    /// coded (the voice's tail), the rest is the canned packet (no encode), and the second burst
    /// decodes as loud as the first, with no burst of noise where it starts.
    @Test func silenceIsCannedAfterItsTailAndTheNextTalkspurtDecodesWhole() throws {
        let track = try AudioTrack(payloadType: 111, ssrc: 7, pipelineRate: 16000)
        let plan: [AudioFrame?] = (0..<25).map { Self.voice($0) } + Array(repeating: nil, count: 40) + (25..<50).map { Self.voice($0) }
        let payloads = try plan.map { try RTPPacket(parsing: #require(track.packet(for: $0))).payload }
        let pause = payloads[25..<65]
        #expect(pause.prefix(OpusEncoder.codedSilenceFrames).allSatisfy { $0 != OpusEncoder.silenceFrame })
        #expect(pause.dropFirst(OpusEncoder.codedSilenceFrames).allSatisfy { $0 == OpusEncoder.silenceFrame })
        #expect(payloads[65] != OpusEncoder.silenceFrame)

        let decoder = try OpusDecoder(sampleRate: 16000)
        let decoded = try payloads.flatMap { try decoder.decode($0) }
        let frame = 320
        let first = Self.rms(decoded[(5 * frame)..<(25 * frame)]), second = Self.rms(decoded[(70 * frame)..<(90 * frame)])
        #expect(first > 1000 && abs(20 * log10(second / first)) < 1.5, "first \(first), second \(second)")
        #expect(Self.rms(decoded[(40 * frame)..<(65 * frame)]) < 1)
        // The talkspurt's onset: no louder than the voice itself (a decoder fed a stream that jumped would click).
        let onset = decoded[(65 * frame)..<(70 * frame)].map { abs(Int($0)) }.max() ?? 0
        let voicePeak = plan[25...].compactMap { $0 }.flatMap(\.samples).map { abs(Int($0)) }.max() ?? 0
        #expect(onset <= voicePeak * 5 / 4, "onset peak \(onset), the voice's \(voicePeak)")
    }
}
