import Dispatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import SiphonAudio
import SiphonOffline
import SiphonRTP

/// Real time is a contract: a call starting — or anything else — that holds every thread of
/// Swift's cooperative pool must not hold a running call's outbound media. Four calls send on a
/// clock the test drives; while every cooperative thread is blocked (one of them building an
/// offline recogniser, as a call start does), the test advances the clock 50 ticks and the far
/// ends must receive exactly 50 packets each, sequence numbers and timestamps unbroken. (With the
/// clock as a task on the pool, as it was, not one packet arrives until the pool is free.)
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MediaClockTests {
    /// A far end: the sequence numbers and timestamps of what arrives.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received = Mutex<[(sequence: UInt16, timestamp: UInt32)]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
            guard let p = try? RTPPacket(parsing: bytes) else { return }
            received.withLock { $0.append((p.sequence, p.timestamp)) }
        }
    }

    @Test func aBlockedCooperativePoolHoldsNoCallsOutboundFrames() async throws {
        let clock = ManualMediaClock()
        var config = RTPSession.Configuration()
        config.bindHost = "127.0.0.1"
        config.clock = clock
        var sessions: [RTPSession] = [], collectors: [Collector] = [], channels: [any Channel] = []
        for _ in 0..<4 {
            let collector = Collector()
            let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { $0.pipeline.addHandler(collector) }.bind(host: "127.0.0.1", port: 0).get()
            let session = RTPSession(configuration: config)
            _ = try await session.open()
            try session.configure(RTPMediaParameters(codec: "PCMU", payloadType: 0, dtmfPayloadType: 101, remoteHost: "127.0.0.1",
                                                     remotePort: channel.localAddress!.port!))
            for i in 0..<60 { session.enqueue(AudioFrame(sampleRate: 16000, samples: [Int16](repeating: Int16(i * 100), count: 320))) }
            sessions.append(session)
            collectors.append(collector)
            channels.append(channel)
        }
        let clocks = sessions.map { s in Task { await s.run() } }
        try await eventually(10, "the clocks attached") { clock.attached == 4 }

        // Every cooperative thread blocked: these, and this test's own (below).
        let release = DispatchSemaphore(value: 0)
        let width = ProcessInfo.processInfo.activeProcessorCount * 4
        let blockers = (0..<width).map { _ in Task.detached { release.wait() } }
        // A call starting on a cooperative thread: its offline recogniser built (dictionary read,
        // grammar and trimmed dictionary written) right here.
        _ = try PocketSphinxSTT(phrases: ["I would like to book a cleaning", "Tuesday please"])
        clock.advance(50)
        let deadline = Date().addingTimeInterval(20)  // liveness only: the packets come at once or never
        while Date() < deadline, !collectors.allSatisfy({ $0.received.withLock { $0.count } >= 50 }) { usleep(10_000) }
        for _ in blockers { release.signal() }

        for (i, c) in collectors.enumerated() {
            let got = c.received.withLock { $0 }
            #expect(got.count == 50, "call \(i): \(got.count) packets for 50 ticks")
            let unbroken = zip(got, got.dropFirst()).allSatisfy { $1.sequence == $0.sequence &+ 1 && $1.timestamp == $0.timestamp &+ 160 }
            #expect(unbroken, "call \(i): sequence or timestamp broken")
        }
        for s in sessions { s.stop() }
        for c in clocks { await c.value }
        for c in channels { try? await c.close() }
    }
}
