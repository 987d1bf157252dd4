import Foundation
import Testing
@testable import SiphonSIP

/// Every input that once crashed the SIP fuzzer (Fuzz/regressions), replayed through the same
/// layers and properties the fuzz target checks: each must parse, never trap, and parse again
/// from its own serialisation.
@Suite struct FuzzRegressionTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

    @Test func inputsThatOnceCrashedAreRefusedOrParsed() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path).sorted()
        #expect(names.count >= 3)
        for name in names {
            let bytes = [UInt8](try Data(contentsOf: Self.dir.appendingPathComponent(name)))
            _ = SIPMessage.sipfragStatus(bytes)
            let message = try SIPParser.parse(datagram: bytes)  // all of these are well-framed messages
            _ = message.sessionExpires
            let again = try SIPParser.parse(datagram: message.serialized())
            #expect(again.startLine == message.startLine && again.body == message.body && again.headers.count >= message.headers.count, "\(name)")
            let text = try #require(String(bytes: message.body, encoding: .utf8), "\(name)")
            if let sdp = try? SessionDescription(parsing: text) {
                _ = try? SDPNegotiator.answer(sdp, policy: MediaPolicy(), address: "192.0.2.1", port: 4000, sessionID: 1, version: 1)
                #expect(throws: Never.self, "\(name)") { try SessionDescription(parsing: sdp.description) }
            }
        }
    }

    @Test func nonRTPStreamsKeepTheirFormatsAndAreRejectedWithThem() throws {
        let offer = try SessionDescription(parsing: """
            v=0\r
            o=- 1 1 IN IP4 192.0.2.9\r
            s=-\r
            c=IN IP4 192.0.2.9\r
            t=0 0\r
            m=audio 4000 RTP/AVP 0\r
            m=image 4002 udptl t38\r

            """)
        #expect(offer.media[1].otherFormats == ["t38"] && offer.media[1].formats.isEmpty)
        let again = try SessionDescription(parsing: offer.description)
        #expect(again.media.map { "\($0.type) \($0.port) \($0.proto) \($0.formats) \($0.otherFormats)" }
                == offer.media.map { "\($0.type) \($0.port) \($0.proto) \($0.formats) \($0.otherFormats)" })
        let (answer, _) = try SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "192.0.2.1", port: 5000, sessionID: 2, version: 1)
        #expect(answer.description.contains("m=image 0 udptl t38\r\n"))
    }
}
