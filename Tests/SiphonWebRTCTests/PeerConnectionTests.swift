import Foundation
import Testing
@testable import SiphonWebRTC

/// Two sans-IO peer connections, offer/answer through SDP text, datagrams through a simulated
/// network: ICE, DTLS-SRTP and RTP both ways, in each DTLS role.
@Suite struct PeerConnectionTests {
    final class Wire {
        var ends: [(pc: PeerConnection, address: TransportAddress)] = []
        var now: UInt64 = 1_000_000_000
        var rtp: [Int: [[UInt8]]] = [:]
        var connected: [Int: DTLSEndpoint.SRTPProfile] = [:]
        var failures: [String] = []
        var peerClosed: Set<Int> = []
        /// SRTP packets each end dropped: true for those before its keys.
        var dropped: [Int: [Bool]] = [:]

        func pump(seconds: Double, until: () -> Bool) {
            let end = now + UInt64(seconds * 1e9)
            while now < end, !until() {
                var moved = true
                while moved {
                    moved = false
                    for (i, e) in ends.enumerated() {
                        while let out = e.pc.poll() {
                            moved = true
                            switch out {
                            case .transmit(_, let to, let bytes):
                                if let j = ends.firstIndex(where: { $0.address == to }) { ends[j].pc.receive(bytes, from: e.address, socket: 0, now: now) }
                            case .event(.rtp(let p)): rtp[i, default: []].append(p)
                            case .event(.connected(let profile, _)): connected[i] = profile
                            case .event(.failed(let why)): failures.append(why)
                            case .event(.peerClosed): peerClosed.insert(i)
                            case .event(.srtpDropped(let beforeKeys)): dropped[i, default: []].append(beforeKeys)
                            default: break
                            }
                        }
                    }
                }
                if until() { break }
                let next = ends.compactMap(\.pc.nextTimeout).min() ?? (now + 10_000_000)
                now = max(now + 1_000_000, min(next, now + 10_000_000))
                for e in ends { e.pc.handleTimeout(now: now) }
            }
        }
    }

    func connect(answerSetup: DTLSEndpoint.Role, profiles: [DTLSEndpoint.SRTPProfile] = DTLSEndpoint.SRTPProfile.allCases,
                 pumpUntilConnected: Bool = true) throws -> Wire {
        let w = Wire()
        var oc = PeerConnection.Configuration(role: .controlling)
        oc.srtpProfiles = profiles
        var ac = PeerConnection.Configuration(role: .controlled)
        ac.answerSetup = answerSetup
        let offerer = PeerConnection(configuration: oc), answerer = PeerConnection(configuration: ac)
        w.ends = [(offerer, try TransportAddress(ip: "10.0.0.1", port: 5000)), (answerer, try TransportAddress(ip: "10.0.0.2", port: 6000))]
        offerer.addHostSocket(0, address: w.ends[0].address, now: w.now)
        answerer.addHostSocket(0, address: w.ends[1].address, now: w.now)
        let offer = offerer.createOffer(audioDirection: .sendrecv, ssrc: 1111)
        // Through text, as signalling carries it.
        try answerer.setRemoteDescription(try WebRTCSessionDescription(parsing: offer.description), isOffer: true, now: w.now)
        let answer = try answerer.createAnswer(audioDirection: .sendrecv, ssrc: 2222)
        try offerer.setRemoteDescription(try WebRTCSessionDescription(parsing: answer.description), isOffer: false, now: w.now)
        if pumpUntilConnected { w.pump(seconds: 10) { w.connected.count == 2 } }
        return w
    }

    @Test(arguments: [DTLSEndpoint.Role.client, .server])
    func offerAnswerThenRTPBothWays(answerSetup: DTLSEndpoint.Role) throws {
        let w = try connect(answerSetup: answerSetup)
        #expect(w.failures.isEmpty, "\(w.failures)")
        #expect(w.connected.count == 2 && w.connected[0] == w.connected[1])
        let packet: [UInt8] = [0x80, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0x04, 0x57] + Array(repeating: 9, count: 40)
        #expect(w.ends[0].pc.send(rtp: packet))
        #expect(w.ends[1].pc.send(rtp: packet))
        w.pump(seconds: 1) { w.rtp[0]?.count == 1 && w.rtp[1]?.count == 1 }
        #expect(w.rtp[0] == [packet] && w.rtp[1] == [packet])
        #expect(w.ends[0].pc.opusPayloadType == 111 && w.ends[1].pc.opusPayloadType == 111)
    }

