import Foundation
import LiveKitProtocol
import Logging
import SiphonCore
import SiphonLiveKit
import SiphonWebRTC
import Synchronization

/// `siphon preflight`'s WebRTC check — the seed's "silent media behind a NAT or firewall": joins
/// a throwaway room as a hidden participant the way a worker's agent does (same addresses, ports
/// and ICE servers), offers the publisher connection and reports what it gathered (host, srflx
/// from LiveKit's STUN, relay from its TURN), whether ICE and DTLS came up, over which pair, and
/// how long each step took. `relayOnly` proves the TURN path on its own. The room is deleted after.
public struct LiveKitMediaProbe: Sendable {
    public struct Report: Sendable {
        /// WebSocket open → JoinResponse.
        public var joinMs: Int64?
        /// What JoinResponse.ice_servers advertised (URLs only: no credentials).
        public var iceServers: [String] = []
        /// Our candidates by kind (counted once whether in the offer or trickled).
        public var gathered: [ICECandidate.Kind: Int] { Dictionary(grouping: gatheredCandidates, by: \.kind).mapValues(\.count) }
        var gatheredCandidates: Set<Gathered> = []
        struct Gathered: Hashable { var kind: ICECandidate.Kind; var address: String }
        public var local: ICECandidate.Kind?
        public var remote: ICECandidate.Kind?
        public var profile: DTLSEndpoint.SRTPProfile?
        /// Offer sent → DTLS up and SRTP keyed.
        public var connectMs: Int64?
        public var failure: String?
        /// The last ICE state reached (for a failure: how far it got).
        public var iceState: ICEAgent.State?
        public var connected: Bool { profile != nil }
        public var turnAdvertised: Bool { iceServers.contains { $0.hasPrefix("turn:") || $0.hasPrefix("turns:") } }

        /// "2 host, 1 srflx, 1 relay".
        public var candidates: String {
            let order: [ICECandidate.Kind] = [.host, .srflx, .prflx, .relay]
            let parts = order.compactMap { k in gathered[k].map { "\($0) \(k.rawValue)" } }
            return parts.isEmpty ? "none" : parts.joined(separator: ", ")
        }
    }

    let api: LiveKitAPI
    let url: String
    let configuration: LiveKitMediaAgent.Configuration
    let logger: Logger

    public init(api: LiveKitAPI, url: String, configuration: LiveKitMediaAgent.Configuration = .init(),
                logger: Logger = Logger(label: "siphon.preflight.webrtc")) {
        (self.api, self.url, self.configuration, self.logger) = (api, url, configuration, logger)
    }

    public func run(relayOnly: Bool = false, timeout: Duration = .seconds(10)) async -> Report {
        let room = "siphon-preflight-\(UUID().uuidString.prefix(8).lowercased())"
        let (report, signal) = await probe(room: room, relayOnly: relayOnly, timeout: timeout)
        await signal?.leave()
        try? await api.deleteRoom(room)
        return report
    }

    private func probe(room: String, relayOnly: Bool, timeout: Duration) async -> (Report, LiveKitSignalClient?) {
        var report = Report()
        let signal: LiveKitSignalClient
        let started = ContinuousClock.now
        do {
            let token = try api.twirp.credentials.token(
                identity: room, claims: LiveKitClaims(name: "siphon preflight",
                                                      video: VideoGrant(roomJoin: true, room: room, canPublish: true, canSubscribe: true,
                                                                        canPublishData: true, hidden: true)), ttl: 120)
            // The worker's signalling (v1 where LiveKit has it): the connection we offer is the
            // publisher one over v0 and the only one over v1, answered the same way either way.
            signal = try await LiveKitSignalClient.connect(url: url, token: token, singlePeerConnection: configuration.singlePeerConnection,
                                                           timeout: timeout, logger: logger)
        } catch {
            report.failure = "could not join a room: \(Redaction.redact("\(error)"))"
            return (report, nil)
        }
        report.joinMs = (ContinuousClock.now - started).wholeMilliseconds
        guard let join = signal.join else {
            report.failure = "LiveKit answered the join with a resume"
            return (report, signal)
        }
        report.iceServers = join.iceServers.flatMap(\.urls)
        let ice = await ICEServers.resolve(join.iceServers, logger: logger)
        var c = WebRTCPeer.Configuration(role: .controlling)
        c.hostAddresses = configuration.hostAddresses
        c.includeLoopback = ICEServers.isLoopback(url)
        c.portRange = configuration.portRange
        c.stunServers = ice.stun
        c.turnServers = ice.turn
        c.relayOnly = relayOnly
        let peer: WebRTCPeer
        do {
            peer = try await WebRTCPeer.start(c, logger: logger)
        } catch {
            report.failure = "could not open media sockets: \(error)"
            return (report, signal)
        }
        defer { peer.close() }

        // The server's side of the exchange: our publisher's answer and its candidates.
        let signalling = Task {
            for await response in signal.responses {
                switch response.message {
                case .answer(let sd):
                    do { try await peer.setRemoteDescription(try WebRTCSessionDescription(parsing: sd.sdp), isOffer: false) }
                    catch { logger.warning("LiveKit's answer was refused", metadata: ["error": "\(error)"]) }
                case .trickle(let t) where t.target == .publisher:
                    if let candidate = CandidateInit.parse(t.candidateInit) { peer.addRemoteCandidate(candidate) }
                default:
                    break
                }
            }
        }
        defer { signalling.cancel() }
        let offered = ContinuousClock.now
        do {
            try await signal.send(SignalRequest.addAudioTrack(cid: "siphon-preflight-audio", name: "preflight"))
            let offer = try await peer.createOffer(audioDirection: .sendonly)
            for c in offer.media.first?.candidates ?? [] { report.gatheredCandidates.insert(.init(kind: c.kind, address: c.address?.description ?? "")) }
            try await signal.send(SignalRequest.offer(offer))
        } catch {
            report.failure = "the offer failed: \(error)"
            return (report, signal)
        }

        // Our later candidates out; the first of connected, failed or the deadline ends the probe.
        let outcome = Mutex<Report>(report)
        let watch = Task {
            for await event in peer.events {
                switch event {
                case .candidate(let candidate) where candidate.kind != .host:
                    outcome.withLock { _ = $0.gatheredCandidates.insert(.init(kind: candidate.kind, address: candidate.address?.description ?? "")) }
                    try? await signal.send(SignalRequest.trickle(candidate, target: .publisher))
                case .connected(let profile, let local, let remote):
                    outcome.withLock { r in
                        (r.profile, r.local, r.remote) = (profile, local.kind, remote.kind)
                        r.connectMs = (ContinuousClock.now - offered).wholeMilliseconds
                    }
                    return
                case .iceState(let state):
                    outcome.withLock { $0.iceState = state }
                case .failed(let why):
                    outcome.withLock { $0.failure = why }
                    return
                default:
                    break
                }
            }
        }
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            watch.cancel()
        }
        await watch.value
        deadline.cancel()
        report = outcome.withLock { $0 }
        if !report.connected, report.failure == nil {
            report.failure = "ICE and DTLS did not complete within \(timeout) (ICE \(report.iceState.map { "\($0)" } ?? "never started"))"
        }
        return (report, signal)
    }
}
