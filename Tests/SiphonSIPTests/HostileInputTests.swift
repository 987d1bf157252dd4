import Foundation
import SiphonAudio
import SiphonCore
import Testing
@testable import SiphonRTP
@testable import SiphonSIP

/// What a peer on the network controls — RTP, RTCP, RFC 4733 events, Digest challenges, the jitter
/// buffer's view of sequence numbers and timestamps — fed with seeded random mutations of valid
/// input. Every one must be parsed or refused; none may trap the worker. (The SIP text layer has its
/// own libFuzzer target; these parsers are binary and small enough for a plain mutation loop.)
@Suite struct HostileInputTests {
    @Test func rtpRtcpAndTelephoneEventsNeverTrap() throws {
        var rng = SeededRandom(seed: 4733)
        let rtp = RTPPacket(marker: true, payloadType: 101, sequence: 7, timestamp: 160, ssrc: 9, payload: TelephoneEvent(event: 5, duration: 800).bytes).serialized()
        let report = RTCPReport(ssrc: 7, sender: .init(ntpTimestamp: 1, rtpTimestamp: 2, packetCount: 3, octetCount: 4),
                                blocks: [.init(ssrc: 9, fractionLost: 1, cumulativeLost: -2, highestSequence: 3, jitter: 4, lastSR: 5, delaySinceLastSR: 6)],
                                cname: "siphon@host").serialized()
        var parsed = 0, reports = 0
        var receiver = TelephoneEventReceiver()
        for _ in 0..<50_000 {
            let packet = rng.mutated(rtp)
            if let p = try? RTPPacket(parsing: packet) {
                parsed += 1
                _ = receiver.receive(p)
                _ = try? TelephoneEvent(parsing: p.payload)
            }
            _ = RTPPacket.looksLikeRTCP(packet)
            if (try? RTCPReport(parsing: rng.mutated(report))) != nil { reports += 1 }
        }
        // The loop must have exercised the accepting paths too, not only the refusals.
        #expect(parsed > 1000 && reports > 1000, "parsed \(parsed) RTP, \(reports) RTCP")
    }

    @Test func theJitterBufferSurvivesAnySequenceTimestampAndSenderMix() {
        var rng = SeededRandom(seed: 3550)
        let buffer = JitterBuffer(configuration: .init(clockRate: 8000))
        var frames = 0
        var arrival: UInt64 = 1_000_000
        for i in 0..<100_000 {
            // Mostly a plausible stream with jumps, wraps, duplicates and new senders thrown in.
            let seq = Int.random(in: 0..<10, using: &rng) == 0 ? UInt16.random(in: 0...UInt16.max, using: &rng) : UInt16(truncatingIfNeeded: i)
            let ts = Int.random(in: 0..<10, using: &rng) == 0 ? UInt32.random(in: 0...UInt32.max, using: &rng) : UInt32(truncatingIfNeeded: i * 160)
            let ssrc: UInt32 = Int.random(in: 0..<1000, using: &rng) == 0 ? UInt32.random(in: 0...3, using: &rng) : 1
            arrival &+= UInt64.random(in: 0...60_000_000, using: &rng)
            buffer.insert(RTPPacket(payloadType: 0, sequence: seq, timestamp: ts, ssrc: ssrc, payload: [UInt8(truncatingIfNeeded: i)]), arrivalNanoseconds: arrival)
            if case .frame = buffer.pop() { frames += 1 }
        }
        #expect(frames > 10_000, "\(frames) frames played")
        #expect((buffer.configuration.minDelayFrames...buffer.configuration.maxDelayFrames).contains(buffer.targetDelayFrames))
    }

