import LiveKitProtocol
import SiphonWebRTC

/// The `/rtc` requests a participant of Siphon's sends, built in one place.
enum SignalRequest {
    /// Announces a microphone audio track (`cid` is the client's id for it until the server
    /// answers with the track's sid).
    static func addAudioTrack(cid: String, name: String) -> Livekit_SignalRequest {
        var add = Livekit_AddTrackRequest()
        add.cid = cid
        add.name = name
        add.type = .audio
        add.source = .microphone
        var request = Livekit_SignalRequest()
        request.addTrack = add
        return request
    }

    /// The publisher connection's offer.
    static func offer(_ description: WebRTCSessionDescription) -> Livekit_SignalRequest {
        var sd = Livekit_SessionDescription()
        sd.type = "offer"
        sd.sdp = description.description
        var request = Livekit_SignalRequest()
        request.offer = sd
        return request
    }

    /// The answer to the server's subscriber offer `id`.
    static func answer(_ description: WebRTCSessionDescription, id: UInt32) -> Livekit_SignalRequest {
        var sd = Livekit_SessionDescription()
        sd.type = "answer"
        sd.sdp = description.description
        sd.id = id
        var request = Livekit_SignalRequest()
        request.answer = sd
        return request
    }

    /// A candidate gathered after the description went out.
    static func trickle(_ candidate: ICECandidate, target: Livekit_SignalTarget) -> Livekit_SignalRequest {
        var t = Livekit_TrickleRequest()
        t.target = target
        t.candidateInit = CandidateInit.json(candidate)
        var request = Livekit_SignalRequest()
        request.trickle = t
        return request
    }
}
