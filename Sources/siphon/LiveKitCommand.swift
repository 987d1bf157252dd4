import ArgumentParser
import Foundation
import Logging
import SiphonCore
import SiphonLiveKit
import SiphonRedis

/// Operator commands for LiveKit, reading `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`.
struct LiveKitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livekit", abstract: "LiveKit tokens, SIP trunks and dispatch rules.",
        subcommands: [Token.self, Trunks.self, Inbound.self, Rules.self])

    static func credentials(_ env: Environment) throws -> LiveKitCredentials {
        guard let c = try LiveKitCredentials.from(env) else {
            throw SiphonError(.configuration, "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set")
        }
        return c
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an access token.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The participant identity (sub).") var identity: String
        @Option(help: "The room the token is for.") var room: String?
        @Option(help: "Comma-separated: join, publish, subscribe, data, admin, create, list, agent, sip-call, sip-admin.") var grants: String = "join,publish,subscribe"
        @Option(help: "Display name.") var name: String?
        @Option(help: "Lifetime: 30s, 10m, 1h, 6h.") var ttl: String = "1h"

        func run() async throws {
            let env = try common.environment()
            let token = try await reporting { () -> String in
                // Minting needs only the key pair: no LIVEKIT_URL, no server.
                let keys = try LiveKitKeyPair.from(env)
                let claims = try Self.claims(grants, room: room, name: name)
                return try keys.token(identity: identity, claims: claims, ttl: try Self.seconds(ttl))
            }
            print(token)
        }

        static func claims(_ text: String, room: String?, name: String?) throws -> LiveKitClaims {
            var video = VideoGrant()
            var sip = SIPGrant()
            for grant in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !grant.isEmpty {
                switch grant {
                case "join": video.roomJoin = true
                case "publish": video.canPublish = true
                case "subscribe": video.canSubscribe = true
                case "data": video.canPublishData = true
                case "admin": video.roomAdmin = true
                case "create": video.roomCreate = true
                case "list": video.roomList = true
                case "agent": video.agent = true
                case "sip-call": sip.call = true
                case "sip-admin": sip.admin = true
                default: throw SiphonError.invalid("unknown grant '\(grant.prefix(32))': use join, publish, subscribe, data, admin, create, list, agent, sip-call, sip-admin")
                }
            }
            if video.roomJoin == true || video.roomAdmin == true {
                guard let room, !room.isEmpty else { throw SiphonError.invalid("join and admin grants need --room") }
            }
            if video.roomJoin == true {
                // Explicit, so an unset permission is not read as "all" by the server.
                video.canPublish = video.canPublish ?? false
                video.canSubscribe = video.canSubscribe ?? false
                video.canPublishData = video.canPublishData ?? false
            }
            video.room = room
            let hasVideo = video != VideoGrant(room: room) && video != VideoGrant()
            return LiveKitClaims(name: name, kind: video.agent == true ? "agent" : nil, video: hasVideo ? video : nil,
                                 sip: sip == SIPGrant() ? nil : sip)
        }

        static func seconds(_ text: String) throws -> TimeInterval {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n > 0, n * unit <= 30 * 86_400 else {
                throw SiphonError.invalid("--ttl must look like 30s, 10m, 1h or 1d (at most 30d)")
            }
            return n * unit
        }
    }

    struct Trunks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Outbound SIP trunks.", subcommands: [Ensure.self, List.self])

        struct Ensure: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Reuse the outbound trunk with exactly these credentials, or create it; print its id.",
                discussion: "With Redis (--redis or REDIS_URL), the same lock and cache as the workers: safe to run beside them.")
            @OptionGroup var common: CommonOptions
            @Option(help: "Trunk name in LiveKit.") var name: String?
            @Option(help: "The carrier's SIP host[:port].") var address: String
            @Option(help: "The caller ID number, E.164.") var number: String
            @Option(help: "udp, tcp or tls (default: LiveKit chooses).") var transport: String?
            @Option(help: "Digest username.") var username: String?
            @Option(help: "Digest password (visible to other users in ps: prefer --password-env).") var password: String?
            @Option(help: "Environment variable holding the digest password.") var passwordEnv: String?
            @Flag(help: "JSON output.") var json = false

            func run() async throws {
                let env = try common.environment()
                let logger = common.bootstrapLogging(env, label: "siphon.livekit")
                let outcome = try await reporting { () -> OutboundTrunkProvisioner.Outcome in
                    var secret = password
                    if let passwordEnv {
                        guard let value = env[passwordEnv] else { throw SiphonError(.configuration, "\(passwordEnv) is not set") }
                        secret = value
                    }
                    let setup = try OutboundTrunkSetup(name: name, address: address, transport: transport, number: PhoneNumber(number),
                                                       username: username, password: secret)
                    let api = LiveKitAPI(credentials: try LiveKitCommand.credentials(env))
                    let redis = (common.redis ?? env["REDIS_URL"]) != nil ? try common.client(env, connections: 1, logger: logger) : nil
                    defer { redis?.close() }
                    return try await OutboundTrunkProvisioner(api: api, redis: redis, keyPrefix: common.prefix, logger: logger).ensure(setup)
                }
                if json {
                    printJSON(["trunk_id": outcome.trunkID, "created": outcome.created ? "true" : "false"])
                } else {
                    print(outcome.trunkID + (outcome.created ? " (created)" : " (reused)"))
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List outbound and inbound trunks (passwords never shown).")
            @OptionGroup var common: CommonOptions
            @Flag(help: "JSON output.") var json = false

            func run() async throws {
                let env = try common.environment()
                let (outbound, inbound) = try await reporting { () -> ([SIPOutboundTrunkInfo], [SIPInboundTrunkInfo]) in
                    let api = LiveKitAPI(credentials: try LiveKitCommand.credentials(env))
                    return (try await api.listOutboundTrunks(), try await api.listInboundTrunks())
                }
                let rows = outbound.map {
                    TrunkRow(id: $0.sipTrunkId ?? "", direction: "outbound", name: $0.name ?? "", address: $0.address ?? "",
                             numbers: $0.numbers ?? [], username: $0.authUsername ?? "", hasPassword: !($0.authPassword ?? "").isEmpty, allowed: [])
                } + inbound.map {
                    TrunkRow(id: $0.sipTrunkId ?? "", direction: "inbound", name: $0.name ?? "", address: "", numbers: $0.numbers ?? [],
                             username: $0.authUsername ?? "", hasPassword: !($0.authPassword ?? "").isEmpty, allowed: $0.allowedAddresses ?? [])
                }
                if json { return printJSON(rows) }
                if rows.isEmpty { return print("no trunks") }
                for r in rows {
                    let auth = r.username.isEmpty ? "no auth" : "user \(r.username)\(r.hasPassword ? " + password" : "")"
                    let from = r.direction == "inbound" ? "from \(r.allowed.isEmpty ? "any address" : r.allowed.joined(separator: ","))" : "via \(r.address)"
                    print("\(r.id)  \(r.direction)  \(r.numbers.joined(separator: ","))  \(from)  \(auth)  \(r.name)")
                }
            }
        }
    }

    struct Inbound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Inbound numbers.", subcommands: [Ensure.self])

        struct Ensure: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create or update the inbound trunk for a number and the rule that gives each call its own room with the agent.",
                discussion: "Needs --allowed-address or --username with --password-env: an open trunk takes calls from anyone.")
            @OptionGroup var common: CommonOptions
            @Option(help: "The number callers dial, E.164.") var number: String
            @Option(help: "A carrier signalling address or CIDR range allowed to send calls (repeatable).") var allowedAddress: [String] = []
            @Option(help: "Digest username the carrier authenticates with.") var username: String?
            @Option(help: "Environment variable holding the digest password.") var passwordEnv: String?
            @Option(help: "The agent LiveKit dispatches into each call's room.") var agent: String
            @Option(help: "Room name prefix.") var roomPrefix: String = "call-"
            @Flag(help: "JSON output.") var json = false

            func run() async throws {
                let env = try common.environment()
                let logger = common.bootstrapLogging(env, label: "siphon.livekit")
                let outcome = try await reporting { () -> InboundRouting.Outcome in
                    let password = try passwordEnv.map { name -> String in
                        guard let value = env[name] else { throw SiphonError(.configuration, "\(name) is not set") }
                        return value
                    }
                    let route = try InboundRoute(number: PhoneNumber(number), allowedAddresses: allowedAddress, username: username,
                                                 password: password, agentName: agent, roomPrefix: roomPrefix)
                    return try await InboundRouting(api: LiveKitAPI(credentials: try LiveKitCommand.credentials(env)), logger: logger).ensure(route)
                }
                if json {
                    printJSON(["trunk_id": outcome.trunkID, "rule_id": outcome.ruleID,
                               "trunk_created": String(outcome.trunkCreated), "rule_created": String(outcome.ruleCreated)])
                } else {
                    print("trunk \(outcome.trunkID) (\(outcome.trunkCreated ? "created" : "updated")), rule \(outcome.ruleID) (\(outcome.ruleCreated ? "created" : "unchanged"))")
                }
            }
        }
    }

    struct TrunkRow: Encodable {
        var id, direction, name, address: String
        var numbers: [String]
        var username: String
        var hasPassword: Bool
        var allowed: [String]
        enum CodingKeys: String, CodingKey {
            case id, direction, name, address, numbers, username, hasPassword = "has_password", allowed = "allowed_addresses"
        }
    }

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "SIP dispatch rules.", subcommands: [List.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List dispatch rules.")
            @OptionGroup var common: CommonOptions
            @Flag(help: "JSON output.") var json = false

            func run() async throws {
                let env = try common.environment()
                let rules = try await reporting { try await LiveKitAPI(credentials: try LiveKitCommand.credentials(env)).listDispatchRules() }
                if json { return printJSON(rules) }
                if rules.isEmpty { return print("no dispatch rules") }
                for r in rules {
                    let how = if let i = r.rule?.individual { "a room per call (\(i.roomPrefix ?? "")…)" }
                        else if let d = r.rule?.direct { "room \(d.roomName ?? "")" }
                        else if let c = r.rule?.callee { "a room per callee (\(c.roomPrefix ?? "")…)" }
                        else { "?" }
                    let agents = (r.roomConfig?.agents ?? []).compactMap(\.agentName).joined(separator: ",")
                    print("\(r.sipDispatchRuleId ?? "")  trunks \((r.trunkIds ?? []).joined(separator: ","))  \(how)  agents \(agents.isEmpty ? "-" : agents)  \(r.name ?? "")")
                }
            }
        }
    }
}
