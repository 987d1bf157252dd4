import Foundation
import Testing
@testable import SiphonSIP

/// Records what the stack sends instead of putting it on the wire.
actor RecordingSender: SIPMessageSender {
    private(set) var sent: [(bytes: [UInt8], peer: SIPPeer)] = []
    func send(_ bytes: [UInt8], to peer: SIPPeer) async throws { sent.append((bytes, peer)) }
    func clear() { sent = [] }
    var responses: [SIPMessage] { sent.compactMap { try? SIPParser.parse(datagram: $0.bytes) }.filter { !$0.isRequest } }
}

/// Every RFC 4475 message delivered to the user agent as one UDP datagram: the answer (or the
/// silence) each one gets, as INDEX.tsv says a user agent should.
@Suite struct TortureUATests {
    static let expected: [String: Int?] = [
        // valid
        "wsinv": 481, "intmeth": 501, "esc01": 404, "escnull": 405, "esc02": 501, "lwsdisp": 200, "longreq": 404,
        "dblreq": 405, "semiuri": 200, "transports": 200, "mpart01": 405, "unreason": nil, "noreason": nil,
        "unkscm": 416, "novelsc": 416, "unksm2": 405, "bext01": 420, "invut": 415, "regaut01": 405, "bcast": nil,
        "zeromf": 200, "cparam01": 405, "cparam02": 405, "regescrt": 405, "sdp01": 406, "inv2543": 404,
        // invalid
        "badinv01": 400, "clerr": 400, "ncl": 400, "scalar02": 400, "scalarlg": nil, "quotbal": 400, "ltgtruri": 400,
        "lwsruri": 400, "lwsstart": 400, "trws": 400, "escruri": 400, "baddate": 404, "regbadct": 400, "badaspec": 400,
        "baddn": 400, "badvers": 505, "mismatch01": 400, "mismatch02": 501, "bigcode": nil, "badbranch": 400,
        "insuf": 400, "multi01": 400, "mcl01": 400,
    ]

    @Test func eachMessageGetsTheAnswerTheRFCExpects() async throws {
        let peer = SIPPeer(host: "127.0.0.1", port: 5099, transport: .udp)
        var seen = 0
        for kind in ["valid", "invalid"] {
            for (name, bytes) in TortureParseTests.load(kind) {
                guard let expected = Self.expected[name] else {
                    Issue.record("\(name): no expectation")
                    continue
                }
                seen += 1
                // A fresh user agent per message: the application's answer (the 404) comes from a
                // task, so a shared one could let a late answer land on the next message.
                let recorder = RecordingSender()
                var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
                config.inboundTrunks = [InboundTrunk(name: "test", allowedAddresses: ["127.0.0.1"])]
                let ua = SIPUserAgent(configuration: config, sender: recorder, localPorts: [.udp: 5060])
                await ua.attach()
                await ua.onIncomingCall { call in await call.reject(status: 404) }  // no such user here
                await ua.stack.receive(.datagram(bytes, from: peer))
                // Wait for the answer to be sent (or, for messages that get none, give the stack the
                // same chance to wrongly answer).
                for _ in 0..<(expected == nil ? 20 : 500) {
                    if expected != nil, await !recorder.responses.filter({ ($0.status ?? 0) >= 200 }).isEmpty { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                let finals = await recorder.responses.filter { ($0.status ?? 0) >= 200 }
                #expect(finals.first?.status == expected, "\(name): got \(finals.map { $0.status ?? 0 })")
                #expect(finals.count <= 1, "\(name): \(finals.count) final responses")
                if name == "bext01" {
                    #expect(finals.first?.header("Unsupported") == "nothingSupportsThis, nothingSupportsThisEither")
                }
                if name == "intmeth" || name == "esc02" { #expect(finals.first?.header("Allow") != nil) }
                // bcast: never anything towards the broadcast address
                #expect(await recorder.sent.allSatisfy { $0.peer.host != "255.255.255.255" })
            }
        }
        #expect(seen == 49)
    }

    @Test func unknownSourcesAreRefusedAndDigestTrunksChallenge() async throws {
        let recorder = RecordingSender()
        var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
        config.inboundTrunks = [InboundTrunk(name: "carrier", allowedAddresses: ["203.0.113.0/24"], credentials: DigestCredentials(username: "u", password: "p"))]
        let ua = SIPUserAgent(configuration: config, sender: recorder, localPorts: [.udp: 5060])
        await ua.attach()
        let invite = Array("""
            INVITE sip:+15550200123@127.0.0.1 SIP/2.0\r
            Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKabc1;rport\r
            From: <sip:+15550100000@203.0.113.7>;tag=1\r
            To: <sip:+15550200123@127.0.0.1>\r
            Call-ID: c1@203.0.113.7\r
            CSeq: 1 INVITE\r
            Max-Forwards: 70\r
            Contact: <sip:x@203.0.113.7>\r
            Content-Length: 0\r
            \r

            """.utf8)
        await ua.stack.receive(.datagram(invite, from: SIPPeer(host: "198.51.100.1", port: 5060)))
        #expect(await recorder.responses.last?.status == 403)
        await recorder.clear()
        let second = Array(String(decoding: invite, as: UTF8.self).replacingOccurrences(of: "z9hG4bKabc1", with: "z9hG4bKabc2").utf8)
        await ua.stack.receive(.datagram(second, from: SIPPeer(host: "203.0.113.7", port: 5060)))
        let challenge = await recorder.responses.last
        #expect(challenge?.status == 401)
        #expect(challenge?.values("WWW-Authenticate").isEmpty == false || challenge?.header("WWW-Authenticate") != nil)
    }

    /// RFC 4028: a session interval under our Min-SE gets 422 with Min-SE; a malformed one turns
    /// session timers off for the call instead of failing it.
    @Test func sessionIntervalsBelowMinSEAreRefusedAndJunkIsIgnored() async throws {
        let peer = SIPPeer(host: "127.0.0.1", port: 5099, transport: .udp)
        for (sessionExpires, expected) in [("30", 422), ("89;refresher=uac", 422), (";", 404), ("/", 404), ("1800", 404)] {
            let recorder = RecordingSender()
            var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
            config.inboundTrunks = [InboundTrunk(name: "test", allowedAddresses: ["127.0.0.1"])]
            let ua = SIPUserAgent(configuration: config, sender: recorder, localPorts: [.udp: 5060])
            await ua.attach()
            await ua.onIncomingCall { call in await call.reject(status: 404) }
            let invite = Array("""
                INVITE sip:+15550200123@127.0.0.1 SIP/2.0\r
                Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKse\(expected)\r
                From: <sip:+15550100000@127.0.0.1>;tag=1\r
                To: <sip:+15550200123@127.0.0.1>\r
                Call-ID: se-\(sessionExpires)@127.0.0.1\r
                CSeq: 1 INVITE\r
                Max-Forwards: 70\r
                Contact: <sip:x@127.0.0.1:5099>\r
                Supported: timer\r
                Session-Expires: \(sessionExpires)\r
                Content-Length: 0\r
                \r

                """.utf8)
            await ua.stack.receive(.datagram(invite, from: peer))
            for _ in 0..<500 where await recorder.responses.filter({ ($0.status ?? 0) >= 200 }).isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
            let final = await recorder.responses.first { ($0.status ?? 0) >= 200 }
            #expect(final?.status == expected, "Session-Expires: \(sessionExpires)")
            if expected == 422 { #expect(final?.header("Min-SE") == "90") }
        }
    }
}
