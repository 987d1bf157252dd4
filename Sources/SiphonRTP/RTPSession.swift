import Foundation
import Logging
import NIOCore
import NIOPosix
import SiphonAudio
import SiphonCore
import Synchronization

/// The media parameters agreed in SDP, as RTP needs them.
public struct RTPMediaParameters: Sendable, Equatable {
    /// "PCMU", "PCMA" or "opus".
    public var codec: String
    public var payloadType: UInt8
    public var dtmfPayloadType: UInt8?
    public var remoteHost: String
    public var remotePort: Int
    public var sends = true
    public var receives = true
    /// SRTP keys (SDES); nil for plain RTP.
    public var srtp: SRTPParameters?

    public init(codec: String, payloadType: UInt8, dtmfPayloadType: UInt8?, remoteHost: String, remotePort: Int, sends: Bool = true, receives: Bool = true,
                srtp: SRTPParameters? = nil) {
        (self.codec, self.payloadType, self.dtmfPayloadType, self.remoteHost, self.remotePort) = (codec, payloadType, dtmfPayloadType, remoteHost, remotePort)
        (self.sends, self.receives, self.srtp) = (sends, receives, srtp)
    }
}

/// A stream's SRTP: the profile, our master key and salt, the peer's.
public struct SRTPParameters: Sendable, Equatable, CustomStringConvertible {
    public var profile: SRTPStream.Profile
    public var local: [UInt8]
    public var remote: [UInt8]

    public init(profile: SRTPStream.Profile, local: [UInt8], remote: [UInt8]) { (self.profile, self.local, self.remote) = (profile, local, remote) }

    /// Never the keys.
    public var description: String { "SRTP \(profile)" }
}

/// One call's RTP/RTCP (RFC 3550): a UDP socket pair, a 20 ms media clock that plays the jitter
/// buffer out (decoded, concealed, resampled to the pipeline rate) and sends one paced frame per
/// tick (agent audio, RFC 4733 DTMF, or silence to keep NAT bindings and the far jitter buffer
/// fed), symmetric RTP, and RTCP reports every 5 s.
public final class RTPSession: Sendable {
    public struct Configuration: Sendable {
        public var bindHost = "0.0.0.0"
        public var portRange: ClosedRange<Int> = 16384...32767
        /// The rate frames are delivered and accepted at (STT/TTS side).
        public var pipelineRate = 16000
        /// Latch onto the address media really comes from (NAT), instead of the SDP one.
        public var symmetric = true
        /// Ticks driven by a test instead of the 20 ms timer.
        public var clock: ManualMediaClock?
        public init() {}
    }

    public struct Statistics: Sendable, Equatable {
        public var packetsSent = 0
        /// Frames of queued (agent) audio sent, excluding silence and DTMF.
        public var audioFramesSent = 0
        /// For each flush (barge-in), ticks until the first silent packet went out (the last 32).
        public var flushReactionFrames: [Int] = []
        public var packetsReceived = 0
        public var bytesSent = 0
        public var framesPlayed = 0
        public var framesConcealed = 0
        /// Caller frames the conversation was too far behind to take (over a second of backlog).
        public var framesDropped = 0
        public var dtmfReceived = 0
        public var jitter: JitterBuffer.Statistics = .init()
        public var rtcpReceived = 0
        /// SRTP(C) packets that failed authentication or replayed, dropped.
        public var srtpRefused = 0
    }

    /// RTP packets this process has sent, all calls together (the worker's /healthz reports it, so
    /// a test or an operator sees whether a worker is still putting media on the wire).
    public static var packetsSentTotal: Int { sentTotal.load(ordering: .relaxed) }
    private static let sentTotal = Atomic<Int>(0)

    public let configuration: Configuration
    /// Caller audio, one frame per 20 ms at the pipeline rate (silence while nothing arrives).
    public let incoming: AsyncStream<AudioFrame>
    public let dtmf: AsyncStream<Character>
    private let incomingSink: AsyncStream<AudioFrame>.Continuation
    private let dtmfSink: AsyncStream<Character>.Continuation
    private let state: Mutex<State>
    private let logger: Logger
    private let group: any EventLoopGroup
    public let ssrc: UInt32

