import Foundation
import NIOPosix
import Testing
import SiphonCore
@testable import SiphonWebRTC

/// What a WebRTC peer controls — STUN, SDP, DTLS records, SRTP, SCTP packets, DCEP — mutated
/// from valid seeds (SeededRandom: the same inputs on every run) into the layers that take them.
/// Each must refuse (an error, a dropped packet) and keep working; none may trap.
@Suite struct HostileWebRTCInputTests {
    @Test func stunIntoAConnectedICEAgent() throws {
        let net = try ICEAgentTests().pair()
        net.run(seconds: 5) { net.state(0) == .connected && net.state(1) == .connected }
        let b = net.agents[1].agent
        var seeds: [[UInt8]] = [STUNTests.request]
        var m = STUNMessage(method: .binding, class: .request)
        m.add(.username, string: "\(b.localUfrag):x")
        m.add(.priority, uint32: 1)
        m.add(.iceControlling, uint64: 7)
        m.add(.useCandidate, [])
        seeds.append(m.serialized(integrityKey: Array(b.localPassword.utf8), fingerprint: true))
        var ok = STUNMessage(method: .binding, class: .success)
        ok.add(.xorMappedAddress, address: try TransportAddress(ip: "10.0.0.1", port: 5000))
        seeds.append(ok.serialized(integrityKey: Array(b.localPassword.utf8), fingerprint: true))
        var rng = SeededRandom(seed: 41)
        var parsed = 0
        let from = net.agents[0].address
        for i in 0..<30_000 {
            let input = rng.mutated(seeds[i % seeds.count])
            if (try? STUNMessage(parsing: input)) != nil { parsed += 1 }
            _ = b.receive(input, from: from, socket: 0, now: net.now)
            while b.poll() != nil {}
        }
        #expect(parsed > 1000, "\(parsed) of 30000 parsed: the mutations are too far from STUN")
        // Still connected and carrying data.
        net.run(seconds: 6)
        #expect(b.state == .connected && b.send([0x80, 1]))
    }

    @Test func sdpIntoAPeerConnection() throws {
        let offerer = PeerConnection(configuration: .init(role: .controlling))
        offerer.addHostSocket(0, address: try TransportAddress(ip: "192.0.2.1", port: 5000), now: 1)
        let seeds = [Array(offerer.createOffer(dataChannel: true, ssrc: 9).description.utf8),
                     Array(try String(contentsOfFile: Self.seed("sdp-offer"), encoding: .utf8).dropFirst().utf8)]
        var rng = SeededRandom(seed: 42)
        var parsed = 0, answered = 0
        for i in 0..<4_000 {
            let text = String(decoding: rng.mutated(seeds[i % 2]), as: UTF8.self)
            guard let sdp = try? WebRTCSessionDescription(parsing: text) else { continue }
            parsed += 1
            let pc = PeerConnection(configuration: .init(role: .controlled))
            guard (try? pc.setRemoteDescription(sdp, isOffer: true, now: 1)) != nil else { continue }
            if (try? pc.createAnswer(dataChannel: true, ssrc: 1)) != nil { answered += 1 }
        }
        #expect(parsed > 500 && answered > 100, "parsed \(parsed), answered \(answered)")
    }

    static func seed(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/webrtc-seeds/\(name)").path
    }

