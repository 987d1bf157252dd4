import Foundation
import Logging
import NIOCore
import NIOPosix
import SiphonAudio
import SiphonRTP
import SiphonSIP
import Synchronization

/// The far ends of `siphon bench capacity`: one SIP user agent that answers every call the worker
/// places (G.711 μ-law), each call an RTP endpoint whose kernel stamps the worker's packets as they
/// arrive — the inter-packet delta on the wire at the receiving side, not the sender's own log, nor
/// when this process (sharing the box) got round to reading them — and talks like a caller:
/// silence, one line `speakAt` seconds after the answer, then listening until it hangs up, `hold`
/// seconds after the answer or at the step's end, whichever is later. All calls' packets go out
/// from one 20 ms clock at absolute deadlines on an event loop of their own.
final class LoadPhones: Sendable {
    struct Figures: Sendable {
        /// Inter-arrival deltas of the worker's packets, microseconds, over every call.
        var deltasMicros: [Int32] = []
        /// Each call's largest delta (ms).
        var maxDeltaMs: [Double] = []
        var packets = 0
        var answered = 0
        var hungUp = 0
    }

    let transport: SIPTransport
    let ua: SIPUserAgent
    let hold: Double
    let speakAt: Double
    /// The line the phones say, μ-law frames of 160 bytes.
    let line: [[UInt8]]
    private let group: MultiThreadedEventLoopGroup
    private let sockets: StampedUDPSockets
    private let pacer: any EventLoop
    private let calls = Mutex<[Phone]>([])
    private let done = Mutex<Figures>(Figures())
    /// When this step's calls all hang up (so N calls are up at once, however long they took to arrive).
    private let stepEnd = Mutex<NIODeadline?>(nil)

    /// One answered call: its socket, where to send, what has arrived.
    final class Phone: @unchecked Sendable {
        // `sent`, `sequence`, `timestamp` are touched by the pacer only; `arrivals` by the
        // sockets' reader, read once the call is over.
        let fd: Int32
        let remotePort: Int
        let call: SIPCall
        let ssrc = UInt32.random(in: 1...UInt32.max)
        var sent = 0
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        let receiver: Receiver
        /// The worker hung up (BYE): a phone stops sending then, as a real one does.
        let ended = Atomic<Bool>(false)
        init(fd: Int32, remotePort: Int, call: SIPCall, receiver: Receiver) {
            (self.fd, self.remotePort, self.call, self.receiver) = (fd, remotePort, call, receiver)
        }
    }

    final class Receiver: Sendable {
        struct Arrivals { var last: UInt64?; var deltas: [Int32] = []; var packets = 0 }
        let arrivals = Mutex(Arrivals())
        /// A datagram at the phone's RTP port. Only RTP counts: the worker's RTCP for a call whose
        /// phone sits one port below lands here too (RFC 3550's port + 1), and RTCP packet types
        /// are 192–223 in the second byte (RFC 5761).
        func arrived(at now: UInt64, _ packet: UnsafeRawBufferPointer) {
            guard packet.count >= 12, packet[0] >> 6 == 2, !(192...223).contains(packet[1]) else { return }
            arrivals.withLock { a in
                if let last = a.last { a.deltas.append(Int32(clamping: (Int64(bitPattern: now &- last)) / 1000)) }
                a.last = now
                a.packets += 1
            }
        }
    }

    static func start(hold: Double, speakAt: Double, line: [[UInt8]], logger: Logger) async throws -> LoadPhones {
        let transport = SIPTransport(configuration: .init(bindHost: "127.0.0.1", port: 0, enableTCP: false))
        try await transport.start()
        var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
        config.inboundTrunks = [InboundTrunk(name: "worker", allowedAddresses: ["127.0.0.1"])]
        config.contactUser = "phones"
        let ua = SIPUserAgent(configuration: config, transport: transport, logger: logger)
        let phones = LoadPhones(transport: transport, ua: ua, hold: hold, speakAt: speakAt, line: line)
        await ua.attach()
        await ua.onIncomingCall { [phones] incoming in await phones.answer(incoming) }
        Task { await ua.run() }
        phones.startClock()
        return phones
    }

