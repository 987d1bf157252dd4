// Messages of `livekit.RoomService` and `livekit.AgentDispatchService` (livekit/protocol
// `livekit_room.proto`, `livekit_models.proto`, `livekit_agent_dispatch.proto`).

public struct CreateRoomRequest: Codable, Sendable, Equatable {
    public var name: String
    /// Seconds an empty room lives before the server closes it.
    public var emptyTimeout: Int?
    /// Seconds the room lives after the last participant left.
    public var departureTimeout: Int?
    public var maxParticipants: Int?
    public var metadata: String?
    public var agents: [RoomAgentDispatch]?

    enum CodingKeys: String, CodingKey {
        case name, emptyTimeout = "empty_timeout", departureTimeout = "departure_timeout", maxParticipants = "max_participants", metadata, agents
    }

    public init(name: String, emptyTimeout: Int? = nil, departureTimeout: Int? = nil, maxParticipants: Int? = nil, metadata: String? = nil,
                agents: [RoomAgentDispatch]? = nil) {
        (self.name, self.emptyTimeout, self.departureTimeout, self.maxParticipants, self.metadata, self.agents) =
            (name, emptyTimeout, departureTimeout, maxParticipants, metadata, agents)
    }
}

public struct Room: Codable, Sendable, Equatable {
    public var sid: String?
    public var name: String?
    public var metadata: String?
    public var numParticipants: Int?
    var creationTime: ProtoInt64?
    enum CodingKeys: String, CodingKey { case sid, name, metadata, numParticipants = "num_participants", creationTime = "creation_time" }

    public var createdAt: Int64? { creationTime?.value }
}

struct ListRoomsRequest: Codable, Sendable { var names: [String]? }
struct ListRoomsResponse: Codable, Sendable { var rooms: [Room]? }

struct DeleteRoomRequest: Codable, Sendable { var room: String }
struct Empty: Codable, Sendable {}

struct ListParticipantsRequest: Codable, Sendable { var room: String }
struct ListParticipantsResponse: Codable, Sendable { var participants: [ParticipantInfo]? }

struct RoomParticipantIdentity: Codable, Sendable {
    var room: String
    var identity: String
}

public struct ParticipantInfo: Codable, Sendable, Equatable {
    public var sid: String?
    public var identity: String?
    public var name: String?
    /// `JOINING`, `JOINED`, `ACTIVE`, `DISCONNECTED`.
    public var state: String?
    public var metadata: String?
    /// `STANDARD`, `INGRESS`, `EGRESS`, `SIP`, `AGENT`, …
    public var kind: String?
    public var attributes: [String: String]?
    /// Set when the participant left: `USER_UNAVAILABLE`, `USER_REJECTED`, `SIP_TRUNK_FAILURE`, …
    public var disconnectReason: String?

    enum CodingKeys: String, CodingKey {
        case sid, identity, name, state, metadata, kind, attributes, disconnectReason = "disconnect_reason"
    }

    /// LiveKit SIP's view of the call: `dialing`, `ringing`, `automation`, `active`, `hangup`.
    public var sipCallStatus: String? { attributes?["sip.callStatus"] }
}

public struct CreateAgentDispatchRequest: Codable, Sendable, Equatable {
    public var agentName: String
    public var room: String
    public var metadata: String?
    enum CodingKeys: String, CodingKey { case agentName = "agent_name", room, metadata }
    public init(agentName: String, room: String, metadata: String? = nil) { (self.agentName, self.room, self.metadata) = (agentName, room, metadata) }
}

public struct AgentDispatch: Codable, Sendable, Equatable {
    public var id: String?
    public var agentName: String?
    public var room: String?
    public var metadata: String?
    enum CodingKeys: String, CodingKey { case id, agentName = "agent_name", room, metadata }
}

struct ListAgentDispatchRequest: Codable, Sendable {
    var dispatchId: String?
    var room: String
    enum CodingKeys: String, CodingKey { case dispatchId = "dispatch_id", room }
}

struct ListAgentDispatchResponse: Codable, Sendable {
    var agentDispatches: [AgentDispatch]?
    enum CodingKeys: String, CodingKey { case agentDispatches = "agent_dispatches" }
}

struct DeleteAgentDispatchRequest: Codable, Sendable {
    var dispatchId: String
    var room: String
    enum CodingKeys: String, CodingKey { case dispatchId = "dispatch_id", room }
}