    @Test func digestChallengesFromAServerNeverTrap() throws {
        var rng = SeededRandom(seed: 7616)
        let challenge = Array(#"Digest realm="sip.example.com", nonce="a1b2\"c3", algorithm=SHA-256, qop="auth,auth-int", opaque="x", stale=TRUE"#.utf8)
        var accepted = 0
        for _ in 0..<20_000 {
            let text = String(decoding: rng.mutated(challenge), as: UTF8.self)
            guard let c = try? DigestChallenge(parsing: text) else { continue }
            accepted += 1
            if c.isSupported {
                _ = try DigestAuthentication.authorization(challenge: c, credentials: .init(username: "u", password: "p"), method: "INVITE", uri: "sip:a@b")
            }
        }
        #expect(accepted > 1000, "\(accepted) challenges accepted")
    }

    /// SRTP offers and answers from a peer (their `a=crypto` lines, keys and protocol) mutated:
    /// negotiation answers or refuses with 488, and whatever it keys has keys of the suite's size.
    @Test func srtpOffersAndAnswersNeverTrap() throws {
        var rng = SeededRandom(seed: 4568)
        var policy = MediaPolicy()
        policy.srtp = true
        let ourOffer = SDPNegotiator.offer(policy: policy, address: "192.0.2.1", port: 4000, sessionID: 1, version: 1)
        let theirs = Array(ourOffer.description.utf8)
        var keyed = 0
        for _ in 0..<20_000 {
            guard let sdp = try? SessionDescription(parsing: String(decoding: rng.mutated(theirs), as: UTF8.self)) else { continue }
            for media in [try? SDPNegotiator.answer(sdp, policy: MediaPolicy(), address: "192.0.2.2", port: 5000, sessionID: 2, version: 1).1,
                          try? SDPNegotiator.accept(answer: sdp, offer: ourOffer, policy: policy)] {
                guard let keys = media?.srtp else { continue }
                keyed += 1
                #expect(keys.local.count == SDESCrypto.keyAndSaltLength && keys.remote.count == SDESCrypto.keyAndSaltLength)
            }
            let stored = SessionDescription.removingKeys(sdp.description)
            for c in sdp.media.flatMap(\.cryptos) { #expect(!stored.contains(Data(c.keyAndSalt).base64EncodedString()), "a key kept") }
        }
        #expect(keyed > 1000, "\(keyed) negotiations keyed")
    }

    /// A registrar's answers, mutated: the granted expiry is always 0 to a day and a Min-Expires a
    /// usable number or none — a huge `expires` once reached arithmetic (the refresh time) unbounded.
    @Test func registrarRepliesNeverTrap() throws {
        var rng = SeededRandom(seed: 3261)
        let ours = try SIPURI("sip:siphon@192.0.2.1:5060")
        let replies = [
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n"
                + "Call-ID: r@b\r\nCSeq: 2 REGISTER\r\nContact: <sip:siphon@10.0.0.9:5060>;expires=3600, <sip:siphon@192.0.2.1:5060>;expires=540\r\n"
                + "Expires: 600\r\nContent-Length: 0\r\n\r\n",
            "SIP/2.0 423 Interval Too Brief\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKr2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n"
                + "Call-ID: r@b\r\nCSeq: 3 REGISTER\r\nMin-Expires: 900\r\nContent-Length: 0\r\n\r\n",
        ].map { Array($0.utf8) }
        var parsed = 0
        for i in 0..<20_000 {
            guard let m = try? SIPParser.parse(datagram: rng.mutated(replies[i % 2])) else { continue }
            parsed += 1
            for asked in [0, 600] {
                let granted = RegistrarReply.granted(m, ours: ours, asked: asked)
                #expect((0...RegistrarReply.longestExpiry).contains(granted), "\(granted)")
            }
            if let minimum = RegistrarReply.minimumExpires(m) { #expect((1...RegistrarReply.longestExpiry).contains(minimum)) }
        }
        #expect(parsed > 2000, "\(parsed) replies parsed")
        // The numbers a registrar might send that would overflow or mislead.
        var huge = try SIPParser.parse(datagram: replies[0])
        huge.set("Contact", "<sip:siphon@192.0.2.1:5060>;expires=9223372036854775807")
        #expect(RegistrarReply.granted(huge, ours: ours, asked: 600) == RegistrarReply.longestExpiry)
        huge.set("Contact", "<sip:siphon@192.0.2.1:5060>;expires=-5")
        #expect(RegistrarReply.granted(huge, ours: ours, asked: 600) == 0)
    }
}
