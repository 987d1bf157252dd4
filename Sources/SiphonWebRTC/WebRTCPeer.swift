import Foundation
import Logging
import NIOCore
import NIOPosix
import SiphonAudio
import SiphonCore
import SiphonRTP
import Synchronization

/// A peer connection with its sockets, its clock and an Opus audio track: the edge around the
/// sans-IO `PeerConnection`. Everything protocol-related runs on one NIO event loop (datagrams,
/// timers, the 20 ms media clock) — never on Swift's cooperative pool, and never blocked by a call
/// starting elsewhere. The conversation talks to it through `incoming` (caller audio, one frame per
/// 20 ms at the pipeline rate) and `enqueue` (agent audio).
public final class WebRTCPeer: @unchecked Sendable {
    // @unchecked: `pc`, `channels`, `media` and the timers are touched on `eventLoop` only; what
    // other threads touch is in `shared` (a Mutex).

    public struct Configuration: Sendable {
        public var role: ICEAgent.Role
        /// Addresses to bind host candidates on (default: this host's, IPv4; loopback only if asked).
        public var hostAddresses: [String]?
        public var includeLoopback = false
        /// UDP ports for the host sockets (default: any).
        public var portRange: ClosedRange<Int>?
        public var stunServers: [TransportAddress] = []
        public var turnServers: [ICEAgent.TURNServer] = []
        /// Relayed candidates only (`ICEAgent.Configuration.relayOnly`).
        public var relayOnly = false
        /// Public addresses this host is reached at through a one-to-one NAT (`ICEAgent.Configuration.mappedAddresses`).
        public var mappedAddresses: [String] = []
        public var answerSetup: DTLSEndpoint.Role = .client
        public var srtpProfiles: [DTLSEndpoint.SRTPProfile] = DTLSEndpoint.SRTPProfile.allCases
        /// The rate frames go to and come from the conversation.
        public var pipelineRate = 16000
        public init(role: ICEAgent.Role) { self.role = role }
    }

    public enum Event: Sendable {
        case candidate(ICECandidate)
        case gatheringComplete
        case iceState(ICEAgent.State)
        case connected(profile: DTLSEndpoint.SRTPProfile, local: ICECandidate, remote: ICECandidate)
        /// A data channel opened (by either side) and a message on one.
        case channelOpened(label: String)
        case channelMessage(label: String, data: [UInt8], binary: Bool)
        case failed(String)
        case closed
    }

    public struct Statistics: Sendable, Equatable {
        public var packetsSent = 0
        public var packetsReceived = 0
        /// SRTP packets that failed authentication or were replays (a steady count: the keys do
        /// not match, and nothing will be heard), and those that came before the keys.
        public var packetsRejected = 0
        public var packetsBeforeKeys = 0
        public var audioFramesSent = 0
        public var framesConcealed = 0
        /// Caller frames dropped because the conversation was over a second behind them.
        public var framesDropped = 0
        public var jitter = JitterBuffer.Statistics()

        /// What was received, as a call's context fields (`rtp.*`).
        public var receivedFields: [String: String] {
            ["rtp.packets_received": String(packetsReceived), "rtp.lost": String(jitter.lost), "rtp.concealed_frames": String(framesConcealed),
             "rtp.rejected": String(packetsRejected), "rtp.before_keys": String(packetsBeforeKeys), "rtp.frames_dropped": String(framesDropped)]
        }
    }

    public let configuration: Configuration
    public let eventLoop: any EventLoop
    public let events: AsyncStream<Event>
    /// Caller audio, one frame per 20 ms from connection on (silence while nothing arrives).
    public let incoming: AsyncStream<AudioFrame>
    public let ssrc = UInt32.random(in: 1...UInt32.max)
    private let eventSink: AsyncStream<Event>.Continuation
    private let incomingSink: AsyncStream<AudioFrame>.Continuation
    private let logger: Logger

    private var pc: PeerConnection
    private var channels: [any Channel] = []
    /// TCP connections to TURN servers, by the socket number the ICE agent gave them.
    private var streams: [Int: (channel: any Channel, server: TransportAddress)] = [:]
    private var timer: Scheduled<Void>?
    private var media: AudioTrack?
    private var sctp: SCTPAssociation?
    private var dataChannels: DataChannels?
    /// Channels asked for before SCTP came up, opened when it does.
    private var wantedChannels: [String] = []
    private let shared = Mutex(Shared())

