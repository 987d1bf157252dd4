import Foundation
import SiphonAgent
import SiphonCluster
import SiphonCore
import SiphonLiveKit

/// The agent as a participant of a LiveKit call's room (`LiveKitRoomAgent`): it joins as
/// `agent-<call id>` over `/rtc/v1` (one peer connection: our offer carries the agent's track and
/// receive sections for the phone's) or, where the server lacks it, `/rtc` v0 (it answers the
/// server's subscriber offers and offers its publisher connection), and runs the same `Conversation` as
/// the SIP path. Room events end the call when the phone leaves; a signalling drop is resumed
/// (`reconnect=1`) while the media flows on. A worker taking the call over joins with the same
/// identity: LiveKit replaces the old participant, which is told so and falls silent.
public struct LiveKitMediaAgent: LiveKitRoomAgent {
    public struct Configuration: Sendable {
        /// Addresses for host candidates (nil: this host's interfaces; loopback when LiveKit is on it).
        public var hostAddresses: [String]?
        public var portRange: ClosedRange<Int>?
        /// Join over `/rtc/v1` (one peer connection) where the server has it; false keeps to v0.
        public var singlePeerConnection = true
        /// Each call recorded here as `<id>-<epoch>.wav`, as on the SIP path (a worker sets it
        /// from `SIPHON_RECORDINGS_DIR`, created at start-up).
        public var recordingsDirectory: String?
        public init() {}

        /// What a worker uses: SIPHON_WEBRTC_HOSTS (comma-separated) for host candidates, UDP
        /// ports from the RTP range, SIPHON_LIVEKIT_SIGNALLING (`auto`, the default: v1 where the
        /// server has it; `v0`: two peer connections always).
        public static func from(_ environment: Environment, rtpPorts: ClosedRange<Int>) -> Configuration {
            var c = Configuration()
            c.hostAddresses = environment["SIPHON_WEBRTC_HOSTS"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            c.portRange = rtpPorts
            c.singlePeerConnection = environment["SIPHON_LIVEKIT_SIGNALLING"]?.lowercased() != "v0"
            return c
        }
    }

    let agents: [String: Agent]
    let api: LiveKitAPI
    let configuration: Configuration

    public init(agents: [Agent], api: LiveKitAPI, configuration: Configuration = Configuration()) {
        self.agents = Dictionary(agents.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        (self.api, self.configuration) = (api, configuration)
    }

    public func converse(_ call: CallContext, ticket: LiveKitRoomTicket, resume: Bool) async throws -> CallEnd? {
        try await converse(call, ticket: ticket, resume: resume, answered: nil)
    }

    public func converse(_ call: CallContext, ticket: LiveKitRoomTicket, answered: @escaping @Sendable () async -> Bool) async throws -> CallEnd? {
        try await converse(call, ticket: ticket, resume: false, answered: answered)
    }

    private func converse(_ call: CallContext, ticket: LiveKitRoomTicket, resume: Bool, answered: (@Sendable () async -> Bool)?) async throws -> CallEnd? {
        guard let agent = agents[call.job.agent] else { return CallEnd(.failed, "agent '\(call.job.agent)' is not served by this worker") }
        var tuned = agent
        if let max = call.job.maxDuration { tuned.turn.maxCallDuration = Double(max) }
        if answered != nil { tuned.warmGreeting(rate: RoomSession.pipelineRate) }  // the phone still rings
        let session = try await RoomSession.join(ticket: ticket, configuration: configuration, api: api, logger: call.logger,
                                                 beforeAnswer: answered != nil)
        defer { session.close() }
        return try await session.run(agent: tuned, call: call, resume: resume, answered: answered)
    }
}