    @Test func dtlsRecordsIntoEndpointsMidHandshakeAndConnected() throws {
        // A real handshake's records are the seeds.
        let c = try DTLSEndpoint(role: .client, certificate: DTLSTests.clientCert, remoteFingerprint: DTLSTests.serverCert.fingerprint)
        let s = try DTLSEndpoint(role: .server, certificate: DTLSTests.serverCert, remoteFingerprint: DTLSTests.clientCert.fingerprint)
        c.start(); s.start()
        var records: [[UInt8]] = []
        for _ in 0..<10 {
            for d in c.takeOutgoing() { records.append(d); s.receive(d) }
            for d in s.takeOutgoing() { records.append(d); c.receive(d) }
        }
        guard case .connected = c.takeEvents().first, case .connected = s.takeEvents().first else { Issue.record("no handshake"); return }
        var rng = SeededRandom(seed: 43)
        for i in 0..<3_000 {
            let input = rng.mutated(records[i % records.count])
            let fresh = try DTLSEndpoint(role: i % 2 == 0 ? .server : .client, certificate: DTLSTests.serverCert, remoteFingerprint: DTLSTests.clientCert.fingerprint)
            fresh.start()
            fresh.receive(input)
            _ = fresh.takeOutgoing()
            _ = fresh.takeEvents()
            s.receive(input)  // the connected one: alerts, junk, replays
            _ = s.takeOutgoing()
        }
        // The connected server still decrypts what its client sends.
        if s.isFinished { return }  // a mutated close_notify/alert may legitimately end it
        try c.write([9, 9])
        for d in c.takeOutgoing() { s.receive(d) }
        #expect(s.takeEvents().contains(.data([9, 9])))
    }

    @Test func srtpPacketsThatAreNotTheSendersAreRefused() throws {
        let keys = DTLSEndpoint.Keys(profile: .aeadAES128GCM, local: Array(repeating: 1, count: 28), remote: Array(repeating: 1, count: 28))
        let sender = try SRTPSession(keys: keys), receiver = try SRTPSession(keys: keys)
        var seeds: [[UInt8]] = []
        for n in 0..<20 {
            seeds.append(try sender.protect(rtp: [0x80, 111, 0, UInt8(n), 0, 0, 0, 0, 0, 0, 0, 1] + Array(repeating: UInt8(n), count: 60)))
        }
        seeds.append(try sender.protect(rtcp: [0x80, 200, 0, 6] + Array(repeating: 0, count: 24)))
        var rng = SeededRandom(seed: 44)
        var accepted = 0
        for i in 0..<20_000 {
            let input = rng.mutated(seeds[i % seeds.count])
            if (try? receiver.unprotect(rtp: input)) != nil { accepted += 1 }
            _ = try? receiver.unprotect(rtcp: input)
        }
        // Authentication lets nothing altered through (only untouched seeds, once each).
        #expect(accepted <= 20, "\(accepted) mutated packets were accepted")
    }

    @Test func dcepAndSCTPNeverTrap() async throws {
        var rng = SeededRandom(seed: 45)
        let open = DCEPMessage.open(label: "_reliable", protocol: "", ordered: true)
        var parsed = 0
        for _ in 0..<20_000 where (try? DCEPMessage.parseOpen(rng.mutated(open))) != nil { parsed += 1 }
        #expect(parsed > 100)
        // Two associations wired together: their real packets, mutated, into a third one and
        // into the live pair.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let captured = CapturedPackets()
        let a = SCTPAssociation(eventLoop: loop, output: { captured.add(0, $0) }, onEvent: { _ in })
        let b = SCTPAssociation(eventLoop: loop, output: { captured.add(1, $0) }, onEvent: { _ in })
        try await loop.submit { try a.start(); try b.start() }.get()
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(20))
            let batch = captured.take()
            try await loop.submit { for (from, p) in batch { (from == 0 ? b : a).input(p) } }.get()
            if a.isUp && b.isUp { break }
        }
        #expect(a.isUp && b.isUp)
        let seeds = captured.all.map(\.1)
        let victim = SCTPAssociation(eventLoop: loop, output: { _ in }, onEvent: { _ in })
        try await loop.submit { try victim.start() }.get()
        for i in 0..<5_000 {
            let input = rng.mutated(seeds.isEmpty ? [0] : seeds[i % seeds.count])
            try await loop.submit { victim.input(input); a.input(input) }.get()
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(a.send([1, 2, 3], stream: 1, ppid: .binary) || !a.isUp)
    }
}

/// Packets the associations emitted, for the test to deliver (and to keep as seeds).
final class CapturedPackets: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [(Int, [UInt8])] = []
    private(set) var all: [(Int, [UInt8])] = []
    func add(_ from: Int, _ p: [UInt8]) { lock.lock(); pending.append((from, p)); all.append((from, p)); lock.unlock() }
    func take() -> [(Int, [UInt8])] { lock.lock(); defer { pending = []; lock.unlock() }; return pending }
}
