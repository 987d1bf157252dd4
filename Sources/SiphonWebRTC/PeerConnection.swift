/// One WebRTC peer connection, sans-IO (the str0m shape): ICE, then DTLS on the selected pair,
/// then SRTP with the DTLS-exported keys, all on one BUNDLE 5-tuple with rtcp-mux, datagrams
/// demultiplexed by their first byte (RFC 7983). It is fed remote descriptions, candidates,
/// datagrams and the time; it answers with datagrams to send, events, and its next timeout.
/// Sockets, clocks and codecs live outside (`PeerConnectionDriver`). Not thread-safe.
public final class PeerConnection {
    public struct Configuration: Sendable {
        public var ice: ICEAgent.Configuration
        /// `a=setup` of our answers: active (we are the DTLS client, what browsers do) or passive.
        public var answerSetup: DTLSEndpoint.Role = .client
        public var srtpProfiles: [DTLSEndpoint.SRTPProfile] = DTLSEndpoint.SRTPProfile.allCases
        public var certificate: DTLSCertificate = .shared
        /// The RTP payload type we send Opus with when we make the offer.
        public var opusPayloadType = 111
        public init(role: ICEAgent.Role) { ice = ICEAgent.Configuration(role: role) }
    }

    public enum Event: Sendable {
        case candidate(ICECandidate)
        case gatheringComplete
        case iceState(ICEAgent.State)
        /// DTLS is up and SRTP keyed: media can flow.
        case connected(profile: DTLSEndpoint.SRTPProfile, pair: (local: ICECandidate, remote: ICECandidate))
        /// Decrypted RTP and RTCP from the peer.
        case rtp([UInt8])
        case rtcp([UInt8])
        /// An SRTP packet dropped: it failed authentication or was a replay, or came before the
        /// keys (`beforeKeys`: the peer finished DTLS first, and its last flight is still on its way).
        case srtpDropped(beforeKeys: Bool)
        /// Decrypted application data (SCTP packets).
        case data([UInt8])
        case failed(String)
        /// The peer ended DTLS (close_notify): a hang-up, not a fault.
        case peerClosed
        case closed
    }

    public enum Output: Sendable {
        case transmit(socket: Int, to: TransportAddress, bytes: [UInt8])
        /// Open a TCP connection (to a TURN server): `ICEAgent.Output.connect`.
        case connect(socket: Int, to: TransportAddress)
        case event(Event)
    }

    public let configuration: Configuration
    public let ice: ICEAgent
    private var dtls: DTLSEndpoint?
    private var srtp: SRTPSession?
    private var remote: WebRTCSessionDescription?
    private var outputs: [Output] = []
    private var dtlsDeadline: UInt64?
    public private(set) var isConnected = false
    public private(set) var isClosed = false
    /// What we negotiated for audio: the payload type to send Opus with (from the answer or our offer).
    public private(set) var opusPayloadType: Int?
    /// Whether an application (SCTP) section was agreed: data channels run once DTLS is up.
    public private(set) var hasDataChannel = false
    /// Whether our description sends audio (sendrecv/sendonly): a receive-only connection sends no RTP.
    public private(set) var sendsAudio = false
    private var offeredDataChannel = false
    public var dtlsRole: DTLSEndpoint.Role? { dtls?.role }
    private var now: UInt64 = 0
    private let originSessionID = UInt64.random(in: 1...(1 << 62))
    private var originVersion: UInt64 = 1

    public init(configuration: Configuration) {
        self.configuration = configuration
        ice = ICEAgent(configuration: configuration.ice)
        opusPayloadType = nil
    }

    // MARK: descriptions

