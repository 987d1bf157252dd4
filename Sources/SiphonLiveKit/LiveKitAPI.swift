import AsyncHTTPClient
import Foundation

/// LiveKit's server API: SIP, RoomService and AgentDispatchService over Twirp. Each call signs a
/// short-lived token with only the grant that call needs (livekit-server `auth.go`, `sip.go`,
/// `roomservice.go`), so a leaked request token cannot do more than the request itself.
public struct LiveKitAPI: Sendable {
    public let twirp: TwirpClient

    public init(credentials: LiveKitCredentials, http: HTTPClient = .shared, timeout: Duration = .seconds(10)) {
        twirp = TwirpClient(credentials: credentials, http: http, timeout: timeout)
    }

    static let sipAdmin = LiveKitClaims(sip: SIPGrant(admin: true))
    static let sipCall = LiveKitClaims(sip: SIPGrant(call: true))
    static let roomCreate = LiveKitClaims(video: VideoGrant(roomCreate: true))
    static func roomAdmin(_ room: String) -> LiveKitClaims { LiveKitClaims(video: VideoGrant(roomAdmin: true, room: room)) }

    // MARK: SIP trunks

    public func createOutboundTrunk(_ trunk: SIPOutboundTrunkInfo) async throws -> SIPOutboundTrunkInfo {
        try await twirp.call("SIP", "CreateSIPOutboundTrunk", CreateSIPOutboundTrunkRequest(trunk: trunk), claims: Self.sipAdmin)
    }

    public func listOutboundTrunks(numbers: [String]? = nil) async throws -> [SIPOutboundTrunkInfo] {
        try await listAll { page in
            try await twirp.call("SIP", "ListSIPOutboundTrunk", ListSIPTrunksRequest(page: page, numbers: numbers), claims: Self.sipAdmin,
                                 as: ListResponse<SIPOutboundTrunkInfo>.self).items ?? []
        } id: { $0.sipTrunkId }
    }

    public func createInboundTrunk(_ trunk: SIPInboundTrunkInfo) async throws -> SIPInboundTrunkInfo {
        try await twirp.call("SIP", "CreateSIPInboundTrunk", CreateSIPInboundTrunkRequest(trunk: trunk), claims: Self.sipAdmin)
    }

    /// Replaces every field of inbound trunk `id` with `trunk`'s.
    public func replaceInboundTrunk(id: String, with trunk: SIPInboundTrunkInfo) async throws -> SIPInboundTrunkInfo {
        try await twirp.call("SIP", "UpdateSIPInboundTrunk", UpdateSIPInboundTrunkRequest(sipTrunkId: id, replace: trunk), claims: Self.sipAdmin)
    }

    public func listInboundTrunks(numbers: [String]? = nil) async throws -> [SIPInboundTrunkInfo] {
        try await listAll { page in
            try await twirp.call("SIP", "ListSIPInboundTrunk", ListSIPTrunksRequest(page: page, numbers: numbers), claims: Self.sipAdmin,
                                 as: ListResponse<SIPInboundTrunkInfo>.self).items ?? []
        } id: { $0.sipTrunkId }
    }

    /// Deletes an inbound or outbound trunk.
    public func deleteTrunk(id: String) async throws {
        _ = try await twirp.call("SIP", "DeleteSIPTrunk", DeleteSIPTrunkRequest(sipTrunkId: id), claims: Self.sipAdmin, as: SIPTrunkInfo.self)
    }

    // MARK: dispatch rules

    public func createDispatchRule(_ rule: SIPDispatchRuleInfo) async throws -> SIPDispatchRuleInfo {
        try await twirp.call("SIP", "CreateSIPDispatchRule", CreateSIPDispatchRuleRequest(dispatchRule: rule), claims: Self.sipAdmin)
    }

    public func listDispatchRules(trunkIDs: [String]? = nil) async throws -> [SIPDispatchRuleInfo] {
        try await listAll { page in
            try await twirp.call("SIP", "ListSIPDispatchRule", ListSIPDispatchRuleRequest(page: page, trunkIds: trunkIDs), claims: Self.sipAdmin,
                                 as: ListResponse<SIPDispatchRuleInfo>.self).items ?? []
        } id: { $0.sipDispatchRuleId }
    }