    struct State: @unchecked Sendable {
        // `codec`/resamplers are touched only by the clock task; the rest under the mutex.
        var rtp: (any Channel)?
        var rtcp: (any Channel)?
        var localPort = 0
        var parameters: RTPMediaParameters?
        var remote: SocketAddress?
        var latched = false
        var jitter: JitterBuffer?
        var events = TelephoneEventReceiver()
        var outbound: [AudioFrame] = []
        var dtmfQueue: [TelephoneEvent] = []
        var dtmfTimestamp: UInt32 = 0
        var tick = 0
        var flushTick: Int?
        var recorder: CallRecorder?
        var lastSentFrame: [Int16]?
        var inEvent = false
        var sequence: UInt16 = UInt16.random(in: 0...UInt16.max)
        var timestamp: UInt32 = UInt32.random(in: 0...UInt32.max)
        var marker = true
        var running = false
        var stats = Statistics()
        var lastSR: (ntpMiddle: UInt32, received: ContinuousClock.Instant)?
        var remoteSSRC: UInt32?
        /// SRTP both ways; used under the lock (sends on the clock, receives on the sockets' loops).
        var srtpOut: SRTPStream?
        var srtpIn: SRTPStream?
        var pipelineRate = 16000
        /// Ends `run()` (once): called by the clock when it sees `running` false, or on cancellation.
        var clockFinish: (@Sendable () -> Void)?
        var clockDone = false
        var stopped = false
    }

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "siphon.rtp"),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        ssrc = UInt32.random(in: 1...UInt32.max)
        var initial = State()
        initial.pipelineRate = configuration.pipelineRate
        state = Mutex(initial)
        (incoming, incomingSink) = AsyncStream<AudioFrame>.makeStream(bufferingPolicy: .bufferingNewest(50))
        (dtmf, dtmfSink) = AsyncStream<Character>.makeStream()
    }

    public var localPort: Int { state.withLock { $0.localPort } }

    /// The rate frames are delivered and accepted at for this call.
    public var pipelineRate: Int { state.withLock { $0.pipelineRate } }

    /// Sets the call's pipeline rate before the media clock starts: a G.711 call runs at 8 kHz
    /// end to end, so audio already at the line's rate (8 kHz STT, μ-law TTS) is never resampled.
    public func setPipelineRate(_ rate: Int) throws {
        guard [8000, 16000, 24000, 48000].contains(rate) else { throw SiphonError.invalid("pipeline rate \(rate) is not 8, 16, 24 or 48 kHz") }
        try state.withLock { s in
            guard !s.running, s.recorder == nil else { throw SiphonError(.conflict, "the pipeline rate is set before the media clock starts and the recording") }
            s.pipelineRate = rate
        }
    }
    public var statistics: Statistics { state.withLock { s in var st = s.stats; st.jitter = s.jitter?.statistics ?? .init(); return st } }
    /// Frames queued for sending (40 ms = 2 frames, etc.).
    public var queuedFrames: Int { state.withLock { $0.outbound.count } }
    /// Agent audio frames put on the wire so far.
    public var audioFramesSent: Int { state.withLock { $0.stats.audioFramesSent } }

    /// Binds an even RTP port (and the next one for RTCP) in the configured range, taken in turn
    /// (`RTPPortAllocator`: a port just released is the last to come back).
    public func open() async throws -> Int {
        let handler = RTPInboundHandler(session: self)
        let range = configuration.portRange
        for _ in 0..<64 {
            let port = RTPPortAllocator.next(in: range, pairs: true)
            do {
                let rtp = try await DatagramBootstrap(group: group)
                    .channelInitializer { $0.pipeline.addHandler(handler) }
                    .bind(host: configuration.bindHost, port: port).get()
                let rtcp = try? await DatagramBootstrap(group: group)
                    .channelInitializer { $0.pipeline.addHandler(RTCPInboundHandler(session: self)) }
                    .bind(host: configuration.bindHost, port: port + 1).get()
                state.withLock {
                    $0.rtp = rtp
                    $0.rtcp = rtcp
                    $0.localPort = port
                }
                return port
            } catch {
                continue
            }
        }
        throw ListenError(.rtp, host: configuration.bindHost, port: range.lowerBound,
                          reason: "no free port pair in \(range.lowerBound)-\(range.upperBound) after 64 tries (too many calls for the range?)")
    }

    /// Sets or changes where media goes and which codec it uses (answer, re-INVITE, takeover).
    public func configure(_ parameters: RTPMediaParameters) throws {
        let clockRate = parameters.codec.lowercased() == "opus" ? 48000 : 8000
        // An address literal (what SDP carries in practice) is parsed, not resolved: resolving a name
        // blocks the calling thread.
        let remote = try (try? SocketAddress(ipAddress: parameters.remoteHost, port: parameters.remotePort))
            ?? SocketAddress.makeAddressResolvingHost(parameters.remoteHost, port: parameters.remotePort)
        // New keys (an answer, a re-INVITE that rekeys) make new contexts; the same keys keep theirs
        // and with them the replay window.
        let rekey = state.withLock { $0.parameters?.srtp } != parameters.srtp
        let srtp = try rekey ? parameters.srtp.map { p in
            (try SRTPStream(profile: p.profile, keyAndSalt: p.local, direction: .outbound), try SRTPStream(profile: p.profile, keyAndSalt: p.remote, direction: .inbound))
        } : nil
        state.withLock { s in
            if rekey { (s.srtpOut, s.srtpIn) = (srtp?.0, srtp?.1) }
            let codecChanged = s.parameters?.codec != parameters.codec || s.parameters?.payloadType != parameters.payloadType
            s.parameters = parameters
            if !s.latched { s.remote = remote }
            if codecChanged || s.jitter == nil { s.jitter = JitterBuffer(configuration: .init(clockRate: clockRate)) }
            if !parameters.sends {
                // On hold we send nothing; an event cut in half would replay as a second digit later.
                s.dtmfQueue.removeAll()
                s.inEvent = false
            }
            if s.remote != remote { s.latched = false; s.remote = remote }
        }
    }

    /// Queues a frame of agent audio (pipeline rate) for the paced sender.
    public func enqueue(_ frame: AudioFrame) { state.withLock { $0.outbound.append(frame) } }

    /// Drops every queued frame: the caller barged in. The next tick sends silence.
    public func flushOutbound() -> Int {
        state.withLock { s in
            let n = s.outbound.count
            s.outbound.removeAll(keepingCapacity: true)
            s.marker = true
            s.flushTick = s.tick
            return n
        }
    }

    /// Sends digits as RFC 4733 events (audio pauses while they play).
    public func sendDigits(_ digits: String, durationMs: Int = 100) {
        state.withLock { s in
            for d in digits {
                guard let events = TelephoneEventSender.packets(digit: d, duration: durationMs) else { continue }
                s.dtmfQueue += events
                s.dtmfQueue += Array(repeating: TelephoneEvent(event: 255), count: 3)  // 60 ms gap marker
            }
        }
    }

    public func stop() {
        let (channels, finish) = state.withLock { s -> ([any Channel], (@Sendable () -> Void)?) in
            s.running = false
            s.stopped = true
            s.recorder?.close()  // queued behind the frames still being written
            return ([s.rtp, s.rtcp].compactMap { $0 }, s.clockFinish)
        }
        finish?()  // a clock waiting for its next tick (or a manual one) ends now
        for c in channels { c.close(promise: nil) }
        incomingSink.finish()
        dtmfSink.finish()
    }

    // MARK: the media clock

    /// Records both directions, one 20 ms frame each per tick: received left, sent right (on a
    /// worker: caller left, agent right). Written off the media clock; a recording that cannot be
    /// written stops (`onFailure` says why, once) and the call goes on.
    public func record(to path: String, onFailure: @escaping @Sendable (String) -> Void) {
        let recorder = CallRecorder(path: path, sampleRate: pipelineRate, channels: 2, onFailure: onFailure)
        state.withLock { $0.recorder = recorder }
    }

    /// After `stop()`: waits until the recording, if any, is complete on disk.
    public func finishRecording() async {
        await state.withLock { $0.recorder }?.finish()
    }

    /// Runs the 20 ms clock until `stop()` or cancellation (once per session). The ticks run on
    /// the session's NIO event loop at absolute deadlines, together with the other calls on that
    /// loop (`LoopMediaClock`) — never on Swift's cooperative pool, so engines, provider replies or
    /// a call starting there never hold a running call's media; ticks a stalled loop held back
    /// follow at once, so the stream catches up and never drifts.
    /// `configuration.clock` lets a test drive the ticks instead.
    public func run() async {
        let (pipelineRate, loop, stopped) = state.withLock { s -> (Int, any EventLoop, Bool) in
            s.running = !s.stopped
            return (s.pipelineRate, s.rtp?.eventLoop ?? group.next(), s.stopped)
        }
        guard !stopped else { return }
        let ticker = Ticker(pipelineSamples: pipelineRate / 50, pipelineRate: pipelineRate)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let finish = { @Sendable in
                    let first = self.state.withLock { s -> Bool in defer { s.clockDone = true }; return !s.clockDone }
                    if first { done.resume() }
                }
                state.withLock { $0.clockFinish = finish }
                if let manual = configuration.clock {
                    manual.attach { [self] in
                        loop.execute {
                            guard self.state.withLock({ $0.running }) else { finish(); return }
                            self.tick(ticker)
                        }
                    }
                    return
                }
                LoopMediaClock.on(loop).attach { [self] in
                    guard state.withLock({ $0.running }) else { finish(); return false }
                    tick(ticker)
                    return true
                }
            }
        } onCancel: {
            let finish = state.withLock { s -> (@Sendable () -> Void)? in
                s.running = false
                return s.clockFinish
            }
            finish?()
        }
    }

    /// What only the clock touches: the codec and resamplers, built when the parameters name a codec.
    private final class Ticker: @unchecked Sendable {
        // Touched by one tick at a time (ticks are serial on the event loop).
        let pipelineSamples: Int
        let pipelineRate: Int
        var codec: (any MediaCodec)?
        var codecName = ""
        var toPipeline: Resampler?
        var fromPipeline: Resampler?
        var pcm = [Int16]()
        var count = 0
        init(pipelineSamples: Int, pipelineRate: Int) { (self.pipelineSamples, self.pipelineRate) = (pipelineSamples, pipelineRate) }
    }

    /// One 20 ms tick: a frame played out of the jitter buffer to the pipeline, one frame sent.
    private func tick(_ t: Ticker) {
        let parameters = state.withLock { $0.parameters }
        if let p = parameters, p.codec != t.codecName {
            t.codecName = p.codec
            t.codec = try? Self.makeCodec(p.codec, pipelineRate: t.pipelineRate)
            if let c = t.codec, c.sampleRate != t.pipelineRate {
                t.toPipeline = try? Resampler(from: c.sampleRate, to: t.pipelineRate)
                t.fromPipeline = try? Resampler(from: t.pipelineRate, to: c.sampleRate)
            } else {
                t.toPipeline = nil
                t.fromPipeline = nil
            }
        }
        let pipelineSamples = t.pipelineSamples
        // Playout: one frame in.
        var frame = [Int16](repeating: 0, count: pipelineSamples)
        if let codec = t.codec {
            let output = state.withLock { $0.jitter?.pop() ?? .empty }
            var played = true
            switch output {
            case .frame(let payload):
                if (try? codec.decode(payload, into: &t.pcm)) == nil { codec.conceal(into: &t.pcm) }
            case .missing:
                codec.conceal(into: &t.pcm)
                state.withLock { $0.stats.framesConcealed += 1 }
            case .empty:
                played = false
            }
            if played {
                frame = t.toPipeline.map { $0.process(t.pcm) } ?? t.pcm
                if frame.count != pipelineSamples { frame = Array((frame + [Int16](repeating: 0, count: pipelineSamples)).prefix(pipelineSamples)) }
                state.withLock { $0.stats.framesPlayed += 1 }
            }
        }
        if case .dropped = incomingSink.yield(AudioFrame(sampleRate: t.pipelineRate, samples: frame)) {
            let first = state.withLock { s in defer { s.stats.framesDropped += 1 }; return s.stats.framesDropped == 0 }
            if first { logger.warning("caller audio dropped: the conversation is over a second behind", metadata: ["rtp.tick": "\(t.count)"]) }
        }
        // Sending: one frame out.
        state.withLock { $0.tick += 1; $0.lastSentFrame = nil }
        if let codec = t.codec, let p = parameters, p.sends { sendTick(codec: codec, parameters: p, resampler: t.fromPipeline) }
        let (recorder, sentFrame) = state.withLock { ($0.recorder, $0.lastSentFrame) }
        recorder?.append(left: frame, right: sentFrame, count: pipelineSamples)
        t.count += 1
        if t.count % 250 == 0 { sendReport() }
    }

    private func sendTick(codec: any MediaCodec, parameters p: RTPMediaParameters, resampler: Resampler?) {
        let (channel, remote, next) = state.withLock { s -> ((any Channel)?, SocketAddress?, Either) in
            if let event = s.dtmfQueue.first, let dtmfPT = p.dtmfPayloadType {
                s.dtmfQueue.removeFirst()
                if event.event == 255 {
                    s.inEvent = false
                    return (s.rtp, s.remote, .silence)
                }
                let start = !s.inEvent
                if start {
                    s.dtmfTimestamp = s.timestamp
                    s.inEvent = true
                }
                let packet = RTPPacket(marker: start, payloadType: dtmfPT, sequence: s.sequence, timestamp: s.dtmfTimestamp, ssrc: ssrc, payload: event.bytes)
                s.sequence &+= 1
                if !event.end { s.timestamp &+= codec.timestampStep }
                return (s.rtp, s.remote, .packet(packet))
            }
            if !s.outbound.isEmpty {
                s.stats.audioFramesSent += 1
                let frame = s.outbound.removeFirst()
                if s.recorder != nil { s.lastSentFrame = frame.samples }
                return (s.rtp, s.remote, .audio(frame))
            }
            if let flushed = s.flushTick {
                if s.stats.flushReactionFrames.count == 32 { s.stats.flushReactionFrames.removeFirst() }
                s.stats.flushReactionFrames.append(s.tick - flushed)
                s.flushTick = nil
            }
            return (s.rtp, s.remote, .silence)
        }
        guard let channel, let remote else { return }
        var payload: [UInt8]
        var marker = false
        switch next {
        case .packet(let packet):
            send(packet.serialized(), on: channel, to: remote)
            return
        case .audio(let frame):
            let samples = resampler.map { $0.process(frame.samples) } ?? frame.samples
            payload = (try? codec.encode(samples)) ?? codec.silence()
            marker = state.withLock { s in defer { s.marker = false }; return s.marker }
        case .silence:
            payload = codec.silence()
            state.withLock { $0.marker = true }
        }
        let packet = state.withLock { s -> RTPPacket in
            let packet = RTPPacket(marker: marker, payloadType: p.payloadType, sequence: s.sequence, timestamp: s.timestamp, ssrc: ssrc, payload: payload)
            s.sequence &+= 1
            s.timestamp &+= codec.timestampStep
            return packet
        }
        send(packet.serialized(), on: channel, to: remote)
    }

    private enum Either {
        case packet(RTPPacket)
        case audio(AudioFrame)
        case silence
    }

    private func send(_ plain: [UInt8], on channel: any Channel, to remote: SocketAddress) {
        // One lock per packet: protected (SRTP) and counted together.
        let wire = state.withLock { s -> [UInt8]? in
            guard let bytes = s.srtpOut.map({ try? $0.transform(rtp: plain) }) ?? plain else { return nil }
            s.stats.packetsSent += 1
            s.stats.bytesSent += bytes.count
            return bytes
        }
        guard let bytes = wire else { return }
        Self.sentTotal.add(1, ordering: .relaxed)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: bytes)), promise: nil)
    }

    private func sendReport() {
        let (channel, remote, report) = state.withLock { s -> ((any Channel)?, SocketAddress?, RTCPReport) in
            var blocks: [RTCPReport.Block] = []
            if let j = s.jitter, let remoteSSRC = s.remoteSSRC {
                let st = j.statistics
                let expected = max(1, st.received + st.lost)
                let dlsr = s.lastSR.map { UInt32(($0.received.duration(to: .now).components.seconds) * 65536) } ?? 0
                blocks.append(.init(ssrc: remoteSSRC, fractionLost: UInt8(min(255, st.lost * 256 / expected)), cumulativeLost: Int32(st.lost),
                                    highestSequence: st.highestSequence, jitter: UInt32(st.jitter), lastSR: s.lastSR?.ntpMiddle ?? 0, delaySinceLastSR: dlsr))
            }
            let sender = RTCPReport.SenderInfo(ntpTimestamp: RTCPReport.ntpNow(), rtpTimestamp: s.timestamp,
                                               packetCount: UInt32(truncatingIfNeeded: s.stats.packetsSent), octetCount: UInt32(truncatingIfNeeded: s.stats.bytesSent))
            var rtcpRemote = s.remote
            if let r = s.remote, let port = r.port { rtcpRemote = try? SocketAddress(ipAddress: r.ipAddress ?? "", port: port + 1) }
            return (s.rtcp, rtcpRemote, RTCPReport(ssrc: ssrc, sender: sender, blocks: blocks, cname: "siphon@\(ProcessInfo.processInfo.hostName)"))
        }
        guard let channel, let remote else { return }
        let wire = state.withLock { s -> [UInt8]? in
            guard let out = s.srtpOut else { return report.serialized() }
            return try? out.transform(rtcp: report.serialized())
        }
        guard let wire else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: wire)), promise: nil)
    }

    /// A packet from the wire as plain RTP(C); nil when SRTP refuses it (a forgery, a replay, or
    /// plain RTP on an SRTP call), counted.
    private func unprotect(_ wire: [UInt8], rtcp: Bool) -> [UInt8]? {
        state.withLock { s in
            guard let inbound = s.srtpIn else { return wire }
            do {
                return try rtcp ? inbound.transform(rtcp: wire) : inbound.transform(rtp: wire)
            } catch {
                s.stats.srtpRefused += 1
                return nil
            }
        }
    }

    static func makeCodec(_ name: String, pipelineRate: Int) throws -> any MediaCodec {
        switch name.uppercased() {
        case "PCMU": return G711MediaCodec(law: .ulaw)
        case "PCMA": return G711MediaCodec(law: .alaw)
        case "OPUS": return try OpusMediaCodec(sampleRate: pipelineRate)
        default: throw SiphonError.invalid("codec \(name) is not supported")
        }
    }

    // MARK: inbound packets (event loop)

    func received(_ wire: [UInt8], from source: SocketAddress) {
        guard let bytes = unprotect(wire, rtcp: false), let packet = try? RTPPacket(parsing: bytes) else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let digit: Character? = state.withLock { s in
            guard let p = s.parameters, p.receives else { return nil }
            // Symmetric RTP: answer to where the media really comes from.
            if configuration.symmetric, !s.latched, s.remote != source {
                s.remote = source
                s.latched = true
            }
            s.stats.packetsReceived += 1
            s.remoteSSRC = packet.ssrc
            if packet.payloadType == p.dtmfPayloadType {
                let d = s.events.receive(packet)
                if d != nil { s.stats.dtmfReceived += 1 }
                return d
            }
            if packet.payloadType == p.payloadType { s.jitter?.insert(packet, arrivalNanoseconds: now) }
            return nil
        }
        if let digit { dtmfSink.yield(digit) }
    }

    func receivedRTCP(_ wire: [UInt8]) {
        guard let bytes = unprotect(wire, rtcp: true), let report = try? RTCPReport(parsing: bytes) else { return }
        state.withLock { s in
            s.stats.rtcpReceived += 1
            if let sr = report.sender { s.lastSR = (UInt32((sr.ntpTimestamp >> 16) & 0xFFFF_FFFF), ContinuousClock.now) }
        }
    }
}

private final class RTPInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let session: RTPSession
    init(session: RTPSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        if RTPPacket.looksLikeRTCP(bytes) { session.receivedRTCP(bytes) } else { session.received(bytes, from: envelope.remoteAddress) }
    }
}

private final class RTCPInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let session: RTPSession
    init(session: RTPSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.receivedRTCP(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}
