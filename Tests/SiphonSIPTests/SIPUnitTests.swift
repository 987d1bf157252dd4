import Testing
@testable import SiphonRTP
@testable import SiphonSIP

@Suite struct DigestTests {
    // RFC 7616 3.9.1 test vectors.
    @Test(arguments: [("MD5", "8ca523f5e9506fed4657c9700eebdbec"), ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")])
    func matchesRFC7616(algorithm: String, expected: String) {
        let r = DigestAuthentication.compute(algorithm: algorithm, username: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life",
                                             method: "GET", uri: "/dir/index.html", nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                                             qop: "auth", nc: "00000001", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        #expect(r == expected)
    }

    @Test func challengeRoundTripAndVerification() throws {
        let c = try DigestChallenge(parsing: #"Digest realm="sip.example", nonce="abc", algorithm=SHA-256, qop="auth,auth-int", opaque="o1", stale=TRUE"#)
        #expect(c.realm == "sip.example" && c.algorithm == "SHA-256" && c.qop == ["auth", "auth-int"] && c.opaque == "o1" && c.stale)
        let creds = DigestCredentials(username: "u", password: "p@ss")
        let header = try DigestAuthentication.authorization(challenge: c, credentials: creds, method: "INVITE", uri: "sip:+1@x")
        #expect(header.contains("qop=auth") && header.contains("nc=00000001") && header.contains("opaque=\"o1\""))
        #expect(DigestAuthentication.verify(authorization: header, credentials: creds, method: "INVITE", realm: "sip.example"))
        #expect(!DigestAuthentication.verify(authorization: header, credentials: DigestCredentials(username: "u", password: "x"), method: "INVITE", realm: "sip.example"))
        #expect(!header.contains("p@ss"))
        #expect(throws: (any Error).self) { try DigestChallenge(parsing: "Basic realm=x") }
        let nonces = NonceIssuer()
        let n = nonces.issue()
        #expect(nonces.isValid(n) && !nonces.isValid(n + "0") && !NonceIssuer().isValid(n))
    }
}

@Suite struct SDPTests {
    let pjsipOffer = """
        v=0\r
        o=- 3920843200 3920843200 IN IP4 127.0.0.1\r
        s=pjmedia\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio 4000 RTP/AVP 8 0 96 101\r
        a=rtpmap:96 opus/48000/2\r
        a=fmtp:96 useinbandfec=1\r
        a=rtpmap:101 telephone-event/8000\r
        a=fmtp:101 0-16\r
        a=sendonly\r
        m=video 0 RTP/AVP 31\r

        """

    @Test func answersWithTheOffersFirstSupportedCodec() throws {
        let offer = try SessionDescription(parsing: pjsipOffer)
        let (answer, media) = try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "10.0.0.5", port: 20000, sessionID: 1, version: 1)
        #expect(media.codec.name == "PCMA" && media.codec.payloadType == 8)
        #expect(media.dtmfPayloadType == 101)
        #expect(media.remoteHost == "127.0.0.1" && media.remotePort == 4000)
        #expect(media.direction == .recvonly)  // the offer was sendonly: hold
        #expect(answer.media.count == 2 && answer.media[1].port == 0)
        let reparsed = try SessionDescription(parsing: answer.description)
        #expect(reparsed.audio?.formats == [8, 101] && reparsed.audio?.direction == .recvonly)
        // The offerer's view of that answer.
        let accepted = try SDPNegotiator.accept(answer: reparsed, offer: offer, policy: MediaPolicy())
        #expect(accepted.codec.payloadType == 8 && accepted.remotePort == 20000 && accepted.direction == .sendonly)
    }

    @Test func opusWithADynamicPayloadType() throws {
        let offer = try SessionDescription(parsing: pjsipOffer.replacingOccurrences(of: "RTP/AVP 8 0 96 101", with: "RTP/AVP 96 101"))
        let (_, media) = try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "10.0.0.5", port: 20000, sessionID: 1, version: 1)
        #expect(media.codec.name == "opus" && media.codec.payloadType == 96)
    }

    @Test func refusesOffersWithNothingInCommonOrBrokenLines() throws {
        let g729 = try SessionDescription(parsing: pjsipOffer.replacingOccurrences(of: "RTP/AVP 8 0 96 101", with: "RTP/AVP 18"))
        #expect(throws: SIPMessageError.self) { try SDPNegotiator.answer(g729, policy: MediaPolicy(), address: "x", port: 1, sessionID: 1, version: 1) }
        // The "/" ports were found by the fuzzer: a bare slash split into nothing and trapped.
        for broken in ["v=1\r\n", "v=0\r\no=x\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1000 RTP/AVP 0\r\n",
                       "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio / RTP/AVP 0\r\n", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio // RTP/AVP 0\r\n",
                       "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio /2 RTP/AVP 0\r\n"] {
            #expect(throws: SIPMessageError.self) { try SessionDescription(parsing: broken) }
        }
    }
}

@Suite struct SIPMessageTests {
    @Test func buildsAndReparsesARequest() throws {
        var m = SIPMessage(startLine: .request(method: "INVITE", uri: "sip:+15550200@trunk.example;user=phone"))
        m.add("Via", ViaHeader(transport: "UDP", host: "10.0.0.1", port: 5060, branch: "z9hG4bKxyz").description)
        m.add("From", "\"Front Desk\" <sip:+15550100@10.0.0.1>;tag=a1")
        m.add("To", "<sip:+15550200@trunk.example>")
        m.add("Call-ID", "c@h")
        m.add("CSeq", "1 INVITE")
        m.body = Array("v=0\r\n".utf8)
        let again = try SIPParser.parse(datagram: m.serialized())
        #expect(again.method == "INVITE" && again.body == m.body && again.header("Content-Length") == "5")
        #expect(try again.from().displayName == "Front Desk" && again.fromTag == "a1")
        #expect(again.requestURI?.user == "+15550200" && again.requestURI?.parameters["user"] == "phone")
        #expect(again.topVia?.branch == "z9hG4bKxyz" && again.topVia?.parameters.has("rport") == true)
        try SIPValidation.validate(request: again)
    }

    @Test func tcpFramingWaitsForTheBodyAndSplitsMessages() throws {
        let one = Array("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody".utf8)
        var framer = SIPStreamFramer()
        framer.append(one.prefix(30))
        #expect(try framer.next() == nil)
        framer.append(one.dropFirst(30) + one)
        #expect(try framer.next()?.body == Array("body".utf8))
        #expect(try framer.next() != nil)
        #expect(try framer.next() == nil)
        var bad = SIPStreamFramer()
        bad.append(Array("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n".utf8))
        #expect(throws: SIPMessageError.self) { try bad.next() }
    }

    @Test func cidrAllowLists() {
        #expect(CIDR.contains("203.0.113.0/24", "203.0.113.99"))
        #expect(!CIDR.contains("203.0.113.0/24", "203.0.114.1"))
        #expect(CIDR.contains("10.1.2.3", "10.1.2.3") && !CIDR.contains("10.1.2.3", "10.1.2.4"))
        #expect(CIDR.contains("0.0.0.0/0", "8.8.8.8"))
        #expect(!CIDR.contains("junk/99", "1.2.3.4"))
        for junk in ["/", "//", "/8", "", "1.2.3.4/"] { #expect(!CIDR.contains(junk, "1.2.3.4"), "\(junk)") }
    }

    @Test func sessionExpiresHeadersParseOrAreIgnored() {
        #expect(SessionExpires(parsing: "1800") == SessionExpires(seconds: 1800))
        #expect(SessionExpires(parsing: " 90 ; refresher = UAS") == SessionExpires(seconds: 90, refresher: "uas"))
        #expect(SessionExpires(parsing: "600;refresher=uac;x=y")?.headerValue == "600;refresher=uac")
        #expect(SessionExpires(parsing: "600;refresher=proxy") == SessionExpires(seconds: 600))
        for junk in ["", ";", ";refresher=uas", "-5", "0", "abc", "1e3", "99999999999999999999", "+90"] {
            #expect(SessionExpires(parsing: junk) == nil, "\(junk)")
        }
    }

    @Test func sipfragStatusLines() {
        #expect(SIPMessage.sipfragStatus(Array("SIP/2.0 180 Ringing\r\n".utf8)) == 180)
        #expect(SIPMessage.sipfragStatus(Array("SIP/2.0 200 OK".utf8)) == 200)
        #expect(SIPMessage.sipfragStatus(Array("SIP/2.0 503 \r\nRetry-After: 5\r\n".utf8)) == 503)
        // "SIP/2.0 " with no code used to index past the split and trap the worker.
        for junk in ["SIP/2.0 ", "SIP/2.0", "SIP/2.0 99 x", "SIP/2.0 abc OK", "", "\r\n", "INVITE sip:a@b SIP/2.0"] {
            #expect(SIPMessage.sipfragStatus(Array(junk.utf8)) == nil, "\(junk)")
        }
    }

    @Test func dialogRequestsFollowTheRouteSet() throws {
        var d = SIPDialog(callID: "c", localTag: "l", remoteTag: "r", localSeq: 1, remoteSeq: nil, localURI: "<sip:me@a>", remoteURI: "<sip:you@b>",
                          remoteTarget: "sip:you@10.0.0.9:5070", routeSet: ["<sip:proxy.example;lr>"], peer: SIPPeer(host: "10.0.0.2", port: 5060),
                          isCaller: true, sdpSessionID: 1, sdpVersion: 1)
        let bye = d.request("BYE", via: ViaHeader(transport: "UDP", host: "h", port: 5060, branch: "z9hG4bKb"), contact: "<sip:me@h>", userAgent: "t")
        #expect(bye.requestURI?.description == "sip:you@10.0.0.9:5070")
        #expect(bye.values("Route") == ["<sip:proxy.example;lr>"])
        #expect(bye.cseq?.number == 2 && bye.fromTag == "l" && bye.toTag == "r")
        let restored = try SIPDialog.decode(d.json())
        #expect(restored == d)
    }
}

@Suite struct RTPTests {
    @Test func packetsRoundTripAndMalformedOnesAreRefused() throws {
        let p = RTPPacket(marker: true, payloadType: 0, sequence: 65535, timestamp: 0xDEADBEEF, ssrc: 42, payload: [1, 2, 3])
        #expect(try RTPPacket(parsing: p.serialized()) == p)
        #expect(throws: (any Error).self) { try RTPPacket(parsing: [0x80, 0]) }
        #expect(throws: (any Error).self) { try RTPPacket(parsing: [0x40] + [UInt8](repeating: 0, count: 11)) }  // version 1
        #expect(throws: (any Error).self) { try RTPPacket(parsing: [0x8F] + [UInt8](repeating: 0, count: 11)) }  // 15 CSRCs missing
        var padded = p.serialized()
        padded[0] |= 0x20
        padded += [0, 0, 3]
        #expect(try RTPPacket(parsing: padded).payload == [1, 2, 3])
    }

    @Test func rtcpReportRoundTrips() throws {
        let r = RTCPReport(ssrc: 7, sender: .init(ntpTimestamp: 0x0102_0304_0506_0708, rtpTimestamp: 160, packetCount: 3, octetCount: 480),
                           blocks: [.init(ssrc: 9, fractionLost: 12, cumulativeLost: -2, highestSequence: 70000, jitter: 33, lastSR: 5, delaySinceLastSR: 6)],
                           cname: "siphon@test")
        #expect(try RTCPReport(parsing: r.serialized()) == r)
        let rr = RTCPReport(ssrc: 1, sender: nil, blocks: [], cname: nil)
        #expect(try RTCPReport(parsing: rr.serialized()) == rr)
    }

    func packet(_ seq: UInt16, ts: UInt32? = nil, ssrc: UInt32 = 1) -> RTPPacket {
        RTPPacket(payloadType: 0, sequence: seq, timestamp: ts ?? UInt32(seq) * 160, ssrc: ssrc, payload: [UInt8(seq & 0xFF)])
    }

    @Test func jitterBufferReordersConcealsAndDropsDuplicatesAndLatePackets() {
        let jb = JitterBuffer(configuration: .init(clockRate: 8000))
        var t: UInt64 = 0
        for seq: UInt16 in [10, 12, 11, 11, 14] {  // reordered, duplicate, 13 lost
            jb.insert(packet(seq), arrivalNanoseconds: t)
            t += 20_000_000
        }
        var out: [JitterBuffer.Output] = []
        for _ in 0..<5 { out.append(jb.pop()) }
        #expect(out == [.frame([10]), .frame([11]), .frame([12]), .missing, .frame([14])])
        jb.insert(packet(12), arrivalNanoseconds: t)  // too late now
        #expect(jb.statistics.late == 1 && jb.statistics.duplicates == 1 && jb.statistics.lost == 1 && jb.statistics.reordered == 1)
    }

    @Test func jitterBufferHandlesSequenceWrapAndANewSender() {
        let jb = JitterBuffer(configuration: .init(clockRate: 8000))
        for (i, seq) in [UInt16(65534), 65535, 0, 1].enumerated() { jb.insert(packet(seq), arrivalNanoseconds: UInt64(i) * 20_000_000) }
        #expect((0..<4).map { _ in jb.pop() } == [.frame([254]), .frame([255]), .frame([0]), .frame([1])])
        // Takeover: a new SSRC starting elsewhere restarts the stream instead of counting as loss.
        for seq: UInt16 in [500, 501] { jb.insert(packet(seq, ssrc: 2), arrivalNanoseconds: 0) }
        #expect(jb.pop() == .frame([244]))
        #expect(jb.statistics.lost == 0)
    }

    @Test func telephoneEventsAreReportedOncePerEvent() {
        var rx = TelephoneEventReceiver()
        let events = TelephoneEventSender.packets(digit: "7")!
        #expect(events.count == 7 && events.first?.end == false && events.suffix(3).allSatisfy(\.end))
        var digits: [Character] = []
        for e in events {
            if let d = rx.receive(RTPPacket(payloadType: 101, sequence: 1, timestamp: 1000, ssrc: 1, payload: e.bytes)) { digits.append(d) }
        }
        for e in events.prefix(2) {
            if let d = rx.receive(RTPPacket(payloadType: 101, sequence: 2, timestamp: 2000, ssrc: 1, payload: e.bytes)) { digits.append(d) }
        }
        #expect(digits == ["7", "7"])
    }
}

extension RTPTests {
    /// Silence suppression: the sender pauses, then continues with the next sequence number. None
    /// of the words after the pause may be dropped as "late".
    @Test func jitterBufferKeepsTheFirstPacketsAfterSilenceSuppression() {
        let jb = JitterBuffer(configuration: .init(clockRate: 8000))
        for seq: UInt16 in 1...4 { jb.insert(packet(seq), arrivalNanoseconds: UInt64(seq) * 20_000_000) }
        var played: [JitterBuffer.Output] = []
        for _ in 0..<30 { played.append(jb.pop()) }  // 4 frames, then 26 ticks of nothing
        #expect(played.prefix(4) == [.frame([1]), .frame([2]), .frame([3]), .frame([4])])
        for seq: UInt16 in 5...9 { jb.insert(packet(seq), arrivalNanoseconds: 700_000_000 + UInt64(seq) * 20_000_000) }
        var after: [[UInt8]] = []
        for _ in 0..<10 { if case .frame(let p) = jb.pop() { after.append(p) } }
        #expect(after == [[5], [6], [7], [8], [9]])
        #expect(jb.statistics.late == 0)
    }
}
