import SiphonAgent
import SiphonAudio
import SiphonWebRTC

/// The conversation's view of a LiveKit call: the agent's published track for audio, the room
/// (through the call's controls) for digits, transfer and hang-up.
final class WebRTCCallAudio: CallAudio, Sendable {
    let publisher: WebRTCPeer
    let controls: any LiveKitCallControls

    init(publisher: WebRTCPeer, controls: any LiveKitCallControls) {
        (self.publisher, self.controls) = (publisher, controls)
    }

    func enqueue(_ frame: AudioFrame) { publisher.enqueue(frame) }
    func flush() -> Int { publisher.flushOutbound() }
    var queuedFrames: Int { publisher.queuedFrames }
    var sentFrames: Int { publisher.statistics.audioFramesSent }
    func sendDigits(_ digits: String) async { await controls.sendDigits(digits) }
    func transfer(to target: String) async throws -> Int { try await controls.transfer(to: target) }
    func hangup(reason: String) async { await controls.hangup(reason: reason) }
}

/// What a LiveKit call can do besides audio (room data packets, the Twirp API).
protocol LiveKitCallControls: Sendable {
    func sendDigits(_ digits: String) async
    func transfer(to target: String) async throws -> Int
    func hangup(reason: String) async
}
