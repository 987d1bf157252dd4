import Foundation
import LiveKitProtocol
import Logging
import SiphonAgent
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonWebRTC
import Synchronization

/// The `webrtc` transport: a browser talks to the agent directly. The page's offer reaches the
/// worker that claimed the call through Redis (`WebRTCSignals`); the worker answers with its
/// candidates and DTLS fingerprint, and runs the same `Conversation` as a phone call, Opus both ways.
///
/// The connection can drop — the network, or this worker dying. The page then offers again
/// (`POST /v1/webrtc/calls/{id}/offer`) and the call's owner answers with a fresh peer: this worker
/// if it is alive, else the one the supervisor gave the call to, which resumes with the history.
/// A browser that does not come back within `reofferTimeout` has left: the call ends.
public struct BrowserCallRunner: CallRunner {
    public struct Configuration: Sendable {
        /// Addresses for host candidates (nil: this host's interfaces).
        public var hostAddresses: [String]?
        public var portRange: ClosedRange<Int>?
        /// `SIPHON_PUBLIC_IP`: announced as a server-reflexive candidate (one-to-one NAT).
        public var mappedAddresses: [String] = []
        /// STUN and TURN servers the worker gathers candidates from (`SIPHON_STUN_URLS`, `SIPHON_TURN_URLS`).
        public var iceServers: [Livekit_ICEServer] = []
        /// `SIPHON_WEBRTC_RELAY_ONLY`: media only through the TURN relay — the worker's addresses
        /// never reach the browser, and a worker whose firewall lets out nothing but TURN still works.
        public var relayOnly = false
        public var offerTimeout = Duration.seconds(15)
        public var reofferTimeout = Duration.seconds(30)
        /// ICE and DTLS must be up this long after the answer.
        public var connectTimeout = Duration.seconds(15)
        /// Candidates gathered from STUN/TURN this long at most before the answer goes without the rest.
        public var gatherTimeout = Duration.seconds(2)
        /// Each call recorded here as `<id>-<epoch>.wav`, as on the SIP path (a worker sets it
        /// from `SIPHON_RECORDINGS_DIR`, created at start-up).
        public var recordingsDirectory: String?
        public init() {}