    /// Our offer: one audio section (Opus, `direction`), an application section for data channels
    /// when `dataChannel`, then `receiveSections` receive-only audio sections (LiveKit's single
    /// peer connection sends each subscribed track on one of them), BUNDLEd, `a=setup:actpass`.
    /// A later offer (renegotiation) keeps the sections, their mids and order, the ICE
    /// credentials and the origin's session id, and appends what is new (RFC 8829 §5.2.2).
    public func createOffer(audioDirection: WebRTCSessionDescription.Media.Direction = .sendrecv, dataChannel: Bool = false,
                            receiveSections: Int = 0, ssrc: UInt32, streamID: String = "siphon", trackID: String = "agent") -> WebRTCSessionDescription {
        var media: [WebRTCSessionDescription.Media] = []
        let pt = configuration.opusPayloadType
        func audioSection(mid: String, direction: WebRTCSessionDescription.Media.Direction) -> WebRTCSessionDescription.Media {
            var audio = WebRTCSessionDescription.Media(kind: "audio", proto: "UDP/TLS/RTP/SAVPF", formats: [String(pt)])
            audio.attributes = transportAttributes(mid: mid, setup: "actpass") + [
                .init(direction.rawValue), .init("rtcp-mux"),
                .init("rtpmap", "\(pt) opus/48000/2"), .init("fmtp", "\(pt) minptime=10;useinbandfec=1"),
            ]
            return audio
        }
        var audio = audioSection(mid: "0", direction: audioDirection)
        sendsAudio = audioDirection == .sendrecv || audioDirection == .sendonly
        if sendsAudio {
            audio.attributes += [.init("msid", "\(streamID) \(trackID)"), .init("ssrc", "\(ssrc) cname:siphon"), .init("ssrc", "\(ssrc) msid:\(streamID) \(trackID)")]
        }
        media.append(audio)
        offeredDataChannel = dataChannel
        if dataChannel {
            var app = WebRTCSessionDescription.Media(kind: "application", proto: "UDP/DTLS/SCTP", formats: ["webrtc-datachannel"])
            app.attributes = transportAttributes(mid: "1", setup: "actpass") + [.init("sctp-port", "5000"), .init("max-message-size", "262144")]
            media.append(app)
        }
        for _ in 0..<max(0, min(receiveSections, 32)) { media.append(audioSection(mid: String(media.count), direction: .recvonly)) }
        opusPayloadType = pt
        return description(media: media, bundle: media.compactMap(\.mid))
    }

    /// Our descriptions share one origin: the same session id, a version that grows (RFC 8866 §5.2).
    private func description(media: [WebRTCSessionDescription.Media], bundle: [String]) -> WebRTCSessionDescription {
        originVersion += 1
        return WebRTCSessionDescription(sessionAttributes: sessionAttributes(mids: bundle), media: media,
                                        originSessionID: originSessionID, originVersion: originVersion)
    }

    /// Our answer to `offer` (set it first with `setRemoteDescription`): every audio section
    /// accepted with Opus (`audioDirection` where we send, else the mirror of the offer's), an
    /// application section only when `dataChannel`, anything else rejected with port 0.
    public func createAnswer(audioDirection: WebRTCSessionDescription.Media.Direction? = nil, dataChannel: Bool = false,
                             ssrc: UInt32, streamID: String = "siphon", trackID: String = "agent") throws -> WebRTCSessionDescription {
        guard let offer = remote else { throw WebRTCError(.negotiation, "no remote offer to answer") }
        let setup = configuration.answerSetup == .client ? "active" : "passive"
        var media: [WebRTCSessionDescription.Media] = []
        var accepted: [String] = []
        var sending = false
        for m in offer.media {
            let mid = m.mid ?? String(media.count)
            switch m.kind {
            case "audio" where !m.isRejected:
                guard let pt = m.payloadType(for: "opus", rate: 48000) else {
                    media.append(rejected(m, mid: mid))
                    continue
                }
                var answer = WebRTCSessionDescription.Media(kind: "audio", proto: m.proto, formats: [String(pt)])
                let direction = Self.answerDirection(offered: m.direction, wanted: sending ? nil : audioDirection)
                answer.attributes = transportAttributes(mid: mid, setup: setup) + [
                    .init(direction.rawValue), .init("rtcp-mux"), .init("rtpmap", "\(pt) opus/48000/2"),
                    .init("fmtp", "\(pt) minptime=10;useinbandfec=1"),
                ]
                if direction == .sendrecv || direction == .sendonly {
                    sending = true
                    sendsAudio = true
                    opusPayloadType = pt
                    answer.attributes += [.init("msid", "\(streamID) \(trackID)"), .init("ssrc", "\(ssrc) cname:siphon")]
                } else if opusPayloadType == nil {
                    opusPayloadType = pt
                }
                media.append(answer)
                accepted.append(mid)
            case "application" where dataChannel && !m.isRejected && m.proto.hasSuffix("DTLS/SCTP"):
                var app = WebRTCSessionDescription.Media(kind: "application", proto: m.proto, formats: m.formats)
                app.attributes = transportAttributes(mid: mid, setup: setup) + [.init("sctp-port", "5000"), .init("max-message-size", "262144")]
                media.append(app)
                accepted.append(mid)
                hasDataChannel = true
            default:
                media.append(rejected(m, mid: mid))
            }
        }
        guard !accepted.isEmpty else { throw WebRTCError(.negotiation, "nothing in the offer Siphon can accept (Opus audio)") }
        return description(media: media, bundle: accepted)
    }

    private static func answerDirection(offered: WebRTCSessionDescription.Media.Direction,
                                        wanted: WebRTCSessionDescription.Media.Direction?) -> WebRTCSessionDescription.Media.Direction {
        let weSend = wanted == .sendrecv || wanted == .sendonly
        switch offered {
        case .sendrecv: return weSend ? .sendrecv : .recvonly
        case .sendonly: return .recvonly
        case .recvonly: return weSend ? .sendonly : .inactive
        case .inactive: return .inactive
        }
    }

