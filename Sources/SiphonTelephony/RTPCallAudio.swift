import SiphonCore
import SiphonAgent
import SiphonAudio
import SiphonRTP
import SiphonSIP

/// The conversation's view of a SIP call: RTP for audio and DTMF, the SIP dialog for transfer
/// and hang-up.
final class RTPCallAudio: CallAudio, Sendable {
    let session: RTPSession
    let call: SIPCall
    let trunkHost: String

    init(session: RTPSession, call: SIPCall, trunkHost: String) {
        self.session = session
        self.call = call
        self.trunkHost = trunkHost
    }

    func enqueue(_ frame: AudioFrame) { session.enqueue(frame) }
    func flush() -> Int { session.flushOutbound() }
    var queuedFrames: Int { session.queuedFrames }
    var sentFrames: Int { session.audioFramesSent }
    func sendDigits(_ digits: String) async { session.sendDigits(digits) }

    /// `target`: a SIP URI, or an E.164 number dialled through the call's trunk.
    func transfer(to target: String) async throws -> Int {
        let uri: SIPURI
        if target.hasPrefix("sip:") || target.hasPrefix("sips:") {
            uri = try SIPURI(target)
        } else {
            uri = SIPURI(user: try PhoneNumber(target).e164, host: trunkHost)
        }
        return try await call.transfer(to: uri)
    }

    func hangup(reason: String) async { await call.hangup(reason: reason) }
}