        public static func from(_ environment: Environment, rtpPorts: ClosedRange<Int>) throws -> Configuration {
            var c = Configuration()
            let list = { (key: String) in (environment[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            c.hostAddresses = environment["SIPHON_WEBRTC_HOSTS"] == nil ? nil : list("SIPHON_WEBRTC_HOSTS")
            c.portRange = rtpPorts
            c.mappedAddresses = list("SIPHON_PUBLIC_IP").filter { ip in (try? TransportAddress(ip: ip, port: 9)) != nil }
            for url in list("SIPHON_STUN_URLS") + list("SIPHON_TURN_URLS") {
                guard ICEServers.parse(url) != nil else {
                    throw SiphonError(.configuration, "SIPHON_STUN_URLS / SIPHON_TURN_URLS: '\(url.prefix(80))' is not stun:host[:port] or turn:host[:port][?transport=udp|tcp]")
                }
            }
            if !list("SIPHON_STUN_URLS").isEmpty { c.iceServers.append(Livekit_ICEServer.with { $0.urls = list("SIPHON_STUN_URLS") }) }
            if !list("SIPHON_TURN_URLS").isEmpty {
                c.iceServers.append(Livekit_ICEServer.with {
                    $0.urls = list("SIPHON_TURN_URLS")
                    $0.username = environment["SIPHON_TURN_USERNAME"] ?? ""
                    $0.credential = environment["SIPHON_TURN_PASSWORD"] ?? ""
                })
            }
            switch environment["SIPHON_WEBRTC_RELAY_ONLY"]?.lowercased() {
            case nil, "", "0", "false", "no": break
            case "1", "true", "yes":
                guard !list("SIPHON_TURN_URLS").isEmpty else {
                    throw SiphonError(.configuration, "SIPHON_WEBRTC_RELAY_ONLY needs a TURN server to relay through (SIPHON_TURN_URLS)")
                }
                c.relayOnly = true
            case let other?:
                throw SiphonError(.configuration, "SIPHON_WEBRTC_RELAY_ONLY must be true or false (got \"\(other.prefix(20))\")")
            }
            return c
        }
    }

    let agents: [String: Agent]
    let configuration: Configuration

    /// A browser's offer, checked as the dispatcher checks it before queueing the call: valid SDP
    /// with an audio section, ICE credentials and a DTLS fingerprint.
    @discardableResult
    public static func parseOffer(_ sdp: String) throws -> WebRTCSessionDescription {
        let description: WebRTCSessionDescription
        do {
            description = try WebRTCSessionDescription(parsing: sdp)
        } catch {
            throw SiphonError.invalid("not valid SDP: \(error)")
        }
        guard description.media.contains(where: { $0.kind == "audio" && !$0.isRejected }) else {
            throw SiphonError.invalid("no audio section to answer")
        }
        let text = sdp.lowercased()
        guard text.contains("a=ice-ufrag:"), text.contains("a=ice-pwd:"), text.contains("a=fingerprint:") else {
            throw SiphonError.invalid("no ICE credentials or DTLS fingerprint (a WebRTC offer has both)")
        }
        return description
    }

    public init(agents: [Agent], configuration: Configuration) {
        self.agents = Dictionary(agents.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.configuration = configuration
    }

    public func run(_ call: CallContext) async throws -> CallEnd {
        guard var agent = agents[call.job.agent] else { return CallEnd(.failed, "agent '\(call.job.agent)' is not served by this worker") }
        if let max = call.job.maxDuration { agent.turn.maxCallDuration = Double(max) }
        // One file for this worker's part of the call, across reconnections (caller left, agent
        // right); written off the media clock, and a disk that fails stops the recording, not the call.
        let recorder = configuration.recordingsDirectory.map { CallRecordingFile.webRTCRecorder(in: $0, for: call, logger: call.logger) }
        defer { recorder?.close() }
        return try await converse(call, agent: agent, recorder: recorder)
    }

    private func converse(_ call: CallContext, agent: Agent, recorder: CallRecorder?) async throws -> CallEnd {
        // The last generation any worker answered: a takeover waits for the page's next offer.
        var answered = Int(try await call.fields(["webrtc_answered"])["webrtc_answered"] ?? "") ?? 0
        var resume = call.isResume
        var connectedOnce = false
        while true {
            let wait = answered == 0 ? configuration.offerTimeout : configuration.reofferTimeout
            guard let offer = try await call.nextWebRTCOffer(after: answered, timeout: wait) else {
                if answered == 0 { return CallEnd(.failed, "the browser's offer never arrived") }
                return CallEnd(.ended, "the browser did not reconnect")
            }
            answered = offer.gen
            let leg: BrowserLeg
            do {
                leg = try await BrowserLeg.answer(offer, configuration: configuration, logger: call.logger)
            } catch {
                let message = (error as? SiphonError)?.message ?? "\(error)"
                try await call.postWebRTCAnswer(WebRTCSignals.Description(gen: offer.gen, error: message))
                try await call.setFields(["webrtc_answered": String(offer.gen)])
                if connectedOnce || resume { continue }  // the call goes on: the page may offer again
                return CallEnd(.failed, "the browser's offer was refused: \(message)")
            }
            defer { leg.close() }
            try await call.postWebRTCAnswer(WebRTCSignals.Description(gen: offer.gen, sdp: leg.answer))
            try await call.setFields(["webrtc_answered": String(offer.gen)])
            try await call.record(event: resume ? "webrtc_reconnected" : "webrtc_answered", detail: "offer \(offer.gen)")
            guard await leg.connected(within: configuration.connectTimeout) else {
                call.logger.warning("the browser's connection did not come up", metadata: ["webrtc.gen": "\(offer.gen)", "error": "\(leg.failure ?? "timeout")"])
                leg.close()
                continue
            }
            if !connectedOnce, call.statusAtStart != .active { try await call.transition(.active) }
            connectedOnce = true
            if let recorder { leg.peer.record(into: recorder) }
            let outcome = await leg.converse(agent: agent, call: call, resume: resume)
            await call.setClosingContext(leg.mediaFigures())
            if let outcome { return CallEnd(outcome.status.isTerminal ? outcome.status : .ended, outcome.reason) }
            // The connection dropped with the call still on: wait for the page to offer again.
            call.logger.info("browser connection lost; waiting for it to offer again", metadata: ["webrtc.reason": "\(leg.failure ?? "closed")"])
            try await call.record(event: "webrtc_lost", detail: leg.failure ?? "connection closed")
            resume = true
        }
    }
}

/// One answered offer: the peer, what it reports, the conversation over it.
final class BrowserLeg: Sendable {
    let peer: WebRTCPeer
    private let state = Mutex(State())
    private let watcher: Mutex<Task<Void, Never>?> = Mutex(nil)

    struct State {
        var connected: (at: ContinuousClock.Instant, profile: DTLSEndpoint.SRTPProfile, pair: String)?
        var failure: String?
        var gathered: [ICECandidate] = []
        var gatheringComplete = false
        var started = ContinuousClock.now
        var answer = ""
    }

    private init(peer: WebRTCPeer) { self.peer = peer }

    /// The answer's SDP, with every candidate gathered in time.
    var answer: String { state.withLock { $0.answer } }

    static func answer(_ offer: WebRTCSignals.Description, configuration: BrowserCallRunner.Configuration, logger: Logger) async throws -> BrowserLeg {
        let description = try BrowserCallRunner.parseOffer(offer.sdp ?? "")
        var c = WebRTCPeer.Configuration(role: .controlled)
        c.hostAddresses = configuration.hostAddresses
        c.portRange = configuration.portRange
        c.mappedAddresses = configuration.mappedAddresses
        c.relayOnly = configuration.relayOnly
        let ice = await ICEServers.resolve(configuration.iceServers, logger: logger)
        (c.stunServers, c.turnServers) = (ice.stun, ice.turn)
        let peer = try await WebRTCPeer.start(c, logger: logger)
        do {
            try await peer.setRemoteDescription(description, isOffer: true)
            var answer = try await peer.createAnswer(audioDirection: .sendrecv)
            let leg = BrowserLeg(peer: peer)
            leg.watch()
            // No trickle through the API: server-reflexive and relayed candidates go in the answer.
            let deadline = ContinuousClock.now + configuration.gatherTimeout
            let wantsServers = !configuration.iceServers.isEmpty || !configuration.mappedAddresses.isEmpty
            while wantsServers, ContinuousClock.now < deadline, !leg.state.withLock({ $0.gatheringComplete }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let extra = leg.state.withLock { $0.gathered }
            if let first = answer.media.indices.first {
                let have = Set(answer.media[first].candidates.map(\.description))
                answer.media[first].attributes += extra.filter { !have.contains($0.description) }
                    .map { .init("candidate", String($0.description.dropFirst("candidate:".count))) }
            }
            leg.state.withLock { $0.answer = answer.description }
            return leg
        } catch {
            peer.close()
            throw error
        }
    }

    private func watch() {
        let task = Task { [peer] in
            for await event in peer.events {
                if Task.isCancelled { return }
                switch event {
                case .candidate(let c) where c.kind != .host:
                    state.withLock { $0.gathered.append(c) }
                case .gatheringComplete:
                    state.withLock { $0.gatheringComplete = true }
                case .connected(let profile, let local, let remote):
                    state.withLock { s in if s.connected == nil { s.connected = (ContinuousClock.now, profile, "\(local.kind.rawValue)→\(remote.kind.rawValue)") } }
                case .failed(let why):
                    state.withLock { $0.failure = why }
                    peer.close()
                case .closed:
                    state.withLock { s in if s.failure == nil { s.failure = "the browser closed the connection" } }
                    peer.close()
                default:
                    break
                }
            }
        }
        watcher.withLock { $0 = task }
    }

    var failure: String? { state.withLock { $0.failure } }

    func connected(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (up, failed) = state.withLock { ($0.connected != nil, $0.failure != nil) }
            if up { return true }
            if failed { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The conversation until it ends (its outcome) or the connection drops (nil).
    func converse(agent: Agent, call: CallContext, resume: Bool) async -> Conversation.Outcome? {
        let audio = BrowserCallAudio(peer: peer)
        let conversation = Conversation(agent: agent, audio: audio, store: ClusterConversationStore(call: call), pipelineRate: 16000, logger: call.logger)
        return await withTaskGroup(of: Conversation.Outcome?.self) { group in
            group.addTask { await conversation.run(frames: self.peer.incoming, resume: resume) }
            group.addTask {
                // A dropped connection ends the frame stream, and with it this run of the conversation;
                // so does a new offer (the page lost the connection before we noticed).
                var ticks = 0
                while !Task.isCancelled, self.failure == nil {
                    try? await Task.sleep(for: .milliseconds(100))
                    ticks += 1
                    if ticks % 10 == 0, await call.hasPendingWebRTCOffer() {
                        self.state.withLock { s in if s.failure == nil { s.failure = "the browser offered again" } }
                    }
                }
                self.peer.close()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // The agent hung up, or the call ended: the outcome stands unless the line dropped first.
            if audio.hungUp { return first ?? Conversation.Outcome(status: .ended, reason: "the agent hung up") }
            return failure == nil ? first : nil
        }
    }

    func mediaFigures() -> [String: String] {
        let heard = peer.statistics
        var fields = heard.receivedFields.merging(["rtp.packets_sent": String(heard.packetsSent)]) { $1 }
        let (connected, started) = state.withLock { ($0.connected, $0.started) }
        if let c = connected {
            fields["webrtc.connect_ms"] = String((c.at - started).wholeMilliseconds)
            fields["webrtc.pair"] = c.pair
            fields["webrtc.srtp"] = "\(c.profile)"
        }
        return fields
    }

    func close() {
        watcher.withLock { $0?.cancel() }
        peer.close()
    }
}

/// The conversation's view of a browser call: audio on the peer; no digits or transfer (a browser
/// has no keypad the agent could hear, nor a number to be sent to); hanging up closes the peer.
final class BrowserCallAudio: CallAudio, Sendable {
    let peer: WebRTCPeer
    private let hangup = Mutex(false)

    init(peer: WebRTCPeer) { self.peer = peer }

    var hungUp: Bool { hangup.withLock { $0 } }
    /// A dropped connection is offered again by the page (its hang-up is a cancel through the API).
    var framesMayResume: Bool { true }
    func enqueue(_ frame: AudioFrame) { peer.enqueue(frame) }
    func flush() -> Int { peer.flushOutbound() }
    var queuedFrames: Int { peer.queuedFrames }
    var sentFrames: Int { peer.statistics.audioFramesSent }
    func sendDigits(_ digits: String) async {}
    func transfer(to target: String) async throws -> Int {
        throw SiphonError(.conflict, "a browser call cannot be transferred")
    }
    func hangup(reason: String) async {
        hangup.withLock { $0 = true }
        peer.close()
    }
}
