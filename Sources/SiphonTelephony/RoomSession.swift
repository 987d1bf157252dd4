import Foundation
import LiveKitProtocol
import Logging
import SiphonAgent
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonLiveKit
import SiphonWebRTC
import Synchronization

/// One join of the room: signalling, the peer connections, and the conversation. Over `/rtc/v1`
/// one connection (ours to offer) carries both directions and `subscriber` and `publisher` are
/// the same peer; over v0 the server offers the subscriber and we offer the publisher.
final class RoomSession: @unchecked Sendable {
    /// The conversation's rate in a room (Opus carries wideband speech).
    static let pipelineRate = 16000
    // Mutable state is in `state` (a Mutex); the rest is set once in `join`.
    let ticket: LiveKitRoomTicket
    let api: LiveKitAPI
    let logger: Logger
    let configuration: LiveKitMediaAgent.Configuration
    let subscriber: WebRTCPeer
    let publisher: WebRTCPeer
    let singlePeerConnection: Bool
    /// Join started (before the WebSocket) and the JoinResponse's arrival.
    let joinStarted: ContinuousClock.Instant
    let joined: ContinuousClock.Instant
    private let state: Mutex<State>

    struct State {
        var signal: LiveKitSignalClient
        var participantSID: String
        /// The newest token: the ticket's, then what LiveKit refreshes it with (`refresh_token`).
        var token: String
        /// When the subscriber connection (the phone's audio) had ICE and DTLS up, and how.
        var connected: (at: ContinuousClock.Instant, profile: DTLSEndpoint.SRTPProfile, pair: String)?
        var published = false
        var phoneGone: String?
        var replaced = false
        /// Receive-only audio sections in our offers (v1): one for the phone, more when the
        /// server asks (`media_sections_requirement`).
        var receiveSections = 1
        var tasks: [Task<Void, Never>] = []
    }

    private init(ticket: LiveKitRoomTicket, api: LiveKitAPI, logger: Logger, configuration: LiveKitMediaAgent.Configuration,
                 signal: LiveKitSignalClient, subscriber: WebRTCPeer, publisher: WebRTCPeer, joinStarted: ContinuousClock.Instant,
                 beforeAnswer: Bool) {
        (self.ticket, self.api, self.logger, self.configuration) = (ticket, api, logger, configuration)
        (self.joinStarted, joined) = (joinStarted, ContinuousClock.now)
        (self.subscriber, self.publisher) = (subscriber, publisher)
        singlePeerConnection = signal.singlePeerConnection
        var s = State(signal: signal, participantSID: signal.join?.participant.sid ?? "", token: ticket.token)
        // The phone left before we joined: the room says so by not listing it (unless it is still
        // being dialled: then the dial's outcome says whether it comes).
        let others = signal.join?.otherParticipants ?? []
        if !beforeAnswer, !others.contains(where: { $0.identity == ticket.callerIdentity && $0.state != .disconnected }) {
            s.phoneGone = "the phone hung up"
        }
        state = Mutex(s)
    }

    /// Joins the room. `beforeAnswer`: the phone is still being dialled (it may not be in the room
    /// yet, and its audio is not the callee's until the answer: `run` holds it until then).
    static func join(ticket: LiveKitRoomTicket, configuration: LiveKitMediaAgent.Configuration, api: LiveKitAPI, logger: Logger,
                     beforeAnswer: Bool = false) async throws -> RoomSession {
        let started = ContinuousClock.now
        let signal = try await LiveKitSignalClient.connect(url: ticket.url, token: ticket.token,
                                                           singlePeerConnection: configuration.singlePeerConnection, logger: logger)
        guard let join = signal.join else { signal.close(); throw LiveKitJoinError("LiveKit answered the join with a resume") }
        let ice = await ICEServers.resolve(join.iceServers, logger: logger)
        func peerConfiguration(_ role: ICEAgent.Role) -> WebRTCPeer.Configuration {
            var c = WebRTCPeer.Configuration(role: role)
            c.hostAddresses = configuration.hostAddresses
            c.includeLoopback = ICEServers.isLoopback(ticket.url)
            c.portRange = configuration.portRange
            c.stunServers = ice.stun
            c.turnServers = ice.turn
            return c
        }
        do {
            // v0: the server offers the subscriber connection (it controls ICE there); we offer the
            // publisher one. v1: we offer the only one.
            let publisher = try await WebRTCPeer.start(peerConfiguration(.controlling), logger: logger)
            let subscriber = signal.singlePeerConnection ? publisher : try await WebRTCPeer.start(peerConfiguration(.controlled), logger: logger)
            logger.info("joined the LiveKit room", metadata: ["livekit.room": "\(join.room.name)", "livekit.participant": "\(join.participant.sid)",
                                                              "livekit.signalling": "\(signal.singlePeerConnection ? "v1 (one peer connection)" : "v0")",
                                                              "livekit.subscriber_primary": "\(join.subscriberPrimary)"])
            if beforeAnswer { subscriber.holdIncoming(true) }
            // Over v0 the publisher connection hears nobody (the phone comes on the subscriber's):
            // its clock's silence frames are not queued for a reader that never comes.
            if !signal.singlePeerConnection { publisher.holdIncoming(true) }
            return RoomSession(ticket: ticket, api: api, logger: logger, configuration: configuration, signal: signal,
                               subscriber: subscriber, publisher: publisher, joinStarted: started, beforeAnswer: beforeAnswer)
        } catch {
            signal.close()
            throw error
        }
    }