    public func deleteDispatchRule(id: String) async throws {
        _ = try await twirp.call("SIP", "DeleteSIPDispatchRule", DeleteSIPDispatchRuleRequest(sipDispatchRuleId: id), claims: Self.sipAdmin,
                                 as: SIPDispatchRuleInfo.self)
    }

    // MARK: SIP calls

    /// Dials. With `waitUntilAnswered`, returns once the callee answered (or throws the SIP
    /// failure as a `TwirpError` with its status); the server then allows up to 80 s.
    public func createSIPParticipant(_ request: CreateSIPParticipantRequest) async throws -> SIPParticipantInfo {
        let wait = request.waitUntilAnswered == true
        let ring = request.ringingTimeoutSeconds ?? 30
        let timeout: Duration = wait ? .milliseconds(Int64((ring + 2) * 1000)) : twirp.timeout
        return try await twirp.call("SIP", "CreateSIPParticipant", request, claims: Self.sipCall, timeout: timeout)
    }

    /// Blind transfer by SIP REFER. Needs `sip.call` and admin of that very room.
    public func transferSIPParticipant(_ request: TransferSIPParticipantRequest) async throws -> TransferSIPParticipantResponse {
        var claims = Self.roomAdmin(request.roomName)
        claims.sip = SIPGrant(call: true)
        let ring = request.ringingTimeout?.seconds ?? 30
        return try await twirp.call("SIP", "TransferSIPParticipant", request, claims: claims, timeout: .milliseconds(Int64((ring + 2) * 1000)))
    }

    // MARK: rooms

    public func createRoom(_ request: CreateRoomRequest) async throws -> Room {
        try await twirp.call("RoomService", "CreateRoom", request, claims: Self.roomCreate)
    }

    public func listRooms(names: [String]? = nil) async throws -> [Room] {
        try await twirp.call("RoomService", "ListRooms", ListRoomsRequest(names: names), claims: LiveKitClaims(video: VideoGrant(roomList: true)),
                             as: ListRoomsResponse.self).rooms ?? []
    }

    public func deleteRoom(_ name: String) async throws {
        _ = try await twirp.call("RoomService", "DeleteRoom", DeleteRoomRequest(room: name), claims: Self.roomCreate, as: Empty.self)
    }

    public func listParticipants(room: String) async throws -> [ParticipantInfo] {
        try await twirp.call("RoomService", "ListParticipants", ListParticipantsRequest(room: room), claims: Self.roomAdmin(room),
                             as: ListParticipantsResponse.self).participants ?? []
    }

    public func removeParticipant(room: String, identity: String) async throws {
        _ = try await twirp.call("RoomService", "RemoveParticipant", RoomParticipantIdentity(room: room, identity: identity),
                                 claims: Self.roomAdmin(room), as: Empty.self)
    }

    // MARK: agent dispatch

    public func createDispatch(_ request: CreateAgentDispatchRequest) async throws -> AgentDispatch {
        try await twirp.call("AgentDispatchService", "CreateDispatch", request, claims: Self.roomAdmin(request.room))
    }

    public func listDispatches(room: String) async throws -> [AgentDispatch] {
        try await twirp.call("AgentDispatchService", "ListDispatch", ListAgentDispatchRequest(room: room), claims: Self.roomAdmin(room),
                             as: ListAgentDispatchResponse.self).agentDispatches ?? []
    }

    public func deleteDispatch(id: String, room: String) async throws {
        _ = try await twirp.call("AgentDispatchService", "DeleteDispatch", DeleteAgentDispatchRequest(dispatchId: id, room: room),
                                 claims: Self.roomAdmin(room), as: AgentDispatch.self)
    }

    // MARK: paging

    /// Follows `page.after_id` until a short page. A server that ignores paging answers everything
    /// at once; a page with nothing new ends the walk, so nothing is listed twice.
    private func listAll<Item>(_ fetch: (Pagination) async throws -> [Item], id: (Item) -> String?) async throws -> [Item] {
        let limit = 100
        var all: [Item] = []
        var seen: Set<String> = []
        var after: String?
        for _ in 0..<1000 {
            let page = try await fetch(Pagination(afterId: after, limit: limit))
            let fresh = page.filter { item in id(item).map { seen.insert($0).inserted } ?? true }
            all += fresh
            guard page.count == limit, !fresh.isEmpty, let last = page.last.flatMap(id) else { break }
            after = last
        }
        return all
    }
}