    struct Shared {
        var outbound: [AudioFrame] = []
        /// What this connection records each tick; the recorder's owner closes it.
        var recording: Recording?
        var flushPending = false
        /// Caller audio is dropped rather than queued on `incoming` (an outbound call not yet
        /// answered: what the line carries before the answer is not the callee's).
        var incomingHeld = false
        var stats = Statistics()
        var closed = false
    }

    private init(configuration: Configuration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        var c = PeerConnection.Configuration(role: configuration.role)
        c.ice.stunServers = configuration.stunServers
        c.ice.turnServers = configuration.turnServers
        c.ice.relayOnly = configuration.relayOnly
        c.ice.mappedAddresses = configuration.mappedAddresses
        c.answerSetup = configuration.answerSetup
        c.srtpProfiles = configuration.srtpProfiles
        pc = PeerConnection(configuration: c)
        (events, eventSink) = AsyncStream<Event>.makeStream()
        (incoming, incomingSink) = AsyncStream<AudioFrame>.makeStream(bufferingPolicy: .bufferingNewest(50))
    }

    /// Binds the host sockets (so the first description carries host candidates) and starts
    /// gathering server-reflexive and relayed ones (trickled as `.candidate` events).
    public static func start(_ configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             logger: Logger = Logger(label: "siphon.webrtc")) async throws -> WebRTCPeer {
        let peer = WebRTCPeer(configuration: configuration, eventLoop: group.next(), logger: logger)
        let addresses = configuration.hostAddresses
            ?? HostAddress.addresses(includeLoopback: configuration.includeLoopback, includeIPv6: false)
        guard !addresses.isEmpty else { throw WebRTCError(.connectivity, "no network interface to gather host candidates on") }
        var bound: [(Int, TransportAddress)] = []
        for ip in addresses {
            guard let (channel, address) = try await peer.bind(ip) else { continue }
            peer.channels.append(channel)
            bound.append((peer.channels.count - 1, address))
        }
        guard !bound.isEmpty else {
            throw ListenError(.rtp, host: addresses.joined(separator: ","), port: configuration.portRange?.lowerBound ?? 0,
                              reason: "no UDP port could be bound for WebRTC")
        }
        try await peer.eventLoop.submit {
            for (socket, address) in bound { peer.pc.addHostSocket(socket, address: address, now: Self.now()) }
            peer.pump()
        }.get()
        return peer
    }

    private func bind(_ ip: String) async throws -> (any Channel, TransportAddress)? {
        let handler = InboundHandler(peer: self)
        for attempt in 0..<32 {
            let port = configuration.portRange.map { RTPPortAllocator.next(in: $0, pairs: false) } ?? 0
            do {
                let channel = try await DatagramBootstrap(group: eventLoop)
                    .channelInitializer { $0.pipeline.addHandler(handler) }
                    .bind(host: ip, port: port).get()
                guard let local = channel.localAddress?.port, let address = try? TransportAddress(ip: ip, port: local) else {
                    try? await channel.close()
                    return nil
                }
                return (channel, address)
            } catch {
                if configuration.portRange == nil || attempt == 31 {
                    logger.warning("cannot bind a WebRTC socket", metadata: ["webrtc.address": "\(ip)", "error": "\(error)"])
                    return nil
                }
            }
        }
        return nil
    }

    // MARK: negotiation (hops onto the event loop)

    /// `receiveSections`: receive-only audio sections after ours (`PeerConnection.createOffer`).
    public func createOffer(audioDirection: WebRTCSessionDescription.Media.Direction = .sendrecv, dataChannel: Bool = false,
                            receiveSections: Int = 0) async throws -> WebRTCSessionDescription {
        try await eventLoop.submit {
            self.pc.createOffer(audioDirection: audioDirection, dataChannel: dataChannel, receiveSections: receiveSections, ssrc: self.ssrc)
        }.get()
    }

    public func createAnswer(audioDirection: WebRTCSessionDescription.Media.Direction? = .sendrecv, dataChannel: Bool = false) async throws -> WebRTCSessionDescription {
        try await eventLoop.submit { try self.pc.createAnswer(audioDirection: audioDirection, dataChannel: dataChannel, ssrc: self.ssrc) }.get()
    }