    private func rejected(_ m: WebRTCSessionDescription.Media, mid: String) -> WebRTCSessionDescription.Media {
        WebRTCSessionDescription.Media(kind: m.kind, port: 0, proto: m.proto, formats: m.formats, attributes: [.init("mid", mid), .init("inactive")])
    }

    private func transportAttributes(mid: String, setup: String) -> [WebRTCSessionDescription.Attribute] {
        var a: [WebRTCSessionDescription.Attribute] = [
            .init("mid", mid), .init("ice-ufrag", ice.localUfrag), .init("ice-pwd", ice.localPassword), .init("ice-options", "trickle"),
            .init("fingerprint", "sha-256 \(configuration.certificate.fingerprint)"), .init("setup", setup),
        ]
        a += ice.localCandidates.map { .init("candidate", String($0.description.dropFirst("candidate:".count))) }
        if ice.isGatheringComplete { a.append(.init("end-of-candidates")) }
        return a
    }

    private func sessionAttributes(mids: [String]) -> [WebRTCSessionDescription.Attribute] {
        [.init("group", "BUNDLE " + mids.joined(separator: " ")), .init("msid-semantic", " WMS siphon")]
    }

    /// The peer's offer or answer: ICE credentials, candidates, and our DTLS role from its
    /// `a=setup` (an offer's actpass makes us the answerSetup role; an answer's active makes us
    /// the server). A repeated description with new ICE credentials is an ICE restart (DTLS and
    /// SRTP carry on).
    public func setRemoteDescription(_ sdp: WebRTCSessionDescription, isOffer: Bool, now: UInt64) throws {
        self.now = now
        guard let first = sdp.media.first(where: { !$0.isRejected }) else { throw WebRTCError(.negotiation, "every section is rejected") }
        guard let creds = sdp.iceCredentials(first) else { throw WebRTCError(.negotiation, "no ice-ufrag/ice-pwd") }
        guard creds.ufrag.count >= 4, creds.ufrag.count <= 256, creds.password.count >= 22, creds.password.count <= 256 else {
            throw WebRTCError(.negotiation, "ice-ufrag or ice-pwd of the wrong length (RFC 8839 §5.4)")
        }
        guard let fingerprint = sdp.fingerprint(first) else { throw WebRTCError(.negotiation, "no a=fingerprint:sha-256") }
        let setup = sdp.setup(first) ?? "actpass"
        let role: DTLSEndpoint.Role
        switch (isOffer, setup) {
        case (true, "actpass"): role = configuration.answerSetup
        case (true, "active"): role = .server
        case (true, "passive"): role = .client
        case (false, "active"): role = .server
        case (false, "passive"): role = .client
        default: throw WebRTCError(.negotiation, "a=setup:\(setup.prefix(16)) in an \(isOffer ? "offer" : "answer")")
        }
        if sdp.isICELite, ice.role == .controlled { throw WebRTCError(.negotiation, "both sides ICE-lite/controlled") }
        if let dtls {
            guard dtls.role == role else { throw WebRTCError(.negotiation, "the DTLS role cannot change within a session") }
            dtls.setRemoteFingerprint(fingerprint)
        } else {
            dtls = try DTLSEndpoint(role: role, certificate: configuration.certificate, remoteFingerprint: fingerprint, profiles: configuration.srtpProfiles)
        }
        if !isOffer, let pt = first.payloadType(for: "opus", rate: 48000), first.kind == "audio" { opusPayloadType = pt }
        if !isOffer, offeredDataChannel { hasDataChannel = sdp.media.contains { $0.kind == "application" && !$0.isRejected } }
        remote = sdp
        ice.setRemoteCredentials(ufrag: creds.ufrag, password: creds.password, now: now)
        for m in sdp.media where !m.isRejected { for c in m.candidates { ice.addRemoteCandidate(c, now: now) } }
        drainICE()
    }

    public func addRemoteCandidate(_ c: ICECandidate, now: UInt64) {
        self.now = now
        ice.addRemoteCandidate(c, now: now)
        drainICE()
    }

    public func addHostSocket(_ socket: Int, address: TransportAddress, now: UInt64) {
        self.now = now
        ice.addHostSocket(socket, address: address, now: now)
        drainICE()
    }

    /// The TCP connection asked for with `.connect` is up, or is not (`ICEAgent.streamConnected`).
    public func streamConnected(socket: Int, now: UInt64) {
        self.now = now
        ice.streamConnected(socket: socket, now: now)
        drainICE()
    }

