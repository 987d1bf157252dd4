// Messages of `livekit.SIP` (livekit/protocol `livekit_sip.proto`), the fields Siphon uses. Every
// field is optional: requests carry what is set, replies may omit or add fields.

public struct SIPOutboundTrunkInfo: Codable, Sendable, Equatable {
    public var sipTrunkId: String?
    public var name: String?
    public var metadata: String?
    /// Host (and port) of the carrier, no `sip:`.
    public var address: String?
    /// `SIP_TRANSPORT_AUTO|UDP|TCP|TLS`.
    public var transport: String?
    public var numbers: [String]?
    public var authUsername: String?
    public var authPassword: String?
    public var headers: [String: String]?
    public var fromHost: String?
    /// `SIP_MEDIA_ENCRYPT_DISABLE|ALLOW|REQUIRE` (the field every LiveKit version knows; newer ones
    /// also read `media.encryption`).
    public var mediaEncryption: String?

    enum CodingKeys: String, CodingKey {
        case sipTrunkId = "sip_trunk_id", name, metadata, address, transport, numbers
        case authUsername = "auth_username", authPassword = "auth_password", headers, fromHost = "from_host"
        case mediaEncryption = "media_encryption"
    }

    public init(name: String? = nil, metadata: String? = nil, address: String? = nil, transport: String? = nil, numbers: [String]? = nil,
                authUsername: String? = nil, authPassword: String? = nil) {
        (self.name, self.metadata, self.address, self.transport, self.numbers) = (name, metadata, address, transport, numbers)
        (self.authUsername, self.authPassword) = (authUsername, authPassword)
    }
}

public struct SIPInboundTrunkInfo: Codable, Sendable, Equatable {
    public var sipTrunkId: String?
    public var name: String?
    public var metadata: String?
    public var numbers: [String]?
    public var allowedAddresses: [String]?
    public var allowedNumbers: [String]?
    public var authUsername: String?
    public var authPassword: String?
    var ringingTimeout: ProtoDuration?
    var maxCallDuration: ProtoDuration?

    enum CodingKeys: String, CodingKey {
        case sipTrunkId = "sip_trunk_id", name, metadata, numbers, allowedAddresses = "allowed_addresses", allowedNumbers = "allowed_numbers"
        case authUsername = "auth_username", authPassword = "auth_password", ringingTimeout = "ringing_timeout", maxCallDuration = "max_call_duration"
    }

    public init(name: String? = nil, metadata: String? = nil, numbers: [String]? = nil, allowedAddresses: [String]? = nil,
                authUsername: String? = nil, authPassword: String? = nil) {
        (self.name, self.metadata, self.numbers, self.allowedAddresses) = (name, metadata, numbers, allowedAddresses)
        (self.authUsername, self.authPassword) = (authUsername, authPassword)
    }
}

struct CreateSIPOutboundTrunkRequest: Codable, Sendable { var trunk: SIPOutboundTrunkInfo }
struct CreateSIPInboundTrunkRequest: Codable, Sendable { var trunk: SIPInboundTrunkInfo }

struct UpdateSIPInboundTrunkRequest: Codable, Sendable {
    var sipTrunkId: String
    var replace: SIPInboundTrunkInfo
    enum CodingKeys: String, CodingKey { case sipTrunkId = "sip_trunk_id", replace }
}

struct Pagination: Codable, Sendable {
    var afterId: String?
    var limit: Int?
    enum CodingKeys: String, CodingKey { case afterId = "after_id", limit }
}

struct ListSIPTrunksRequest: Codable, Sendable {
    var page: Pagination?
    var trunkIds: [String]?
    var numbers: [String]?
    enum CodingKeys: String, CodingKey { case page, trunkIds = "trunk_ids", numbers }
}

struct ListResponse<Item: Codable & Sendable>: Codable, Sendable {
    var items: [Item]?
}

struct DeleteSIPTrunkRequest: Codable, Sendable {
    var sipTrunkId: String
    enum CodingKeys: String, CodingKey { case sipTrunkId = "sip_trunk_id" }
}