    private init(transport: SIPTransport, ua: SIPUserAgent, hold: Double, speakAt: Double, line: [[UInt8]]) {
        (self.transport, self.ua, self.hold, self.speakAt, self.line) = (transport, ua, hold, speakAt, line)
        sockets = StampedUDPSockets()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pacer = group.next()
    }

    var port: Int { transport.udpPort }

    private func answer(_ incoming: IncomingCall) async {
        let receiver = Receiver()
        // The worker's media is on this host: the phones send to and hear from 127.0.0.1.
        guard let offer = incoming.offer,
              let (fd, port) = try? sockets.open(onArrival: { receiver.arrived(at: $0, $1) })
        else { return await incoming.reject(status: 500) }
        guard let (sdp, media) = try? SDPNegotiator.answer(offer, policy: MediaPolicy(codecs: [.pcmu]), address: "127.0.0.1", port: port,
                                                          sessionID: 1, version: 1),
              media.remoteHost == "127.0.0.1"
        else {
            sockets.close(fd)
            return await incoming.reject(status: 488)
        }
        guard let call = try? await incoming.answer(sdp: sdp, media: media, sessionID: 1) else {
            sockets.close(fd)
            return
        }
        let phone = Phone(fd: fd, remotePort: media.remotePort, call: call, receiver: receiver)
        calls.withLock { $0.append(phone) }
        Task {
            for await event in call.events {
                if case .ended = event { phone.ended.store(true, ordering: .relaxed) }
            }
        }
        done.withLock { $0.answered += 1 }
    }

    /// One packet per call every 20 ms; a call past `hold` is hung up and its figures kept.
    private func startClock() {
        let start = NIODeadline.now()
        let speakFrom = Int(speakAt * 50), holdFrames = Int(hold * 50)
        let silence = [UInt8](repeating: 0xFF, count: 160)
        @Sendable func tick(_ n: Int64) {
            pacer.scheduleTask(deadline: start + .milliseconds(20 * n)) { [self] in
                let end = stepEnd.withLock { $0 }, now = NIODeadline.now()
                let over = { (p: Phone) in p.sent >= holdFrames && (end.map { now >= $0 } ?? true) }
                let (active, ending) = calls.withLock { c -> ([Phone], [Phone]) in
                    let ending = c.filter(over)
                    c.removeAll(where: over)
                    return (c, ending)
                }
                for p in active {
                    let k = p.sent - speakFrom
                    let payload = k >= 0 && k < line.count ? line[k] : silence
                    let packet = RTPPacket(marker: p.sent == 0, payloadType: 0, sequence: p.sequence, timestamp: p.timestamp, ssrc: p.ssrc, payload: payload)
                    if !p.ended.load(ordering: .relaxed) { sockets.send(packet.serialized(), from: p.fd, toPort: p.remotePort) }
                    (p.sent, p.sequence, p.timestamp) = (p.sent + 1, p.sequence &+ 1, p.timestamp &+ 160)
                }
                for p in ending { finish(p) }
                tick(n + 1)
            }
        }
        tick(1)
    }

    private func finish(_ p: Phone) {
        let a = p.receiver.arrivals.withLock { $0 }
        done.withLock { f in
            f.deltasMicros += a.deltas
            f.maxDeltaMs.append(Double(a.deltas.max() ?? 0) / 1000)
            f.packets += a.packets
            f.hungUp += 1
        }
        Task {
            await p.call.hangup(reason: "the load caller hung up")
            sockets.close(p.fd)
        }
    }

    /// Every call up now or answered later hangs up at `deadline` (and not before `hold`).
    func hangUp(at deadline: NIODeadline?) { stepEnd.withLock { $0 = deadline } }

    /// Takes the figures of the calls that ended so far (and resets them for the next step).
    func collect() -> Figures { done.withLock { f in defer { f = Figures() }; return f } }

    var active: Int { calls.withLock { $0.count } }

    func stop() async {
        await transport.stop()
        sockets.stop()
        try? await group.shutdownGracefully()
    }
}
