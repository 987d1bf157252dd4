import Foundation
import Testing
@testable import SiphonSIP

/// Answering an INVITE waits for the caller's ACK; an ACK that arrives while the 200 OK is still
/// being sent must count.
@Suite struct AnswerAckTests {
    /// Acknowledges every 200 OK from inside `send`, before the send returns: the ACK reaches the
    /// user agent while its answer is suspended sending, as it can on a fast link under load.
    actor AcknowledgingSender: SIPMessageSender {
        private(set) var okSent = 0
        private var stack: SIPStack?
        func attach(_ stack: SIPStack) { self.stack = stack }

        func send(_ bytes: [UInt8], to peer: SIPPeer) async throws {
            guard let response = try? SIPParser.parse(datagram: bytes), response.status == 200,
                  let callID = response.callID, let to = response.header("To"), let from = response.header("From") else { return }
            okSent += 1
            let ack = """
                ACK sip:siphon@127.0.0.1:5060 SIP/2.0\r
                Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKack\(okSent)\r
                From: \(from)\r
                To: \(to)\r
                Call-ID: \(callID)\r
                CSeq: 1 ACK\r
                Max-Forwards: 70\r
                Content-Length: 0\r
                \r

                """
            await stack?.receive(.datagram(Array(ack.utf8), from: SIPPeer(host: "127.0.0.1", port: 5099)))
        }
    }

    @Test func anAckThatArrivesDuringTheSendIsNotLost() async throws {
        let sender = AcknowledgingSender()
        var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
        config.inboundTrunks = [InboundTrunk(name: "test", allowedAddresses: ["127.0.0.1"])]
        let ua = SIPUserAgent(configuration: config, sender: sender, localPorts: [.udp: 5060])
        await sender.attach(ua.stack)
        await ua.attach()
        let answered = AsyncStream<Bool>.makeStream()
        await ua.onIncomingCall { incoming in
            guard let offer = incoming.offer,
                  let (sdp, media) = try? SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: 20000, sessionID: 1, version: 1)
            else { answered.continuation.yield(false); return }
            answered.continuation.yield((try? await incoming.answer(sdp: sdp, media: media, sessionID: 1)) != nil)
        }
        let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        let invite = """
            INVITE sip:+15550200123@127.0.0.1 SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKinv1\r
            From: <sip:+15550100000@127.0.0.1>;tag=1\r
            To: <sip:+15550200123@127.0.0.1>\r
            Call-ID: early-ack@127.0.0.1\r
            CSeq: 1 INVITE\r
            Max-Forwards: 70\r
            Contact: <sip:x@127.0.0.1:5099>\r
            Content-Type: application/sdp\r
            Content-Length: \(offer.utf8.count)\r
            \r
            \(offer)
            """
        await ua.stack.receive(.datagram(Array(invite.utf8), from: SIPPeer(host: "127.0.0.1", port: 5099)))
        var results = answered.stream.makeAsyncIterator()
        #expect(await results.next() == true)
        // Answered on the first ACK: before, that ACK was dropped and the answer waited for the
        // 200 OK to be resent (T1, 500 ms later) and acknowledged again.
        #expect(await sender.okSent == 1)
    }
}