    var signal: LiveKitSignalClient { state.withLock { $0.signal } }

    /// `SIPHON_RECORDINGS_DIR`: this worker's part of the call, from the answer, as
    /// `<id>-<epoch>.wav` (the phone left, the agent right, 16 kHz), written off the media clock as
    /// on the SIP and browser paths. Over v0 the two directions are two connections on two
    /// clocks: their frames are paired in a `TwoClockRecording`.
    private func startRecording(_ call: CallContext) -> CallRecorder? {
        guard let dir = configuration.recordingsDirectory else { return nil }
        let recorder = CallRecordingFile.webRTCRecorder(in: dir, for: call, logger: logger)
        if singlePeerConnection {
            publisher.record(into: recorder)
        } else {
            let joined = TwoClockRecording(recorder: recorder)
            subscriber.record(.heard, into: joined)
            publisher.record(.sent, into: joined)
        }
        return recorder
    }

    /// Runs the call's conversation in the room. `answered` (a session joined before the answer):
    /// media is set up meanwhile, the conversation starts when it returns true — on the first
    /// frame after the answer — and the session leaves when it returns false (the call failed).
    func run(agent: Agent, call: CallContext, resume: Bool, answered: (@Sendable () async -> Bool)? = nil) async throws -> CallEnd? {
        let (digits, digitSink) = AsyncStream<Character>.makeStream()
        // Over v1 the one connection brings the phone's audio and the room's data as well.
        let watchPublisher = Task { await self.watch(self.publisher, target: .publisher, digits: self.singlePeerConnection ? digitSink : nil) }
        let watchSubscriber = singlePeerConnection ? nil : Task { await self.watch(self.subscriber, target: .subscriber, digits: digitSink) }
        let signalling = Task { await self.handleSignalling() }
        state.withLock { $0.tasks += [watchPublisher, signalling] + (watchSubscriber.map { [$0] } ?? []) }
        defer { digitSink.finish() }
        try await publish()
        if let answered {
            guard await answered() else { return nil }
            subscriber.holdIncoming(false)
        }

        let recorder = startRecording(call)
        defer { recorder?.close() }
        let controls = RoomControls(session: self, call: call)
        let audio = WebRTCCallAudio(publisher: publisher, controls: controls)
        // Every turn stored is also published to the room as a transcript (LiveKit UIs show captions).
        let store = RoomTranscripts(store: ClusterConversationStore(call: call), session: self)
        let conversation = Conversation(agent: agent, audio: audio, store: store, pipelineRate: Self.pipelineRate,
                                        answerDetection: call.answerDetection(agent), logger: call.logger)
        let outcome = await withTaskGroup(of: Conversation.Outcome?.self) { group in
            group.addTask { await conversation.run(frames: self.subscriber.incoming, dtmf: digits, resume: resume) }
            group.addTask {
                // Ends the conversation when the phone leaves or we are replaced: the incoming audio stops.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    let done = self.state.withLock { $0.phoneGone != nil || $0.replaced }
                    if done { self.subscriber.close(); return nil }
                }
                return nil
            }
            var result: Conversation.Outcome?
            while let next = await group.next() {
                if let next { result = next; break }
                if state.withLock({ $0.phoneGone != nil || $0.replaced }) { break }
            }
            group.cancelAll()
            return result
        }
        await call.setClosingContext(mediaFigures())
        if state.withLock({ $0.replaced }) {
            // Another worker joined with our identity: the call is theirs (LiveKit removed us).
            throw SiphonError(.fenced, "replaced in the LiveKit room by a participant with the same identity (the call was taken over)")
        }
        if let gone = state.withLock({ $0.phoneGone }) { return CallEnd(.ended, gone) }
        guard let outcome else { return nil }
        return CallEnd(outcome.status.isTerminal ? outcome.status : .ended, outcome.reason)
    }

    /// What the call's media did, kept in its context like the SIP path's RTP figures: the
    /// signalling version, join and connect times (join start → JoinResponse; → ICE and DTLS up on the subscriber), the pair,
    /// the SRTP profile, packets and loss.
    func mediaFigures() -> [String: String] {
        let ms = { (d: Duration) in String(d.wholeMilliseconds) }
        let heard = subscriber.statistics, said = publisher.statistics
        var fields = heard.receivedFields.merging(["livekit.join_ms": ms(joined - joinStarted), "livekit.signalling": singlePeerConnection ? "v1" : "v0",
                                                   "rtp.packets_sent": String(said.packetsSent)]) { $1 }
        if let c = state.withLock({ $0.connected }) {
            fields["webrtc.connect_ms"] = ms(c.at - joinStarted)
            fields["webrtc.pair"] = c.pair
            fields["webrtc.srtp"] = "\(c.profile)"
        }
        return fields
    }

    /// The participant's own identity in the room (the token's subject).
    var identity: String { "agent-" + ticket.room.dropFirst("siphon-".count) }

    /// Sends a data packet to the room on the publisher's reliable channel.
    func publishData(_ packet: Livekit_DataPacket) {
        var p = packet
        p.kind = .reliable
        p.participantIdentity = identity
        guard let bytes: [UInt8] = try? p.serializedBytes() else { return }
        publisher.send(bytes, channel: "_reliable")
    }

    /// RFC 4733 digits for LiveKit SIP to play to the phone (`DataPacket.sip_dtmf`).
    func publishDTMF(_ digits: String) {
        for d in digits {
            guard let code = TelephoneEvent.event(for: d) else { continue }
            var dtmf = Livekit_SipDTMF()
            dtmf.code = UInt32(code)
            dtmf.digit = String(d)
            var packet = Livekit_DataPacket()
            packet.sipDtmf = dtmf
            publishData(packet)
        }
    }

    /// A finished transcript as a LiveKit text stream on `lk.transcription` (header, one chunk,
    /// trailer), attributed like LiveKit Agents' (A voice/room_io/_output.py).
    func publishTranscript(_ text: String, speaker: String, segment: String, generated: Bool) {
        let stream = "TS_" + UUID().uuidString.prefix(12)
        var header = Livekit_DataStream.Header()
        header.streamID = String(stream)
        header.timestamp = Timestamp.nowMs()
        header.topic = "lk.transcription"
        header.mimeType = "text/plain"
        header.totalLength = UInt64(text.utf8.count)
        header.attributes = ["lk.transcription_final": "true", "lk.segment_id": segment, "lk.transcribed_participant": speaker]
        var text_ = Livekit_DataStream.TextHeader()
        text_.operationType = .create
        text_.generated = generated
        header.textHeader = text_
        var chunk = Livekit_DataStream.Chunk()
        chunk.streamID = String(stream)
        chunk.chunkIndex = 0
        chunk.content = Data(text.utf8)
        var trailer = Livekit_DataStream.Trailer()
        trailer.streamID = String(stream)
        var p1 = Livekit_DataPacket(), p2 = Livekit_DataPacket(), p3 = Livekit_DataPacket()
        p1.streamHeader = header
        p2.streamChunk = chunk
        p3.streamTrailer = trailer
        for p in [p1, p2, p3] { publishData(p) }
    }

    /// Announces the agent's track, then offers the publisher connection once the server has it.
    private func publish() async throws {
        try await signal.send(SignalRequest.addAudioTrack(cid: "siphon-agent-audio", name: "agent"))
        // Data to the room (DTMF, transcripts) goes on the publisher connection's reliable channel.
        publisher.openDataChannel("_reliable")
        try await offer()
    }

    /// The publisher connection's offer: the agent's track and the data channels, and over v1 the
    /// receive-only sections the phone's (and any other) audio arrives on.
    private func offer() async throws {
        let receive = singlePeerConnection ? state.withLock { $0.receiveSections } : 0
        try await signal.send(SignalRequest.offer(try await publisher.createOffer(audioDirection: .sendonly, dataChannel: true, receiveSections: receive)))
    }

    /// One peer connection's events: our candidates out (`candidateInit` JSON; host candidates
    /// are in the descriptions already, only later ones are trickled) and the room's data
    /// packets in (the phone's keypad digits from LiveKit SIP).
    private func watch(_ peer: WebRTCPeer, target: Livekit_SignalTarget, digits: AsyncStream<Character>.Continuation?) async {
        for await event in peer.events {
            switch event {
            case .candidate(let c) where c.kind != .host:
                try? await signal.send(SignalRequest.trickle(c, target: target))
            case .channelMessage(_, let data, _):
                guard let packet = try? Livekit_DataPacket(serializedBytes: data) else {
                    logger.debug("undecodable data packet skipped", metadata: ["bytes": "\(data.count)"])
                    continue
                }
                if case .sipDtmf(let dtmf) = packet.value, let d = dtmf.digit.first ?? (dtmf.code < 16 ? TelephoneEvent.digits[Int(dtmf.code)] : nil),
                   TelephoneEvent.digits.contains(Character(d.uppercased())) {
                    digits?.yield(d)
                }
            case .connected(let profile, let local, let remote) where peer === subscriber:
                state.withLock { s in
                    if s.connected == nil { s.connected = (ContinuousClock.now, profile, "\(local.kind.rawValue)→\(remote.kind.rawValue)") }
                }
            case .failed(let why):
                logger.warning("room media connection failed", metadata: ["livekit.target": "\(target)", "error": "\(why)"])
            default:
                break
            }
        }
    }

    /// What the server says: subscriber offers, the publisher's answer, trickle, room events.
    /// A dropped connection is resumed (reconnect=1) a few times before the call is given up.
    private func handleSignalling() async {
        var attempts = 0
        while !Task.isCancelled {
            for await response in signal.responses {
                attempts = 0
                await handle(response)
                if state.withLock({ $0.replaced || $0.phoneGone != nil }) { return }
            }
            if Task.isCancelled || state.withLock({ $0.replaced || $0.phoneGone != nil }) { return }
            // The connection dropped: resume the session; the media keeps flowing meanwhile.
            attempts += 1
            guard attempts <= 5 else {
                state.withLock { $0.phoneGone = "lost the LiveKit signalling connection" }
                return
            }
            try? await Task.sleep(for: .milliseconds(200 * attempts))
            do {
                let (sid, token) = state.withLock { ($0.participantSID, $0.token) }
                let resumed = try await LiveKitSignalClient.connect(url: ticket.url, token: token, resume: sid,
                                                                    singlePeerConnection: singlePeerConnection, logger: logger)
                state.withLock { $0.signal = resumed }
                logger.info("LiveKit signalling resumed", metadata: ["livekit.participant": "\(sid)", "attempt": "\(attempts)"])
            } catch {
                logger.warning("LiveKit signalling resume failed", metadata: ["error": "\(error)", "attempt": "\(attempts)"])
            }
        }
    }

    private func handle(_ response: Livekit_SignalResponse) async {
        switch response.message {
        case .offer(let sd) where singlePeerConnection:
            logger.warning("LiveKit offered over /rtc/v1, where only the client offers; ignored", metadata: ["bytes": "\(sd.sdp.utf8.count)"])
        case .offer(let sd):
            do {
                try await subscriber.setRemoteDescription(try WebRTCSessionDescription(parsing: sd.sdp), isOffer: true)
                // The data section is accepted: the server's data channels (DTMF, transcripts) ride on it.
                let answer = try await subscriber.createAnswer(audioDirection: nil, dataChannel: true)
                try await signal.send(SignalRequest.answer(answer, id: sd.id))
            } catch {
                logger.warning("subscriber offer refused", metadata: ["error": "\(error)"])
            }
        case .answer(let sd):
            do {
                try await publisher.setRemoteDescription(try WebRTCSessionDescription(parsing: sd.sdp), isOffer: false)
            } catch {
                logger.warning("publisher answer refused", metadata: ["error": "\(error)"])
            }
        case .trickle(let t):
            guard let c = CandidateInit.parse(t.candidateInit) else { return }
            (t.target == .publisher ? publisher : subscriber).addRemoteCandidate(c)
        case .mediaSectionsRequirement(let need) where singlePeerConnection:
            // The server has more audio to send than we have receive sections: add as many as it
            // asks for and offer again (J RTCEngine.ts addMediaSections). Video is never subscribed.
            let sections = state.withLock { s -> Int? in
                guard need.numAudios > 0, s.receiveSections < 16 else { return nil }
                s.receiveSections = min(16, s.receiveSections + Int(min(need.numAudios, 16)))
                return s.receiveSections
            }
            guard let sections else { return }
            logger.info("LiveKit asked for more receive sections; offering again", metadata: ["livekit.audio_sections": "\(sections)"])
            do { try await offer() } catch { logger.warning("renegotiation failed", metadata: ["error": "\(error)"]) }
        case .update(let update):
            for p in update.participants where p.identity == ticket.callerIdentity && p.state == .disconnected {
                state.withLock { $0.phoneGone = "the phone hung up" }
            }
        case .leave(let leave):
            if leave.reason == .duplicateIdentity {
                state.withLock { $0.replaced = true }
            } else {
                state.withLock { $0.phoneGone = $0.phoneGone ?? "LiveKit closed the room (\(leave.reason))" }
            }
        case .reconnect:
            break
        case .refreshToken(let token) where !token.isEmpty && token.utf8.count <= 8192:
            state.withLock { $0.token = token }  // a resume after a drop presents the newest one
        default:
            break
        }
    }

    func close() {
        let (tasks, signal) = state.withLock { s in (s.tasks, s.signal) }
        for t in tasks { t.cancel() }
        subscriber.close()
        publisher.close()
        Task { await signal.leave() }
    }
}
