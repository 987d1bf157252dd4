import Foundation
import Synchronization
import Testing
@testable import SiphonSIP

/// Delayed offer (RFC 3261 13.2.1, 14.2): an INVITE or re-INVITE without SDP is answered with our
/// offer in the 200, and the far end's answer comes in the ACK.
@Suite(.timeLimit(.minutes(1))) struct DelayedOfferTests {
    /// Hands every message the user agent sends to the test, and where it went.
    final class Wire: SIPMessageSender, @unchecked Sendable {
        let sent: AsyncStream<SIPMessage>
        private let sink: AsyncStream<SIPMessage>.Continuation
        private let state = Mutex<(destinations: [String: SIPPeer], connected: Bool)>(([:], true))
        init() { (sent, sink) = AsyncStream<SIPMessage>.makeStream() }
        func send(_ bytes: [UInt8], to peer: SIPPeer) async throws {
            guard let m = try? SIPParser.parse(datagram: bytes) else { return }
            state.withLock { $0.destinations[m.method ?? "response"] = peer }
            sink.yield(m)
        }
        /// Whether the caller's connection is still open (a TCP or TLS caller can close it).
        func isConnected(to peer: SIPPeer) -> Bool { state.withLock { $0.connected } }
        func close() { state.withLock { $0.connected = false } }
        func destination(of method: String) -> SIPPeer? { state.withLock { $0.destinations[method] } }
    }

    static let caller = SIPPeer(host: "127.0.0.1", port: 5099)

    static func answer(port: Int) -> String {
        "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0 101\r\n"
            + "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    }

    static func offer(port: Int) -> String {
        "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 8 0\r\n"
    }

    /// A request from the caller; `dialog` (To with our tag) makes it in-dialog.
    static func request(_ method: String, cseq: Int, branch: String, to: String = "<sip:+15550200123@127.0.0.1>", body: String = "",
                        contact: String = "<sip:x@127.0.0.1:5099>", uri: String = "sip:+15550200123@127.0.0.1") -> [UInt8] {
        let type = body.isEmpty ? "" : "Content-Type: application/sdp\r\n"
        return Array("""
            \(method) \(uri) SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK\(branch)\r
            From: <sip:+15550100000@127.0.0.1>;tag=caller\r
            To: \(to)\r
            Call-ID: delayed-offer@127.0.0.1\r
            CSeq: \(cseq) \(method)\r
            Max-Forwards: 70\r
            Contact: \(contact)\r
            \(type)Content-Length: \(body.utf8.count)\r
            \r
            \(body)
            """.utf8)
    }

    struct Harness {
        let ua: SIPUserAgent
        let wire = Wire()
        let incoming: AsyncStream<IncomingCall>
        /// The caller's transport (a connection for TCP and TLS).
        let over: SIPTransportKind

        init(over: SIPTransportKind = .udp) async {
            self.over = over
            var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
            config.inboundTrunks = [InboundTrunk(name: "test", allowedAddresses: ["127.0.0.1"])]
            ua = SIPUserAgent(configuration: config, sender: wire, localPorts: [.udp: 5060, .tls: 5061])
            await ua.attach()
            let (stream, sink) = AsyncStream<IncomingCall>.makeStream()
            incoming = stream
            await ua.onIncomingCall { sink.yield($0) }
        }

        func receive(_ bytes: [UInt8]) async {
            let from = SIPPeer(host: DelayedOfferTests.caller.host, port: DelayedOfferTests.caller.port, transport: over)
            if over == .udp {
                await ua.stack.receive(.datagram(bytes, from: from))
            } else if let message = try? SIPParser.parse(datagram: bytes) {
                await ua.stack.receive(.stream(message, from: from))
            }
        }

        /// As the transport does (`SIPStack.run`): a re-INVITE's handling waits for its ACK.
        func deliver(_ bytes: [UInt8]) { Task { await receive(bytes) } }

        /// The next final response or request the user agent sends, skipping provisional ones.
        func next(_ where: (SIPMessage) -> Bool) async -> SIPMessage? {
            for await m in wire.sent where `where`(m) { return m }
            return nil
        }

        /// An offerless INVITE, answered with our offer; the ACK carries `ackBody`. Returns the
        /// answer's outcome (still to come: a failure waits for its BYE's response) and our 200.
        func delayedOfferCall(ackBody: String, contact: String = "<sip:x@127.0.0.1:5099>", uri: String = "sip:+15550200123@127.0.0.1")
            async throws -> (Task<Result<SIPCall, SIPCallFailure>, Never>, SIPMessage?) {
            await receive(DelayedOfferTests.request("INVITE", cseq: 1, branch: "inv1", contact: contact, uri: uri))
            var calls = incoming.makeAsyncIterator()
            let call = try #require(await calls.next())
            #expect(call.offer == nil)
            let offer = SDPNegotiator.offer(policy: MediaPolicy(), address: "127.0.0.1", port: 20000, sessionID: 77, version: 1)
            let answering = Task { () -> Result<SIPCall, SIPCallFailure> in
                do { return .success(try await call.answer(offering: offer, policy: MediaPolicy())) } catch let f as SIPCallFailure {
                    return .failure(f)
                } catch { return .failure(SIPCallFailure(kind: .rejected, status: 0, reason: "\(error)")) }
            }
            let ok = await next { $0.status == 200 }
            let toHeader = ok?.header("To") ?? ""
            await receive(DelayedOfferTests.request("ACK", cseq: 1, branch: "ack1", to: toHeader, body: ackBody))
            return (answering, ok)
        }

        func established(ackBody: String) async throws -> SIPCall { try await delayedOfferCall(ackBody: ackBody).0.value.get() }
    }

    @Test func anOfferlessInviteIsAnsweredWithAnOfferAndTheAckCarriesTheAnswer() async throws {
        let h = await Harness()
        let (answering, ok) = try await h.delayedOfferCall(ackBody: Self.answer(port: 4000))
        let call = try await answering.value.get()
        let offered = String(decoding: ok?.body ?? [], as: UTF8.self)
        #expect(offered.contains("m=audio 20000 RTP/AVP"), "the 200 offers our media: \(offered)")
        let media = try #require(await call.media)
        #expect(media.codec.name == "PCMU" && media.remotePort == 4000 && media.dtmfPayloadType == 101)
        #expect(await call.dialog.remoteSDP == Self.answer(port: 4000))
    }

    @Test(arguments: ["", "v=0\r\nthis is not SDP\r\n", "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 98\r\na=rtpmap:98 iLBC/8000\r\n"])
    func anAckWithoutAUsableAnswerEndsTheCallWithABye(ackBody: String) async throws {
        let h = await Harness()
        let (answering, _) = try await h.delayedOfferCall(ackBody: ackBody)
        let bye = try #require(await h.next { $0.method == "BYE" })
        #expect(bye.callID == "delayed-offer@127.0.0.1")
        await h.receive(SIPStack.response(to: bye, status: 200).serialized())
        guard case .failure(let failure) = await answering.value else {
            Issue.record("answered without usable media")
            return
        }
        #expect(failure.status == 488, "\(failure)")
    }

    /// Third-party call control (RFC 3725) moves a call's media with an offerless re-INVITE: the
    /// new address is in the ACK's answer, and the media must follow it.
    @Test func anOfferlessReinviteTakesTheAnswerInTheAck() async throws {
        let h = await Harness()
        let call = try await h.established(ackBody: Self.answer(port: 4000))
        let applied = AsyncStream<NegotiatedMedia>.makeStream()
        await call.setAnswerHandler { answer, offer in
            let m = try SDPNegotiator.accept(answer: answer, offer: offer, policy: MediaPolicy())
            applied.continuation.yield(m)
            return m
        }
        let to = await "<sip:+15550200123@127.0.0.1>;tag=\(call.dialog.localTag)"
        let ourSDP = await call.dialog.localSDP

        h.deliver(Self.request("INVITE", cseq: 2, branch: "reinv1", to: to))
        let ok = await h.next { $0.status == 200 }
        #expect(ok.map { String(decoding: $0.body, as: UTF8.self) } == ourSDP, "the 200 offers our session again")
        await h.receive(Self.request("ACK", cseq: 2, branch: "ack2", to: to, body: Self.answer(port: 4100)))
        var appliedMedia = applied.stream.makeAsyncIterator()
        #expect(await appliedMedia.next()?.remotePort == 4100)
        #expect(await call.media?.remotePort == 4100)
        var events = call.events.makeAsyncIterator()
        #expect(await events.next() == .mediaChanged(try #require(await call.media)))

        // A bad answer next time leaves the media where it is and the call up.
        h.deliver(Self.request("INVITE", cseq: 3, branch: "reinv2", to: to))
        _ = await h.next { $0.status == 200 }
        await h.receive(Self.request("ACK", cseq: 3, branch: "ack3", to: to, body: "garbage"))
        await h.receive(Self.request("INFO", cseq: 4, branch: "info1", to: to))  // handled after the ACK
        _ = await h.next { $0.status == 200 && $0.cseq?.method == "INFO" }
        #expect(await call.media?.remotePort == 4100)
        #expect(await call.isEnded == false)
    }

    /// A call that came in over TLS keeps to TLS: the 200s to its INVITE and to a re-INVITE give a
    /// TLS Contact (the re-INVITE's once gave the UDP one, sending the peer's next requests around TLS).
    @Test func aCallOverTLSGivesATLSContactInEachAnswer() async throws {
        let h = await Harness(over: .tls)
        let (answering, _) = try await h.delayedOfferCall(ackBody: Self.answer(port: 4000))
        let call = try await answering.value.get()
        let to = await "<sip:+15550200123@127.0.0.1>;tag=\(call.dialog.localTag)"
        await call.setOfferHandler { offer in
            try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: 20000, sessionID: 77, version: 2)
        }
        h.deliver(Self.request("INVITE", cseq: 2, branch: "reinv1", to: to, body: Self.offer(port: 4200)))
        let ok = try #require(await h.next { $0.status == 200 && $0.cseq?.number == 2 })
        #expect(ok.header("Contact") == "<sip:siphon@127.0.0.1:5061;transport=tls>", "\(ok.header("Contact") ?? "")")
    }

    /// A TLS caller that closed its connection is reached where it listens (its Contact) for the
    /// worker's BYE, not at the closed connection's source port.
    @Test func aByeToATLSCallerWhoseConnectionClosedGoesToItsContact() async throws {
        let h = await Harness(over: .tls)
        let (answering, _) = try await h.delayedOfferCall(ackBody: Self.answer(port: 4000), contact: "<sip:x@127.0.0.1:5161;transport=tls>")
        let call = try await answering.value.get()
        h.wire.close()
        let hangingUp = Task { await call.hangup() }
        let bye = try #require(await h.next { $0.method == "BYE" })
        #expect(h.wire.destination(of: "BYE") == SIPPeer(host: "127.0.0.1", port: 5161, transport: .tls))
        await h.receive(SIPStack.response(to: bye, status: 200).serialized())
        await hangingUp.value
    }

    /// A caller that dialled a `sips:` URI over TLS gets a `sips:` Contact in the answer, in the
    /// answer to its re-INVITE and in our BYE (RFC 3261 8.1.1.8, 12.1.1), which goes to its `sips:`
    /// Contact; it once got `sip:…;transport=tls`, which a SIPS dialog forbids.
    @Test func aSIPSCallGivesASIPSContactThroughout() async throws {
        let h = await Harness(over: .tls)
        let (answering, ok) = try await h.delayedOfferCall(ackBody: Self.answer(port: 4000), contact: "<sips:x@127.0.0.1:5161>",
                                                           uri: "sips:+15550200123@127.0.0.1")
        #expect(ok?.header("Contact") == "<sips:siphon@127.0.0.1:5061>", "\(ok?.header("Contact") ?? "")")
        let call = try await answering.value.get()
        let to = await "<sip:+15550200123@127.0.0.1>;tag=\(call.dialog.localTag)"
        await call.setOfferHandler { offer in
            try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: 20000, sessionID: 77, version: 2)
        }
        h.deliver(Self.request("INVITE", cseq: 2, branch: "reinv1", to: to, body: Self.offer(port: 4200), contact: "<sips:x@127.0.0.1:5161>",
                               uri: "sips:siphon@127.0.0.1:5061"))
        let reinvited = try #require(await h.next { $0.status == 200 && $0.cseq?.number == 2 })
        #expect(reinvited.header("Contact") == "<sips:siphon@127.0.0.1:5061>", "\(reinvited.header("Contact") ?? "")")
        await h.receive(Self.request("ACK", cseq: 2, branch: "ack2", to: to, uri: "sips:siphon@127.0.0.1:5061"))
        let hangingUp = Task { await call.hangup() }
        let bye = try #require(await h.next { $0.method == "BYE" })
        #expect(bye.requestURI?.description == "sips:x@127.0.0.1:5161")
        #expect(bye.header("Contact") == "<sips:siphon@127.0.0.1:5061>", "\(bye.header("Contact") ?? "")")
        await h.receive(SIPStack.response(to: bye, status: 200).serialized())
        await hangingUp.value
    }

    /// `sips:` only over TLS: over UDP the same INVITE is answered with a plain Contact (a `sips:`
    /// one would send the caller's next requests to a TLS port it did not use).
    @Test func aSIPSURIOverUDPGetsAPlainContact() async throws {
        let h = await Harness()
        let (answering, ok) = try await h.delayedOfferCall(ackBody: Self.answer(port: 4000), contact: "<sips:x@127.0.0.1:5161>",
                                                           uri: "sips:+15550200123@127.0.0.1")
        #expect(ok?.header("Contact") == "<sip:siphon@127.0.0.1:5060>", "\(ok?.header("Contact") ?? "")")
        _ = try await answering.value.get()
    }
}
