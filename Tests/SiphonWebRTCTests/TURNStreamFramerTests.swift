import Foundation
import Testing
import SiphonCore
@testable import SiphonWebRTC

/// TURN over TCP: messages out of a byte stream, however it is chunked; a stream that is not
/// TURN is an error, never a trap or an unbounded buffer.
@Suite struct TURNStreamFramerTests {
    func stun(_ attributes: [UInt8]) -> [UInt8] {
        var m = STUNMessage(method: .binding, class: .success)
        m.add(.software, attributes)
        return m.serialized(fingerprint: true)
    }

    @Test func messagesComeOutWhateverTheChunking() throws {
        let a = stun(Array("first".utf8)), b = stun(Array("the second one".utf8))
        let channelData: [UInt8] = [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0]  // 5 bytes padded to 8
        let stream = a + channelData + b
        for chunk in [1, 3, 7, 20, stream.count] {
            var framer = TURNStreamFramer()
            var out: [[UInt8]] = []
            for start in stride(from: 0, to: stream.count, by: chunk) {
                out += try framer.push(Array(stream[start..<min(stream.count, start + chunk)]))
            }
            #expect(out == [a, Array(channelData.prefix(9)), b], "chunks of \(chunk)")
        }
    }

    @Test func whatIsNotTURNIsAnError() {
        var framer = TURNStreamFramer()
        #expect(throws: WebRTCError.self) { try framer.push(Array("POST / HTTP/1.1\r\n".utf8)) }  // 'P': a reserved channel
        var tls = TURNStreamFramer()
        #expect(throws: WebRTCError.self) { try tls.push([0x16, 0x03, 0x01, 0x02, 0x00]) }  // a TLS record: length not a multiple of 4
        var odd = TURNStreamFramer()
        #expect(throws: WebRTCError.self) { try odd.push([0x01, 0x01, 0x00, 0x03] + [UInt8](repeating: 0, count: 19)) }
    }

    /// Seeded mutations of a real stream, in random chunks: messages or an error, never a trap,
    /// and never more bytes out than in.
    @Test func mutatedStreamsNeverTrap() {
        var rng = SeededRandom(seed: 43)
        let base = stun(Array("x".utf8)) + [0x40, 0x01, 0x00, 0x02, 9, 9, 0, 0] + stun(Array("yz".utf8))
        for _ in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            var framer = TURNStreamFramer()
            var at = 0, out = 0
            while at < bytes.count {
                let n = Int.random(in: 1...16, using: &rng)
                guard let messages = try? framer.push(Array(bytes[at..<min(bytes.count, at + n)])) else { break }
                out += messages.reduce(0) { $0 + $1.count }
                at += n
            }
            #expect(out <= bytes.count)
        }
    }
}