/// The deleted trunk, as `SIPTrunkInfo` (its id is all Siphon reads).
struct SIPTrunkInfo: Codable, Sendable {
    var sipTrunkId: String?
    enum CodingKeys: String, CodingKey { case sipTrunkId = "sip_trunk_id" }
}

/// `SIPDispatchRule`: a oneof; Siphon writes one of these.
public struct SIPDispatchRule: Codable, Sendable, Equatable {
    public struct Direct: Codable, Sendable, Equatable {
        public var roomName: String?
        public var pin: String?
        enum CodingKeys: String, CodingKey { case roomName = "room_name", pin }
    }

    public struct Individual: Codable, Sendable, Equatable {
        public var roomPrefix: String?
        public var pin: String?
        public var noRandomness: Bool?
        enum CodingKeys: String, CodingKey { case roomPrefix = "room_prefix", pin, noRandomness = "no_randomness" }
        public init(roomPrefix: String) { self.roomPrefix = roomPrefix }
    }

    public struct Callee: Codable, Sendable, Equatable {
        public var roomPrefix: String?
        public var pin: String?
        public var randomize: Bool?
        enum CodingKeys: String, CodingKey { case roomPrefix = "room_prefix", pin, randomize }
    }

    public var direct: Direct?
    public var individual: Individual?
    public var callee: Callee?

    enum CodingKeys: String, CodingKey {
        case direct = "dispatch_rule_direct", individual = "dispatch_rule_individual", callee = "dispatch_rule_callee"
    }

    public init(individual: Individual) { self.individual = individual }
}

/// `RoomAgentDispatch`: an agent the server dispatches into a room it creates.
public struct RoomAgentDispatch: Codable, Sendable, Equatable {
    public var agentName: String?
    public var metadata: String?
    enum CodingKeys: String, CodingKey { case agentName = "agent_name", metadata }
    public init(agentName: String, metadata: String? = nil) { (self.agentName, self.metadata) = (agentName, metadata) }
}

public struct RoomConfiguration: Codable, Sendable, Equatable {
    public var name: String?
    public var emptyTimeout: Int?
    public var departureTimeout: Int?
    public var maxParticipants: Int?
    public var metadata: String?
    public var agents: [RoomAgentDispatch]?
    enum CodingKeys: String, CodingKey {
        case name, emptyTimeout = "empty_timeout", departureTimeout = "departure_timeout", maxParticipants = "max_participants", metadata, agents
    }
    public init(agents: [RoomAgentDispatch]? = nil, emptyTimeout: Int? = nil) { (self.agents, self.emptyTimeout) = (agents, emptyTimeout) }
}

public struct SIPDispatchRuleInfo: Codable, Sendable, Equatable {
    public var sipDispatchRuleId: String?
    public var rule: SIPDispatchRule?
    public var trunkIds: [String]?
    public var hidePhoneNumber: Bool?
    public var inboundNumbers: [String]?
    public var numbers: [String]?
    public var name: String?
    public var metadata: String?
    public var attributes: [String: String]?
    public var roomConfig: RoomConfiguration?

    enum CodingKeys: String, CodingKey {
        case sipDispatchRuleId = "sip_dispatch_rule_id", rule, trunkIds = "trunk_ids", hidePhoneNumber = "hide_phone_number"
        case inboundNumbers = "inbound_numbers", numbers, name, metadata, attributes, roomConfig = "room_config"
    }

    public init(rule: SIPDispatchRule, trunkIds: [String]? = nil, name: String? = nil, metadata: String? = nil, roomConfig: RoomConfiguration? = nil) {
        (self.rule, self.trunkIds, self.name, self.metadata, self.roomConfig) = (rule, trunkIds, name, metadata, roomConfig)
    }
}

struct CreateSIPDispatchRuleRequest: Codable, Sendable {
    var dispatchRule: SIPDispatchRuleInfo
    enum CodingKeys: String, CodingKey { case dispatchRule = "dispatch_rule" }
}

