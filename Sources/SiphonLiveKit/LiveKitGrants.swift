/// The `video` claim of a LiveKit token (camelCase on the wire, as livekit/protocol `auth/grants.go`).
/// Only the permissions that are set are written: an absent `can*` means "all" to the server, so
/// Siphon always sets them explicitly when it mints a participant token.
public struct VideoGrant: Codable, Sendable, Equatable {
    public var roomCreate: Bool?
    public var roomList: Bool?
    public var roomRecord: Bool?
    public var roomAdmin: Bool?
    public var roomJoin: Bool?
    public var room: String?
    public var canPublish: Bool?
    public var canSubscribe: Bool?
    public var canPublishData: Bool?
    public var canPublishSources: [String]?
    public var canUpdateOwnMetadata: Bool?
    public var ingressAdmin: Bool?
    public var hidden: Bool?
    public var recorder: Bool?
    public var agent: Bool?
    public var canSubscribeMetrics: Bool?
    public var canManageAgentSession: Bool?
    public var destinationRoom: String?

    public init(roomCreate: Bool? = nil, roomList: Bool? = nil, roomAdmin: Bool? = nil, roomJoin: Bool? = nil, room: String? = nil,
                canPublish: Bool? = nil, canSubscribe: Bool? = nil, canPublishData: Bool? = nil, agent: Bool? = nil, hidden: Bool? = nil) {
        (self.roomCreate, self.roomList, self.roomAdmin, self.roomJoin, self.room) = (roomCreate, roomList, roomAdmin, roomJoin, room)
        (self.canPublish, self.canSubscribe, self.canPublishData, self.agent, self.hidden) = (canPublish, canSubscribe, canPublishData, agent, hidden)
    }
}

/// The `sip` claim: `admin` manages trunks and dispatch rules, `call` places and transfers calls.
public struct SIPGrant: Codable, Sendable, Equatable {
    public var admin: Bool?
    public var call: Bool?

    public init(admin: Bool? = nil, call: Bool? = nil) { (self.admin, self.call) = (admin, call) }
}

/// The claims of a LiveKit access token besides the registered ones.
public struct LiveKitClaims: Codable, Sendable, Equatable {
    public var name: String?
    public var metadata: String?
    /// Participant kind, lower case as the server writes it: `standard`, `agent`, `sip`, …
    public var kind: String?
    public var attributes: [String: String]?
    public var video: VideoGrant?
    public var sip: SIPGrant?
    public var sha256: String?
    public var roomPreset: String?

    public init(name: String? = nil, metadata: String? = nil, kind: String? = nil, attributes: [String: String]? = nil,
                video: VideoGrant? = nil, sip: SIPGrant? = nil) {
        (self.name, self.metadata, self.kind, self.attributes, self.video, self.sip) = (name, metadata, kind, attributes, video, sip)
    }
}