    public func setRemoteDescription(_ sdp: WebRTCSessionDescription, isOffer: Bool) async throws {
        try await eventLoop.submit {
            try self.pc.setRemoteDescription(sdp, isOffer: isOffer, now: Self.now())
            self.pump()
        }.get()
    }

    public func addRemoteCandidate(_ candidate: ICECandidate) {
        eventLoop.execute {
            self.pc.addRemoteCandidate(candidate, now: Self.now())
            self.pump()
        }
    }

    /// Opens a data channel (now if SCTP is up, else as soon as it is).
    public func openDataChannel(_ label: String) {
        eventLoop.execute {
            if let channels = self.dataChannels { channels.open(label: label) } else { self.wantedChannels.append(label) }
        }
    }

    /// A message on the data channel labelled `label` (dropped if it is not open).
    public func send(_ data: [UInt8], channel label: String, binary: Bool = true) {
        eventLoop.execute {
            if self.dataChannels?.send(data, on: label, binary: binary) != true {
                self.logger.debug("data channel message not sent", metadata: ["webrtc.channel": "\(label)"])
            }
        }
    }

    // MARK: audio (any thread)

    /// Queues a frame of agent audio (pipeline rate) for the 20 ms sender.
    /// Records this connection's audio into `recorder` (stereo at the pipeline rate: what it heard
    /// left, what it sent right), written off the media clock. The recorder outlives the peer: a
    /// call that reconnects records its next connection into the same file.
    public func record(into recorder: CallRecorder) { shared.withLock { $0.recording = .both(recorder) } }

    /// Records one direction of a call whose other direction is another connection (LiveKit's v0
    /// signalling: the phone heard on the subscriber, the agent sent on the publisher).
    public func record(_ part: RecordedPart, into recording: TwoClockRecording) {
        shared.withLock { $0.recording = part == .heard ? .heard(recording) : .sent(recording) }
    }

    public enum RecordedPart: Sendable { case heard, sent }

    enum Recording {
        /// Received left, sent right, one frame each per tick.
        case both(CallRecorder)
        case heard(TwoClockRecording)
        case sent(TwoClockRecording)
    }

    public func enqueue(_ frame: AudioFrame) { shared.withLock { $0.outbound.append(frame) } }

    /// Drops every queued frame (barge-in); the next tick sends silence.
    public func flushOutbound() -> Int {
        shared.withLock { s in
            let n = s.outbound.count
            s.outbound.removeAll(keepingCapacity: true)
            s.flushPending = true
            return n
        }
    }

    /// While held, received audio is dropped instead of queued on `incoming`: a conversation that
    /// starts later starts with what is heard from then on, not with a second of stale audio.
    public func holdIncoming(_ held: Bool) { shared.withLock { $0.incomingHeld = held } }

    public var queuedFrames: Int { shared.withLock { $0.outbound.count } }
    public var statistics: Statistics { shared.withLock { $0.stats } }

    public func close() {
        let first = shared.withLock { s -> Bool in defer { s.closed = true }; return !s.closed }
        guard first else { return }
        eventLoop.execute {
            self.pc.close()
            self.pump()
            self.timer?.cancel()
            self.sctp?.close()
            for c in self.channels { c.close(promise: nil) }
            for s in self.streams.values { s.channel.close(promise: nil) }
            self.streams = [:]
            self.incomingSink.finish()
            self.eventSink.finish()
        }
    }

    // MARK: on the event loop

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    fileprivate func received(_ bytes: [UInt8], from address: SocketAddress, channel: any Channel) {
        guard let socket = channels.firstIndex(where: { $0 === channel }), let ip = address.ipAddress, let port = address.port,
              let source = try? TransportAddress(ip: ip, port: port) else { return }
        pc.receive(bytes, from: source, socket: socket, now: Self.now())
        pump()
    }

