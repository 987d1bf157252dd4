import Foundation
import Testing
import SiphonAudio
@testable import SiphonRTP

/// A SIP call negotiated with Opus: the agent's silence, as on WebRTC, is coded for its tail and
/// then sent as the canned frame, and speech after it is coded again.
struct OpusMediaCodecTests {
    @Test func silenceIsCannedAfterItsTailAndSpeechIsCodedAgain() throws {
        let codec = try OpusMediaCodec(sampleRate: 16000)
        let voice = (0..<320).map { Int16(6000 * sin(Double($0) * 0.11)) }
        _ = try codec.encode(voice)
        let pause = (0..<30).map { _ in codec.silence() }
        #expect(pause.prefix(OpusEncoder.codedSilenceFrames).allSatisfy { $0 != OpusEncoder.silenceFrame })
        #expect(pause.dropFirst(OpusEncoder.codedSilenceFrames).allSatisfy { $0 == OpusEncoder.silenceFrame })
        #expect(try codec.encode(voice) != OpusEncoder.silenceFrame)
        // The count starts over after speech: the next pause's tail is coded again.
        #expect(codec.silence() != OpusEncoder.silenceFrame)
    }
}