    /// SRTP that cannot be used is counted, not delivered: a replay, a forgery, and media that
    /// came before the keys (the peer finished DTLS first).
    @Test func unusableSRTPIsCountedNotDelivered() throws {
        let w = try connect(answerSetup: .client)
        let packet: [UInt8] = [0x80, 111, 0, 7, 0, 0, 0, 160, 0, 0, 0x04, 0x57] + Array(repeating: 9, count: 40)
        var wire: [UInt8] = []
        // Catch what the offerer puts on the wire to replay it.
        #expect(w.ends[0].pc.send(rtp: packet))
        while let out = w.ends[0].pc.poll() { if case .transmit(_, _, let bytes) = out { wire = bytes } }
        w.ends[1].pc.receive(wire, from: w.ends[0].address, socket: 0, now: w.now)
        w.ends[1].pc.receive(wire, from: w.ends[0].address, socket: 0, now: w.now)  // the replay
        var forged = wire
        forged[forged.count - 1] ^= 1
        forged[3] = 8
        w.ends[1].pc.receive(forged, from: w.ends[0].address, socket: 0, now: w.now)
        w.pump(seconds: 0.1) { false }
        #expect(w.rtp[1] == [packet] && w.dropped[1] == [false, false], "\(String(describing: w.dropped[1]))")

        let early = try connect(answerSetup: .client, pumpUntilConnected: false)
        early.ends[1].pc.receive(wire, from: early.ends[0].address, socket: 0, now: early.now)
        var events: [String] = []
        while let out = early.ends[1].pc.poll() { if case .event(let e) = out { events.append("\(e)") } }
        #expect(events.contains("srtpDropped(beforeKeys: true)") && !events.contains { $0.hasPrefix("rtp") }, "\(events)")
    }

    /// LiveKit's single peer connection (/rtc/v1): the client offers its send-only track, data and
    /// receive-only sections; the server sends on one of those. A renegotiation appends sections
    /// and keeps mids, order, ICE credentials, the DTLS session and the origin's session id.
    @Test func oneConnectionCarriesBothDirectionsAndGrowsByRenegotiation() throws {
        let w = Wire()
        let client = PeerConnection(configuration: .init(role: .controlling))
        var sc = PeerConnection.Configuration(role: .controlled)
        sc.answerSetup = .client  // pion and aiortc answer setup:active
        let server = PeerConnection(configuration: sc)
        w.ends = [(client, try TransportAddress(ip: "10.0.0.1", port: 5000)), (server, try TransportAddress(ip: "10.0.0.2", port: 6000))]
        client.addHostSocket(0, address: w.ends[0].address, now: w.now)
        server.addHostSocket(0, address: w.ends[1].address, now: w.now)
        let offer = client.createOffer(audioDirection: .sendonly, dataChannel: true, receiveSections: 1, ssrc: 1111)
        #expect(offer.media.map(\.kind) == ["audio", "application", "audio"] && offer.bundle == ["0", "1", "2"])
        #expect(offer.media.map(\.direction) == [.sendonly, .sendrecv, .recvonly] && offer.media[2].ssrcs.isEmpty)
        try server.setRemoteDescription(try WebRTCSessionDescription(parsing: offer.description), isOffer: true, now: w.now)
        let answer = try server.createAnswer(audioDirection: .sendonly, dataChannel: true, ssrc: 2222)
        #expect(answer.media.map(\.direction) == [.recvonly, .sendrecv, .sendonly], "\(answer)")
        try client.setRemoteDescription(try WebRTCSessionDescription(parsing: answer.description), isOffer: false, now: w.now)
        w.pump(seconds: 10) { w.connected.count == 2 }
        #expect(w.failures.isEmpty && client.dtlsRole == .server && client.hasDataChannel, "\(w.failures)")
        let packet: [UInt8] = [0x80, 111, 0, 1, 0, 0, 0, 160, 0, 0, 0x04, 0x57] + Array(repeating: 9, count: 40)
        #expect(client.send(rtp: packet) && server.send(rtp: packet))
        w.pump(seconds: 1) { w.rtp[0]?.count == 1 && w.rtp[1]?.count == 1 }
        #expect(w.rtp[0] == [packet] && w.rtp[1] == [packet])

        let again = client.createOffer(audioDirection: .sendonly, dataChannel: true, receiveSections: 2, ssrc: 1111)
        #expect(again.media.compactMap(\.mid) == ["0", "1", "2", "3"] && again.media.map(\.direction) == [.sendonly, .sendrecv, .recvonly, .recvonly])
        #expect(again.originSessionID == offer.originSessionID && again.originVersion > offer.originVersion)
        #expect(again.iceCredentials(again.media[3])! == offer.iceCredentials(offer.media[0])! && again.fingerprint(again.media[3]) == offer.fingerprint(offer.media[0]))
        try server.setRemoteDescription(try WebRTCSessionDescription(parsing: again.description), isOffer: true, now: w.now)
        let answer2 = try server.createAnswer(audioDirection: .sendonly, dataChannel: true, ssrc: 2222)
        try client.setRemoteDescription(try WebRTCSessionDescription(parsing: answer2.description), isOffer: false, now: w.now)
        // No ICE restart, no new handshake: media flows on as before (the next sequence number:
        // SRTP refuses a replay).
        var next = packet
        next[3] = 2
        #expect(client.send(rtp: next) && server.send(rtp: next))
        w.pump(seconds: 1) { w.rtp[0]?.count == 2 && w.rtp[1]?.count == 2 }
        #expect(w.rtp[0] == [packet, next] && w.rtp[1] == [packet, next] && w.failures.isEmpty, "\(w.failures)")
    }

