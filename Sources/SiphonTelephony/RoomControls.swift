import SiphonCluster
import SiphonLiveKit

/// Digits, transfer and hang-up for a LiveKit call.
struct RoomControls: LiveKitCallControls {
    let session: RoomSession
    let call: CallContext

    func sendDigits(_ digits: String) async { session.publishDTMF(digits) }

    func transfer(to target: String) async throws -> Int {
        var request = TransferSIPParticipantRequest(participantIdentity: session.ticket.callerIdentity, roomName: session.ticket.room,
                                                    transferTo: target.hasPrefix("sip:") || target.hasPrefix("tel:") ? target : "tel:\(target)")
        request.playDialtone = false
        _ = try await session.api.transferSIPParticipant(request)
        return 200
    }

    func hangup(reason: String) async {
        // The runner deletes the room when the conversation ends; nothing to do here.
    }
}
