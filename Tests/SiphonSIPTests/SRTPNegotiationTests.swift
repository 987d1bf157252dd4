import Foundation
import Testing
import SiphonAudio
@testable import SiphonRTP
@testable import SiphonSIP

/// SRTP with SDES keys (RFC 4568): the `a=crypto` lines we can use, offer/answer pairing keys by
/// tag, refusals with a reason, and no key kept where it could leak.
@Suite struct SRTPNegotiationTests {
    static let key = Data((1...30).map { UInt8($0) }).base64EncodedString()

    @Test func cryptoLinesWeCanUseAndOnesWeCannot() throws {
        let good = try #require(SDESCrypto(attribute: "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)"))
        #expect(good.tag == 1 && good.suite == .aes128SHA1_80 && good.keyAndSalt == Array(1...30))
        #expect(SDESCrypto(attribute: "7 AES_CM_128_HMAC_SHA1_32 inline:\(Self.key)|2^31")?.tag == 7)
        #expect(SDESCrypto(attribute: "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|2147483648")?.suite == .aes128SHA1_80)
        for refused in [
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|2^20",  // a lifetime a long call outlives
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|2^31|1:4",  // an MKI
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|1:4",
            "1 AES_256_CM_HMAC_SHA1_80 inline:\(Self.key)",  // a suite we do not offer
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",  // a key of the wrong size
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key) UNENCRYPTED_SRTP",  // session parameters
            "1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key);inline:\(Self.key)",  // two keys
            "x AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)", "1 AES_CM_128_HMAC_SHA1_80", "",
        ] {
            #expect(SDESCrypto(attribute: Substring(refused)) == nil, "\(refused)")
        }
        #expect(!good.description.contains(Self.key), "a key in a description")
    }

    static func srtpPolicy() -> MediaPolicy {
        var p = MediaPolicy()
        p.srtp = true
        return p
    }

    @Test func anSRTPOfferIsAnsweredWithOurKeyForItsTagAndTheOffererPairsThem() throws {
        let offer = SDPNegotiator.offer(policy: Self.srtpPolicy(), address: "10.0.0.1", port: 4000, sessionID: 1, version: 1)
        let offered = try #require(offer.audio)
        #expect(offered.proto == "RTP/SAVP" && offered.cryptos.map(\.suite) == [.aes128SHA1_80, .aes128SHA1_32])
        // The answerer (whatever its policy) answers in kind, with the first suite offered.
        let (answer, answered) = try SDPNegotiator.answer(try SessionDescription(parsing: offer.description), policy: MediaPolicy(),
                                                         address: "10.0.0.2", port: 5000, sessionID: 2, version: 1)
        #expect(answer.audio?.proto == "RTP/SAVP" && answer.audio?.cryptos.count == 1 && answer.audio?.cryptos.first?.tag == 1)
        let a = try #require(answered.srtp)
        #expect(a.suite == .aes128SHA1_80 && a.remote == offered.cryptos[0].keyAndSalt && a.local != a.remote)
        let accepted = try SDPNegotiator.accept(answer: try SessionDescription(parsing: answer.description), offer: offer, policy: Self.srtpPolicy())
        let o = try #require(accepted.srtp)
        #expect(o.local == a.remote && o.remote == a.local && o.suite == a.suite)
        #expect(!"\(accepted)".contains(Data(o.local).base64EncodedString()), "a key in a description")
        // Fresh keys every time.
        #expect(SDPNegotiator.offer(policy: Self.srtpPolicy(), address: "10.0.0.1", port: 4000, sessionID: 1, version: 1).audio?.cryptos[0] != offered.cryptos[0])
    }

    @Test func whatCannotBeSRTPIsRefusedWithTheReason() throws {
        let plain = SDPNegotiator.offer(policy: MediaPolicy(), address: "10.0.0.1", port: 4000, sessionID: 1, version: 1)
        #expect(throws: SIPMessageError(488, "SRTP is required and the offer is plain RTP")) {
            try SDPNegotiator.answer(plain, policy: Self.srtpPolicy(), address: "10.0.0.2", port: 5000, sessionID: 2, version: 1)
        }
        let aead = try SessionDescription(parsing: plain.description.replacingOccurrences(of: "RTP/AVP", with: "RTP/SAVP")
            + "a=crypto:1 AEAD_AES_256_GCM inline:\(Self.key)\r\n")
        #expect(throws: SIPMessageError.self) {
            try SDPNegotiator.answer(aead, policy: MediaPolicy(), address: "10.0.0.2", port: 5000, sessionID: 2, version: 1)
        }
        // We offered SRTP: a plain answer, or one keyed for a tag we did not offer, is refused.
        let offer = SDPNegotiator.offer(policy: Self.srtpPolicy(), address: "10.0.0.1", port: 4000, sessionID: 1, version: 1)
        let plainAnswer = try SDPNegotiator.answer(plain, policy: MediaPolicy(), address: "10.0.0.2", port: 5000, sessionID: 2, version: 1).0
        #expect(throws: SIPMessageError(488, "we offered SRTP and the answer is plain RTP")) {
            try SDPNegotiator.accept(answer: plainAnswer, offer: offer, policy: Self.srtpPolicy())
        }
        let (srtpAnswer, _) = try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "10.0.0.2", port: 5000, sessionID: 2, version: 1)
        let retagged = try SessionDescription(parsing: srtpAnswer.description.replacingOccurrences(of: "a=crypto:1 ", with: "a=crypto:9 "))
        #expect(throws: SIPMessageError(488, "the answer's SRTP key matches none we offered")) {
            try SDPNegotiator.accept(answer: retagged, offer: offer, policy: Self.srtpPolicy())
        }
        #expect(throws: SIPMessageError(488, "the answer is SRTP to a plain RTP offer")) {
            try SDPNegotiator.accept(answer: srtpAnswer, offer: plain, policy: MediaPolicy())
        }
    }

    /// A dialog saved for a takeover (in Redis) carries the SDPs without their keys.
    @Test func aSavedDialogHoldsNoKey() throws {
        let offer = SDPNegotiator.offer(policy: Self.srtpPolicy(), address: "10.0.0.1", port: 4000, sessionID: 1, version: 1)
        let dialog = SIPDialog(callID: "c", localTag: "l", remoteTag: "r", localSeq: 1, remoteSeq: nil, localURI: "<sip:a@b>", remoteURI: "<sip:c@d>",
                               remoteTarget: "sip:c@d", routeSet: [], peer: SIPPeer(host: "10.0.0.2", port: 5061, transport: .tls), isCaller: true,
                               sdpSessionID: 1, sdpVersion: 1, remoteSDP: offer.description, localSDP: offer.description)
        let json = dialog.json()
        for c in try #require(offer.audio).cryptos {
            let key = Data(c.keyAndSalt).base64EncodedString()
            #expect(!json.contains(key) && !json.contains(key.replacingOccurrences(of: "/", with: "\\/")), "a key in \(json)")
        }
        let stored = try SIPDialog.decode(json)
        let reparsed = try SessionDescription(parsing: try #require(stored.localSDP))
        #expect(reparsed.audio?.proto == "RTP/SAVP" && reparsed.audio?.otherAttributes.filter { $0.hasSuffix("inline:(removed)") }.count == 2)
        #expect(reparsed.audio?.cryptos.isEmpty == true)
    }

    /// Two RTP sessions keyed as offer/answer paired them: audio goes through, and a session
    /// with the wrong key drops every packet (counted) rather than playing noise.
    @Test func srtpSessionsHearEachOtherAndAWrongKeyHearsNothing() async throws {
        let keys = (a: (1...30).map { UInt8($0) }, b: (31...60).map { UInt8($0) })
        func session() async throws -> (RTPSession, Int) {
            var c = RTPSession.Configuration()
            c.bindHost = "127.0.0.1"
            c.portRange = 47000...47999
            c.symmetric = false  // a sends where it is told, not back to whoever sent last
            let s = RTPSession(configuration: c)
            return (s, try await s.open())
        }
        let (a, aPort) = try await session(), (b, bPort) = try await session(), (c, cPort) = try await session()
        func parameters(to port: Int, local: [UInt8], remote: [UInt8]) -> RTPMediaParameters {
            RTPMediaParameters(codec: "PCMU", payloadType: 0, dtmfPayloadType: nil, remoteHost: "127.0.0.1", remotePort: port,
                               srtp: SRTPParameters(profile: .aes128CMSHA1_80, local: local, remote: remote))
        }
        try a.configure(parameters(to: bPort, local: keys.a, remote: keys.b))
        try b.configure(parameters(to: aPort, local: keys.b, remote: keys.a))
        // c hears a too (a sends to it as well below) but was given b's key for a's stream.
        try c.configure(parameters(to: aPort, local: keys.a, remote: keys.b))
        let tone = (0..<320).map { Int16(8000 * sin(Double($0) * 2 * .pi * 440 / 16000)) }
        for _ in 0..<50 { a.enqueue(AudioFrame(sampleRate: 16000, samples: tone)) }
        let runs = [Task { await a.run() }, Task { await b.run() }, Task { await c.run() }]
        let heard = Task { () -> Double in
            var loudest = -120.0
            for await f in b.incoming.prefix(60) { loudest = max(loudest, f.levelDB) }
            return loudest
        }
        // a's packets to c: the same stream, keyed for b.
        try a.configure(parameters(to: cPort, local: keys.a, remote: keys.b))
        try await Task.sleep(for: .milliseconds(400))
        try a.configure(parameters(to: bPort, local: keys.a, remote: keys.b))
        let loudest = await heard.value
        for s in [a, b, c] { s.stop() }
        for r in runs { await r.value }
        #expect(loudest > -20, "b heard a: \(loudest) dB")
        #expect(b.statistics.srtpRefused == 0)
        #expect(c.statistics.packetsReceived == 0 && c.statistics.srtpRefused > 5, "\(c.statistics)")
    }
}