    /// A peer that hangs up sends close_notify: the other side hears a hang-up, not a failure.
    @Test func aCloseReachesThePeerAsAHangUp() throws {
        let w = try connect(answerSetup: .client)
        w.ends[1].pc.close()
        w.pump(seconds: 1) { !w.peerClosed.isEmpty }
        #expect(w.peerClosed == [0] && w.failures.isEmpty, "\(w.peerClosed) \(w.failures)")
    }

    @Test func theOffererLimitsTheProfiles() throws {
        let w = try connect(answerSetup: .client, profiles: [.aes128CMSHA1_80])
        #expect(w.connected[0] == .aes128CMSHA1_80 && w.connected[1] == .aes128CMSHA1_80)
    }

    @Test func answersRejectWhatSiphonDoesNotTake() throws {
        let offer = """
            v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n\
            a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 AA:BB\r\na=setup:actpass\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n
            """
        let pc = PeerConnection(configuration: .init(role: .controlled))
        try pc.setRemoteDescription(try WebRTCSessionDescription(parsing: offer), isOffer: true, now: 1)
        let answer = try pc.createAnswer(ssrc: 5)
        #expect(answer.media.map(\.port) == [0, 0, 9])
        #expect(answer.media.map(\.mid) == ["0", "1", "2"])
        #expect(answer.media[2].direction == .recvonly && answer.bundle == ["2"])
        #expect(pc.opusPayloadType == 111)
    }

    @Test func badDescriptionsAreRefusedWithAReason() throws {
        let good = PeerConnection(configuration: .init(role: .controlling)).createOffer(ssrc: 1).description
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: "a=ice-pwd:", with: "a=x-pwd:"), "ice-pwd"),
            (good.replacingOccurrences(of: "a=fingerprint:sha-256", with: "a=fingerprint:md5"), "fingerprint"),
            (good.replacingOccurrences(of: "a=setup:actpass", with: "a=setup:holdconn"), "setup"),
        ]
        for (sdp, what) in cases {
            let pc = PeerConnection(configuration: .init(role: .controlled))
            #expect(throws: WebRTCError.self, "\(what)") { try pc.setRemoteDescription(try WebRTCSessionDescription(parsing: sdp), isOffer: true, now: 1) }
        }
        for text in ["", "v=1\r\n", "v=0\r\no=- x 1 IN IP4 1.2.3.4\r\nm=audio 9 RTP 0\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
                     "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 99999 RTP 0\r\n", "garbage"] {
            #expect(throws: WebRTCError.self) { try WebRTCSessionDescription(parsing: text) }
        }
    }
}
