import SiphonCluster

/// What the agent needs to join a call's LiveKit room: the server, a token for this room only,
/// and who the phone is in it.
public struct LiveKitRoomTicket: Sendable {
    /// The server's WebSocket URL (`ws(s)://…`), for `/rtc`.
    public var url: String
    public var room: String
    /// `roomJoin` for this room, publish/subscribe/data, `kind: agent`.
    public var token: String
    /// The SIP participant's identity (the phone).
    public var callerIdentity: String
}

/// The agent's side of a LiveKit call: joins the room with WebRTC media and runs the conversation
/// until it ends (the agent hangs up, or the phone leaves). The room-media work provides it; until
/// then a LiveKit call is dialled, followed and hung up by the worker with nobody speaking in the
/// room, which is what `LiveKitCallRunner` does when it has none.
public protocol LiveKitRoomAgent: Sendable {
    /// Returns how the conversation ended, or nil when the room closed under it (the runner then
    /// reports the phone's side).
    func converse(_ call: CallContext, ticket: LiveKitRoomTicket, resume: Bool) async throws -> CallEnd?

    /// The same for an outbound call still being dialled: the agent joins now, so that it hears the
    /// callee from the answer on (joining takes a signalling round trip, ICE and DTLS — the first
    /// words said after the answer would be lost); the conversation starts when `answered`
    /// returns true, and the agent leaves, with nil, when it returns false.
    func converse(_ call: CallContext, ticket: LiveKitRoomTicket, answered: @escaping @Sendable () async -> Bool) async throws -> CallEnd?
}
