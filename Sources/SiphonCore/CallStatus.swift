/// Where a call is in its life. Terminal statuses end the call and free the worker's slot.
public enum CallStatus: String, Sendable, Codable, CaseIterable {
    case queued, claimed, dialing, ringing, active
    case ended, failed, noAnswer = "no_answer", busy, canceled, rejected

    public var isTerminal: Bool {
        switch self {
        case .queued, .claimed, .dialing, .ringing, .active: false
        case .ended, .failed, .noAnswer, .busy, .canceled, .rejected: true
        }
    }

    public static var terminal: [CallStatus] { allCases.filter(\.isTerminal) }
}

/// How a call's media reaches the phone network.
public enum Transport: String, Sendable, Codable, CaseIterable {
    /// The worker is the SIP user agent towards the trunk (direct RTP).
    case sip
    /// LiveKit SIP dials; the worker joins the LiveKit room.
    case livekit
    /// Synthetic turns in-process: tests, benchmarks, chaos runs.
    case sim
    /// A browser (or any WebRTC client) talks to the agent directly: its offer and the worker's
    /// answer pass through Redis; no phone number, no LiveKit.
    case webrtc
}
