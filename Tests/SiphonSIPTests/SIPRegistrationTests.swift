import Foundation
import Testing
@testable import SiphonSIP

/// REGISTER kept across refreshes (RFC 3261 10.2): one Call-ID and a rising CSeq, digest answered,
/// a 423 retried with Min-Expires, the expiry our Contact was granted among other bindings; and
/// calls from the registrar let in while a binding stands.
@Suite(.timeLimit(.minutes(1))) struct SIPRegistrationTests {
    typealias Wire = DelayedOfferTests.Wire
    static let registrarPeer = SIPPeer(host: "127.0.0.2", port: 5070)
    static let credentials = DigestCredentials(username: "line7", password: "pa55-word-7")

    struct Harness {
        let ua: SIPUserAgent
        let wire = Wire()
        let incoming: AsyncStream<IncomingCall>

        init(trunks: [InboundTrunk] = []) async {
            var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
            config.inboundTrunks = trunks
            ua = SIPUserAgent(configuration: config, sender: wire, localPorts: [.udp: 5060])
            await ua.attach()
            let (stream, sink) = AsyncStream<IncomingCall>.makeStream()
            incoming = stream
            await ua.onIncomingCall { sink.yield($0) }
        }

        func registration() throws -> SIPRegistration {
            SIPRegistration(registrar: try SIPURI("sip:127.0.0.2:5070"), aor: try SIPURI("sip:line7@carrier.example"),
                            peer: SIPRegistrationTests.registrarPeer, credentials: SIPRegistrationTests.credentials)
        }

        /// The registrar: answers each REGISTER with what `answer` makes of it; returns them all.
        func registrar(_ answer: @escaping @Sendable (SIPMessage) -> SIPMessage) -> Task<[SIPMessage], Never> {
            Task {
                var seen: [SIPMessage] = []
                for await m in wire.sent where m.method == "REGISTER" {
                    seen.append(m)
                    let response = answer(m)
                    await ua.stack.receive(.datagram(response.serialized(), from: SIPRegistrationTests.registrarPeer))
                    if m.header("Expires") == "0", response.status == 200 { break }
                }
                return seen
            }
        }
    }

    static func ok(_ m: SIPMessage, contacts: [String], expires: String? = nil) -> SIPMessage {
        var r = SIPStack.response(to: m, status: 200)
        for c in contacts { r.add("Contact", c) }
        if let expires { r.add("Expires", expires) }
        return r
    }

    @Test func refreshesKeepTheCallIDAndRaiseTheCSeqAndDigestIsAnswered() async throws {
        let h = await Harness()
        let challenge = DigestChallenge(realm: "carrier.example", nonce: "n0nce-1", algorithm: "SHA-256")
        let registrar = h.registrar { m in
            guard let auth = m.header("Authorization"),
                  DigestAuthentication.verify(authorization: auth, credentials: Self.credentials, method: "REGISTER", realm: "carrier.example") else {
                var r = SIPStack.response(to: m, status: 401)
                r.add("WWW-Authenticate", challenge.headerValue)
                return r
            }
            // Another worker's binding is listed first: ours is the one that counts.
            let expires = m.header("Expires") ?? "?"
            return Self.ok(m, contacts: ["<sip:siphon@10.0.0.9:5060>;expires=3600", "<sip:siphon@127.0.0.1:5060>;expires=\(expires == "0" ? "0" : "540")"])
        }
        var registration = try h.registration()
        #expect(try await h.ua.register(&registration, expires: 600) == 540)
        #expect(try await h.ua.register(&registration, expires: 600) == 540)
        #expect(try await h.ua.register(&registration, expires: 0) == 0)
        let sent = await registrar.value
        #expect(Set(sent.compactMap(\.callID)).count == 1, "one Call-ID for every refresh")
        let cseqs = sent.compactMap { $0.cseq?.number }
        #expect(cseqs == Array(1...UInt32(cseqs.count)) && cseqs.count == 6, "\(cseqs)")
        #expect(sent.allSatisfy { $0.header("To") == "<sip:line7@carrier.example>" && $0.header("Contact") == "<sip:siphon@127.0.0.1:5060>" })
        #expect(!sent.map { $0.serialized() }.contains { String(decoding: $0, as: UTF8.self).contains("pa55-word-7") })
    }

    @Test func anIntervalTooBriefIsAskedAgainWithMinExpires() async throws {
        let h = await Harness()
        let registrar = h.registrar { m in
            guard let asked = m.header("Expires").flatMap({ Int($0) }), asked >= 900 || asked == 0 else {
                var r = SIPStack.response(to: m, status: 423)
                r.add("Min-Expires", "900")
                return r
            }
            return Self.ok(m, contacts: asked == 0 ? [] : ["<sip:siphon@127.0.0.1:5060>"], expires: String(asked))
        }
        var registration = try h.registration()
        #expect(try await h.ua.register(&registration, expires: 300) == 900)
        #expect(try await h.ua.register(&registration, expires: 0) == 0)
        let asked = await registrar.value.compactMap { $0.header("Expires") }
        #expect(asked == ["300", "900", "0"], "\(asked)")
    }

    @Test(arguments: [(403, nil), (423, nil as String?), (423, "lots")])
    func aRefusalSaysWhy(status: Int, minExpires: String?) async throws {
        let h = await Harness()
        _ = h.registrar { m in
            var r = SIPStack.response(to: m, status: status)
            if let minExpires { r.add("Min-Expires", minExpires) }
            return r
        }
        var registration = try h.registration()
        let error = try #require(await #expect(throws: SIPMessageError.self) { try await h.ua.register(&registration, expires: 600) })
        #expect(error.status == status && error.reason.hasPrefix("REGISTER refused: \(status)"), "\(error)")
    }

    /// Wrong credentials: challenged again and again, it gives up after three answers (it once
    /// answered every 401 for ever: a `case 401, 407 where …` binds the condition to 407 alone).
    @Test func wrongCredentialsAreRefusedAfterThreeChallenges() async throws {
        let h = await Harness()
        let registrar = h.registrar { m in
            var r = SIPStack.response(to: m, status: 401)
            r.add("WWW-Authenticate", DigestChallenge(realm: "carrier.example", nonce: "n-\(m.cseq?.number ?? 0)").headerValue)
            return r
        }
        var registration = try h.registration()
        let error = try #require(await #expect(throws: SIPMessageError.self) { try await h.ua.register(&registration, expires: 600) })
        #expect(error.status == 401, "\(error)")
        registrar.cancel()
        #expect(registration.cseq == 4)
    }

    /// With no inbound trunk configured, an INVITE from the registrar is let in while our binding
    /// stands (the registrar sends our line's calls to our Contact), and refused once it is removed.
    @Test func callsFromTheRegistrarAreLetInWhileRegistered() async throws {
        let h = await Harness()
        _ = h.registrar { m in Self.ok(m, contacts: m.header("Expires") == "0" ? [] : ["<sip:siphon@127.0.0.1:5060>;expires=600"]) }
        let invite = { (branch: String) in
            Array("""
                INVITE sip:siphon@127.0.0.1:5060 SIP/2.0\r
                Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK\(branch)\r
                From: <sip:+15550100000@carrier.example>;tag=c1\r
                To: <sip:+15550200123@carrier.example>\r
                Call-ID: \(branch)@carrier.example\r
                CSeq: 1 INVITE\r
                Max-Forwards: 70\r
                Contact: <sip:proxy@127.0.0.2:5070>\r
                Content-Length: 0\r
                \r

                """.utf8)
        }
        var registration = try h.registration()
        _ = try await h.ua.register(&registration, expires: 600)
        await h.ua.stack.receive(.datagram(invite("inv1"), from: Self.registrarPeer))
        var calls = h.incoming.makeAsyncIterator()
        let call = try #require(await calls.next())
        #expect(call.trunk == InboundTrunk.registrationName && call.dialled == "siphon")
        await call.reject(status: 486)

        _ = try await h.ua.register(&registration, expires: 0)
        await h.ua.stack.receive(.datagram(invite("inv2"), from: Self.registrarPeer))
        var refused: SIPMessage?
        for await m in h.wire.sent where m.status == 403 { refused = m; break }
        #expect(refused?.callID == "inv2@carrier.example")
    }
}