    public func streamFailed(socket: Int, reason: String, now: UInt64) {
        self.now = now
        ice.streamFailed(socket: socket, reason: reason, now: now)
        drainICE()
    }

    // MARK: datagrams and time

    public func receive(_ bytes: [UInt8], from source: TransportAddress, socket: Int, now: UInt64) {
        self.now = now
        guard !isClosed else { return }
        if let (data, _) = ice.receive(bytes, from: source, socket: socket, now: now), let first = data.first {
            switch first {
            case 20...63:
                dtls?.receive(data)
                drainDTLS()
            case 128...191:
                guard data.count >= 2 else { break }
                guard let srtp else { outputs.append(.event(.srtpDropped(beforeKeys: true))); break }
                let pt = data[1] & 0x7F
                let rtcp = pt >= 64 && pt <= 95  // RFC 5761 §4
                if let plain = try? (rtcp ? srtp.unprotect(rtcp: data) : srtp.unprotect(rtp: data)) {
                    outputs.append(.event(rtcp ? .rtcp(plain) : .rtp(plain)))
                } else {
                    outputs.append(.event(.srtpDropped(beforeKeys: false)))
                }
            default:
                break  // TURN ChannelData arrives unwrapped by ICE; anything else is not ours
            }
        }
        drainICE()
    }

    public func handleTimeout(now: UInt64) {
        self.now = now
        ice.handleTimeout(now: now)
        if let d = dtlsDeadline, now >= d {
            dtls?.handleTimeout()
            drainDTLS()
        }
        drainICE()
    }

    public var nextTimeout: UInt64? {
        [ice.nextTimeout, dtlsDeadline].compactMap { $0 }.min()
    }

    public func poll() -> Output? { outputs.isEmpty ? nil : outputs.removeFirst() }

    /// An RTP packet (plain) to the peer: SRTP-protected, sent on the selected pair.
    @discardableResult
    public func send(rtp packet: [UInt8]) -> Bool {
        guard let srtp, let wire = try? srtp.protect(rtp: packet) else { return false }
        let ok = ice.send(wire)
        drainICE()
        return ok
    }

    @discardableResult
    public func send(rtcp packet: [UInt8]) -> Bool {
        guard let srtp, let wire = try? srtp.protect(rtcp: packet) else { return false }
        let ok = ice.send(wire)
        drainICE()
        return ok
    }

    /// Application data (SCTP packets) over DTLS.
    public func send(data: [UInt8]) throws {
        guard let dtls else { throw WebRTCError(.connectivity, "DTLS not set up") }
        try dtls.write(data)
        drainDTLS()
    }

    public func close() {
        guard !isClosed else { return }
        dtls?.close()
        drainDTLS()
        ice.close()
        drainICE()
        isClosed = true
        outputs.append(.event(.closed))
    }

    // MARK: plumbing

    private func drainICE() {
        while let out = ice.poll() {
            switch out {
            case .transmit(let socket, let to, let bytes): outputs.append(.transmit(socket: socket, to: to, bytes: bytes))
            case .connect(let socket, let to): outputs.append(.connect(socket: socket, to: to))
            case .candidate(let c): outputs.append(.event(.candidate(c)))
            case .gatheringComplete: outputs.append(.event(.gatheringComplete))
            case .state(let s):
                outputs.append(.event(.iceState(s)))
                if s == .failed { outputs.append(.event(.failed(isConnected ? "ICE consent lost" : "ICE found no working path"))) }
            case .selected:
                // DTLS begins once ICE has a pair (the client's ClientHello goes out now), its
                // retransmissions paced by the pair's round trip (twice it, 100 ms to 1 s).
                if let rtt = ice.roundTripNs { dtls?.setInitialRetransmission(ns: min(max(2 * rtt, 100_000_000), 1_000_000_000)) }
                dtls?.start()
                drainDTLS()
            }
        }
    }

    private func drainDTLS() {
        guard let dtls else { return }
        for d in dtls.takeOutgoing() { _ = ice.send(d) }
        for e in dtls.takeEvents() {
            switch e {
            case .connected(let keys):
                do {
                    srtp = try SRTPSession(keys: keys)
                    isConnected = true
                    if let pair = ice.activePair { outputs.append(.event(.connected(profile: keys.profile, pair: pair))) }
                } catch {
                    outputs.append(.event(.failed("SRTP: \(error)")))
                }
            case .data(let d): outputs.append(.event(.data(d)))
            case .closed: outputs.append(.event(.peerClosed))
            case .failed(let why): outputs.append(.event(.failed("DTLS: \(why)")))
            }
        }
        dtlsDeadline = dtls.timeoutNs.map { now + $0 }
        drainICE()
    }
}