    /// Sends what the core wants sent, handles its events, and sets the timer it asks for.
    private func pump() {
        while let out = pc.poll() {
            switch out {
            case .transmit(let socket, let to, let bytes):
                if let stream = streams[socket] {
                    stream.channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
                    continue
                }
                guard channels.indices.contains(socket), let address = try? SocketAddress(ipAddress: to.ip, port: to.port) else { continue }
                channels[socket].writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: bytes)), promise: nil)
            case .connect(let socket, let to):
                connectStream(socket, to: to)
            case .event(let e):
                handle(e)
            }
        }
        timer?.cancel()
        if let next = pc.nextTimeout {
            timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(next)) { [weak self] in
                guard let self else { return }
                self.pc.handleTimeout(now: Self.now())
                self.pump()
            }
        }
    }

    /// A TCP connection to a TURN server (RFC 8656 §6.2.2): messages framed out of the stream go
    /// to the core as if they had come from the server on that socket.
    private func connectStream(_ socket: Int, to server: TransportAddress) {
        let handler = StreamHandler(peer: self, socket: socket, server: server)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { $0.pipeline.addHandler(handler) }
            .connect(host: server.ip, port: server.port)
            .whenComplete { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let channel):
                    if self.shared.withLock({ $0.closed }) { channel.close(promise: nil); return }
                    self.streams[socket] = (channel, server)
                    self.pc.streamConnected(socket: socket, now: Self.now())
                case .failure(let error):
                    self.logger.warning("cannot reach a TURN server over TCP", metadata: ["webrtc.turn": "\(server)", "error": "\(error)"])
                    self.pc.streamFailed(socket: socket, reason: "\(error)", now: Self.now())
                }
                self.pump()
            }
    }

    fileprivate func streamReceived(_ message: [UInt8], socket: Int, server: TransportAddress) {
        pc.receive(message, from: server, socket: socket, now: Self.now())
        pump()
    }

    fileprivate func streamEnded(socket: Int, reason: String) {
        guard let stream = streams.removeValue(forKey: socket) else { return }
        stream.channel.close(promise: nil)
        guard !shared.withLock({ $0.closed }) else { return }
        logger.warning("TURN connection over TCP lost", metadata: ["webrtc.turn": "\(stream.server)", "error": "\(reason)"])
        pc.streamFailed(socket: socket, reason: reason, now: Self.now())
        pump()
    }

    private func handle(_ e: PeerConnection.Event) {
        switch e {
        case .candidate(let c): eventSink.yield(.candidate(c))
        case .gatheringComplete: eventSink.yield(.gatheringComplete)
        case .iceState(let s): eventSink.yield(.iceState(s))
        case .connected(let profile, let pair):
            logger.info("WebRTC connected", metadata: ["webrtc.local": "\(pair.local.kind.rawValue) \(pair.local.address?.description ?? "")",
                                                       "webrtc.remote": "\(pair.remote.kind.rawValue) \(pair.remote.address?.description ?? "")",
                                                       "webrtc.srtp": "\(profile)"])
            startMedia()
            startDataChannels()
            eventSink.yield(.connected(profile: profile, local: pair.local, remote: pair.remote))
        case .rtp(let bytes):
            shared.withLock { $0.stats.packetsReceived += 1 }
            media?.receive(bytes)
        case .rtcp: break
        case .srtpDropped(let beforeKeys):
            let first = shared.withLock { s -> Bool in
                if beforeKeys { s.stats.packetsBeforeKeys += 1 } else { s.stats.packetsRejected += 1 }
                return !beforeKeys && s.stats.packetsRejected == 1
            }
            if first { logger.warning("WebRTC: an SRTP packet failed authentication or was a replay (more are counted, not logged)") }
        case .data(let d): sctp?.input(d)
        case .failed(let why):
            logger.warning("WebRTC failed", metadata: ["error": "\(why)"])
            eventSink.yield(.failed(why))
        case .peerClosed:
            logger.info("WebRTC peer closed the connection")
            eventSink.yield(.closed)
        case .closed: eventSink.yield(.closed)
        }
    }

    /// SCTP over the DTLS association when an application section was agreed (RFC 8841).
    private func startDataChannels() {
        guard pc.hasDataChannel, sctp == nil, let role = pc.dtlsRole else { return }
        let association = SCTPAssociation(eventLoop: eventLoop, output: { [weak self] packet in
            guard let self else { return }
            do { try self.pc.send(data: packet) } catch { self.logger.debug("SCTP packet not sent", metadata: ["error": "\(error)"]) }
            self.pump()
        }, onEvent: { [weak self] event in self?.sctpEvent(event) })
        sctp = association
        dataChannels = DataChannels(association: association, isDTLSClient: role == .client)
        do {
            try association.start()
        } catch {
            logger.warning("data channels unavailable", metadata: ["error": "\(error)"])
        }
    }

    private func sctpEvent(_ event: SCTPAssociation.Event) {
        guard let channels = dataChannels else { return }
        if case .up = event {
            for label in wantedChannels { channels.open(label: label) }
            wantedChannels = []
        }
        for e in channels.handle(event) {
            switch e {
            case .opened(let c): eventSink.yield(.channelOpened(label: c.label))
            case .message(let label, let data, let binary): eventSink.yield(.channelMessage(label: label, data: data, binary: binary))
            case .closed: break
            }
        }
    }

    /// The 20 ms media clock, at absolute deadlines shared with the other calls on the loop
    /// (`LoopMediaClock`): a late tick runs late once, the next one is on time again (never an
    /// accumulated drift).
    private func startMedia() {
        guard media == nil else { return }
        // Clocked even with no audio section (a room where nobody publishes yet): silence frames
        // keep the conversation's 20 ms loop going.
        do {
            media = try AudioTrack(payloadType: UInt8(pc.opusPayloadType ?? 111), ssrc: ssrc, pipelineRate: configuration.pipelineRate)
        } catch {
            eventSink.yield(.failed("Opus: \(error)"))
            return
        }
        LoopMediaClock.on(eventLoop).attach { [weak self] in
            guard let self, !self.pc.isClosed else { return false }
            self.mediaTick()
            return true
        }
    }

    private func mediaTick() {
        guard let media else { return }
        let heard = media.playout()
        let (frame, flushed, recording, held) = shared.withLock { s -> (AudioFrame?, Bool, Recording?, Bool) in
            defer { s.flushPending = false }
            return (s.outbound.isEmpty ? nil : s.outbound.removeFirst(), s.flushPending, s.recording, s.incomingHeld)
        }
        if !held, case .dropped = incomingSink.yield(heard) {
            let first = shared.withLock { s in defer { s.stats.framesDropped += 1 }; return s.stats.framesDropped == 0 }
            if first { logger.warning("caller audio dropped: the conversation is over a second behind") }
        }
        switch recording {
        case .both(let recorder)?:
            recorder.append(left: heard.samples, right: frame?.samples, count: heard.samples.count)
        case .heard(let joined)?:
            joined.heard(heard.samples)
        case .sent(let joined)?:
            joined.sent(frame?.samples, count: heard.samples.count)
        case nil:
            break
        }
        if flushed { media.markTalkspurt() }
        if pc.sendsAudio, let packet = media.packet(for: frame) {
            let sent = pc.send(rtp: packet)
            shared.withLock { s in
                if sent { s.stats.packetsSent += 1 }
                if frame != nil { s.stats.audioFramesSent += 1 }
                s.stats.jitter = media.jitterStatistics
                s.stats.framesConcealed = media.concealed
            }
        }
        if pc.sendsAudio, media.reportDue { _ = pc.send(rtcp: media.senderReport()) }
        pump()
    }

    /// Bytes of a TURN-over-TCP connection, framed into messages (a stream that is not TURN is closed).
    private final class StreamHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        weak var peer: WebRTCPeer?
        let socket: Int
        let server: TransportAddress
        private var framer = TURNStreamFramer()
        init(peer: WebRTCPeer, socket: Int, server: TransportAddress) { (self.peer, self.socket, self.server) = (peer, socket, server) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            do {
                for message in try framer.push(bytes) { peer?.streamReceived(message, socket: socket, server: server) }
            } catch {
                peer?.streamEnded(socket: socket, reason: "\(error)")
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer?.streamEnded(socket: socket, reason: "the server closed the connection")
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            peer?.streamEnded(socket: socket, reason: "\(error)")
        }
    }

    private final class InboundHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        weak var peer: WebRTCPeer?
        init(peer: WebRTCPeer) { self.peer = peer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            peer?.received(Array(envelope.data.readableBytesView), from: envelope.remoteAddress, channel: context.channel)
        }
    }
}
