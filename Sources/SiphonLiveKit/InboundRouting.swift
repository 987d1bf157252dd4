import Foundation
import Logging
import SiphonCore

/// What reaches an inbound number: which carriers may send calls (addresses and/or digest auth)
/// and which agent answers them.
public struct InboundRoute: Sendable, Equatable {
    public var number: PhoneNumber
    /// Carrier signalling addresses or CIDR ranges allowed to send INVITEs.
    public var allowedAddresses: [String]
    public var username: String?
    public var password: String?
    /// The agent LiveKit dispatches into each call's room.
    public var agentName: String
    /// Each call gets its own room named `<prefix><caller>_<random>`.
    public var roomPrefix: String

    /// Refuses an open trunk: without allowed addresses or auth, anyone on the internet could
    /// call the agent on the operator's provider bill.
    public init(number: PhoneNumber, allowedAddresses: [String] = [], username: String? = nil, password: String? = nil,
                agentName: String, roomPrefix: String = "call-") throws {
        (self.number, self.allowedAddresses, self.username, self.password) = (number, allowedAddresses, username, password)
        (self.agentName, self.roomPrefix) = (agentName, roomPrefix)
        let hasAuth = !(username ?? "").isEmpty && !(password ?? "").isEmpty
        guard !allowedAddresses.isEmpty || hasAuth else {
            throw SiphonError.invalid("an inbound trunk needs allowed addresses or a username and password: an open trunk takes calls from anyone")
        }
        for a in allowedAddresses where a.isEmpty || a.utf8.count > 64 || a.contains(where: \.isWhitespace) {
            throw SiphonError.invalid("allowed address '\(a.prefix(64))' is not an address or CIDR range")
        }
        try Identifier.validateAgentName(agentName)
        guard !roomPrefix.isEmpty, roomPrefix.utf8.count <= 32 else { throw SiphonError.invalid("room prefix must be 1 to 32 characters") }
    }
}

/// Creates or updates the inbound trunk for a number and the dispatch rule that puts each call in
/// its own room with the agent dispatched. Idempotent: running it again sends nothing but two
/// lists (the trunk's metadata carries a fingerprint of its settings, so an unchanged trunk is
/// recognised without LiveKit echoing its password), and a changed route updates the trunk in
/// place and replaces the rule.
public struct InboundRouting: Sendable {
    let api: LiveKitAPI
    let logger: Logger

    public init(api: LiveKitAPI, logger: Logger = Logger(label: "siphon.livekit")) { (self.api, self.logger) = (api, logger) }

    public struct Outcome: Sendable, Equatable {
        public var trunkID: String
        public var ruleID: String
        public var trunkCreated: Bool
        public var ruleCreated: Bool
    }

    public func ensure(_ route: InboundRoute) async throws -> Outcome {
        let fingerprint = CredentialFingerprint.of(
            [route.number.e164, route.allowedAddresses.joined(separator: ","), route.username ?? "", route.password ?? ""],
            secret: api.twirp.credentials.apiSecret)
        var trunk = SIPInboundTrunkInfo(name: "siphon inbound \(route.number.e164)", metadata: #"{"siphon":"inbound","siphon_route":"\#(fingerprint)"}"#,
                                        numbers: [route.number.e164],
                                        allowedAddresses: route.allowedAddresses.isEmpty ? nil : route.allowedAddresses,
                                        authUsername: route.username, authPassword: route.password)
        let existing = try await api.listInboundTrunks(numbers: [route.number.e164]).first { ($0.numbers ?? []).contains(route.number.e164) }
        let trunkID: String
        let trunkCreated: Bool
        if let existing, let id = existing.sipTrunkId, !id.isEmpty, Self.sameTrunk(existing, trunk) {
            (trunkID, trunkCreated) = (id, false)
        } else if let id = existing?.sipTrunkId, !id.isEmpty {
            trunk.sipTrunkId = nil
            _ = try await api.replaceInboundTrunk(id: id, with: trunk)
            (trunkID, trunkCreated) = (id, false)
        } else {
            guard let id = try await api.createInboundTrunk(trunk).sipTrunkId, !id.isEmpty else {
                throw SiphonError(.internal, "LiveKit created the inbound trunk but answered no sip_trunk_id")
            }
            (trunkID, trunkCreated) = (id, true)
            logger.info("created LiveKit inbound trunk", metadata: ["trunk_id": "\(id)", "number": "\(route.number.e164)"])
        }

        let wanted = SIPDispatchRuleInfo(
            rule: SIPDispatchRule(individual: .init(roomPrefix: route.roomPrefix)), trunkIds: [trunkID], name: "siphon \(route.number.e164)",
            metadata: #"{"siphon":"inbound"}"#, roomConfig: RoomConfiguration(agents: [RoomAgentDispatch(agentName: route.agentName)]))
        let rules = try await api.listDispatchRules(trunkIDs: [trunkID]).filter { ($0.trunkIds ?? []).contains(trunkID) }
        if let same = rules.first(where: { Self.sameRule($0, wanted) }), let id = same.sipDispatchRuleId {
            return Outcome(trunkID: trunkID, ruleID: id, trunkCreated: trunkCreated, ruleCreated: false)
        }
        // A rule of ours that routes differently is replaced; other rules are the operator's.
        for old in rules where old.name == wanted.name {
            if let id = old.sipDispatchRuleId { try await api.deleteDispatchRule(id: id) }
        }
        guard let ruleID = try await api.createDispatchRule(wanted).sipDispatchRuleId, !ruleID.isEmpty else {
            throw SiphonError(.internal, "LiveKit created the dispatch rule but answered no sip_dispatch_rule_id")
        }
        logger.info("created LiveKit dispatch rule", metadata: ["rule_id": "\(ruleID)", "agent": "\(route.agentName)"])
        return Outcome(trunkID: trunkID, ruleID: ruleID, trunkCreated: trunkCreated, ruleCreated: true)
    }

    /// The fingerprint covers the password LiveKit may not echo; the visible fields are compared
    /// too, so a trunk edited by hand is put back.
    static func sameTrunk(_ a: SIPInboundTrunkInfo, _ b: SIPInboundTrunkInfo) -> Bool {
        a.metadata == b.metadata && a.name == b.name && (a.numbers ?? []) == (b.numbers ?? [])
            && (a.allowedAddresses ?? []) == (b.allowedAddresses ?? []) && (a.authUsername ?? "") == (b.authUsername ?? "")
    }

    static func sameRule(_ a: SIPDispatchRuleInfo, _ b: SIPDispatchRuleInfo) -> Bool {
        a.name == b.name && a.rule?.individual?.roomPrefix == b.rule?.individual?.roomPrefix
            && (a.roomConfig?.agents ?? []).map(\.agentName) == (b.roomConfig?.agents ?? []).map(\.agentName)
    }
}