struct ListSIPDispatchRuleRequest: Codable, Sendable {
    var page: Pagination?
    var dispatchRuleIds: [String]?
    var trunkIds: [String]?
    enum CodingKeys: String, CodingKey { case page, dispatchRuleIds = "dispatch_rule_ids", trunkIds = "trunk_ids" }
}

struct DeleteSIPDispatchRuleRequest: Codable, Sendable {
    var sipDispatchRuleId: String
    enum CodingKeys: String, CodingKey { case sipDispatchRuleId = "sip_dispatch_rule_id" }
}

/// CreateSIPParticipant: dial `sipCallTo` through a trunk into `roomName`.
public struct CreateSIPParticipantRequest: Codable, Sendable, Equatable {
    public var sipTrunkId: String?
    public var sipCallTo: String
    public var sipNumber: String?
    public var roomName: String
    public var participantIdentity: String?
    public var participantName: String?
    public var participantMetadata: String?
    public var participantAttributes: [String: String]?
    /// Digits sent after answer; `w` is a 0.5 s pause.
    public var dtmf: String?
    public var playDialtone: Bool?
    public var hidePhoneNumber: Bool?
    /// `X-` headers added to the INVITE.
    public var headers: [String: String]?
    public var waitUntilAnswered: Bool?
    var ringingTimeout: ProtoDuration?
    var maxCallDuration: ProtoDuration?

    enum CodingKeys: String, CodingKey {
        case sipTrunkId = "sip_trunk_id", sipCallTo = "sip_call_to", sipNumber = "sip_number", roomName = "room_name"
        case participantIdentity = "participant_identity", participantName = "participant_name", participantMetadata = "participant_metadata"
        case participantAttributes = "participant_attributes", dtmf, playDialtone = "play_dialtone", hidePhoneNumber = "hide_phone_number"
        case headers, waitUntilAnswered = "wait_until_answered", ringingTimeout = "ringing_timeout", maxCallDuration = "max_call_duration"
    }

    public init(sipTrunkId: String, sipCallTo: String, roomName: String, participantIdentity: String? = nil, sipNumber: String? = nil) {
        (self.sipTrunkId, self.sipCallTo, self.roomName, self.participantIdentity, self.sipNumber) = (sipTrunkId, sipCallTo, roomName, participantIdentity, sipNumber)
    }

    public var ringingTimeoutSeconds: Double? {
        get { ringingTimeout?.seconds }
        set { ringingTimeout = newValue.map(ProtoDuration.init(seconds:)) }
    }

    public var maxCallDurationSeconds: Double? {
        get { maxCallDuration?.seconds }
        set { maxCallDuration = newValue.map(ProtoDuration.init(seconds:)) }
    }
}

public struct SIPParticipantInfo: Codable, Sendable, Equatable {
    public var participantId: String?
    public var participantIdentity: String?
    public var roomName: String?
    public var sipCallId: String?
    enum CodingKeys: String, CodingKey {
        case participantId = "participant_id", participantIdentity = "participant_identity", roomName = "room_name", sipCallId = "sip_call_id"
    }
}

public struct TransferSIPParticipantRequest: Codable, Sendable, Equatable {
    public var participantIdentity: String
    public var roomName: String
    /// `sip:…`, `sips:…` or `tel:…`.
    public var transferTo: String
    public var playDialtone: Bool?
    public var headers: [String: String]?
    var ringingTimeout: ProtoDuration?

    enum CodingKeys: String, CodingKey {
        case participantIdentity = "participant_identity", roomName = "room_name", transferTo = "transfer_to"
        case playDialtone = "play_dialtone", headers, ringingTimeout = "ringing_timeout"
    }

    public init(participantIdentity: String, roomName: String, transferTo: String, playDialtone: Bool? = nil) {
        (self.participantIdentity, self.roomName, self.transferTo, self.playDialtone) = (participantIdentity, roomName, transferTo, playDialtone)
    }
}

/// The reply: newer servers say how the transfer went; older ones answer `{}`.
public struct TransferSIPParticipantResponse: Codable, Sendable, Equatable {
    public var transferId: String?
    public var status: String?
    public var reason: String?
    enum CodingKeys: String, CodingKey { case transferId = "transfer_id", status, reason }
}
