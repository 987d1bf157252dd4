import Foundation
import Testing
@testable import SiphonWebRTC

/// STUN against RFC 5769's test vectors, and what a peer can send that must not parse.
@Suite struct STUNTests {
    static func hex(_ s: String) -> [UInt8] {
        let digits = s.filter(\.isHexDigit)
        return stride(from: 0, to: digits.count, by: 2).map { i in
            UInt8(digits[digits.index(digits.startIndex, offsetBy: i)...].prefix(2), radix: 16)!
        }
    }

    // RFC 5769 §2.1: a Binding request with ICE attributes, short-term credential.
    static let request = hex("""
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf
        """)
    static let password = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)

    @Test func rfc5769Request() throws {
        let m = try STUNMessage(parsing: Self.request)
        #expect(m.method == .binding && m.messageClass == .request)
        #expect(m.username == "evtj:h6vY")
        #expect(m.priority == 0x6E00_01FF)
        #expect(m.tieBreaker(.iceControlled) == 0x932F_F9B1_5126_3B36)
        #expect(STUNMessage.verifyIntegrity(Self.request, key: Self.password))
        #expect(STUNMessage.verifyFingerprint(Self.request))
        #expect(!STUNMessage.verifyIntegrity(Self.request, key: Array("wrong".utf8)))
        var tampered = Self.request
        tampered[30] ^= 1
        #expect(!STUNMessage.verifyIntegrity(tampered, key: Self.password))
        #expect(!STUNMessage.verifyFingerprint(tampered))
    }

    @Test func rfc5769IPv4AndIPv6Responses() throws {
        let v4 = Self.hex("""
            01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
            80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
            00 20 00 08 00 01 a1 47 e1 12 a6 43
            00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
            80 28 00 04 c0 7d 4c 96
            """)
        let m4 = try STUNMessage(parsing: v4)
        #expect(m4.messageClass == .success)
        #expect(m4.xorAddress(.xorMappedAddress) == (try TransportAddress(ip: "192.0.2.1", port: 32853)))
        #expect(STUNMessage.verifyIntegrity(v4, key: Self.password) && STUNMessage.verifyFingerprint(v4))
        let v6 = Self.hex("""
            01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
            80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
            00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
            00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
            80 28 00 04 c8 fb 0b 4c
            """)
        let m6 = try STUNMessage(parsing: v6)
        #expect(m6.xorAddress(.xorMappedAddress) == (try TransportAddress(ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853)))
        #expect(STUNMessage.verifyIntegrity(v6, key: Self.password) && STUNMessage.verifyFingerprint(v6))
    }

    @Test func whatWeSerialiseVerifiesAndParsesBack() throws {
        var m = STUNMessage(method: .binding, class: .success)
        let mapped = try TransportAddress(ip: "203.0.113.7", port: 40000)
        m.add(.xorMappedAddress, address: mapped)
        m.add(.username, string: "abc:de")  // 6 bytes: padded
        let raw = m.serialized(integrityKey: Self.password, fingerprint: true)
        #expect(raw.count % 4 == 0)
        let back = try STUNMessage(parsing: raw)
        #expect(back.xorAddress(.xorMappedAddress) == mapped && back.username == "abc:de")
        #expect(STUNMessage.verifyIntegrity(raw, key: Self.password) && STUNMessage.verifyFingerprint(raw))
        #expect(STUNMessage.looksLikeSTUN(raw))
        // Long-term key (RFC 8489 §9.2.2): MD5 of "user:realm:pass".
        #expect(STUNMessage.longTermKey(username: "u", realm: "r", password: "p").count == 16)
    }

    @Test func malformedMessagesAreErrors() {
        let good = Self.request
        let cases: [[UInt8]] = [
            [], Array(good.prefix(19)), Array(good.prefix(24)),          // short
            [0xC0] + good.dropFirst(),                                    // first bits
            Array(good.prefix(4)) + [0, 0, 0, 0] + good.dropFirst(8),     // no cookie
            good + [0, 0, 0, 0],                                          // length disagrees
            Array(good.prefix(2)) + [0x00, 0x59] + good.dropFirst(4),     // length not a multiple of 4
            Array(good.prefix(20)) + [0x00, 0x06, 0x00, 0x60] + Array(repeating: 0, count: good.count - 24),  // attribute past the end
        ]
        for c in cases { #expect(throws: WebRTCError.self) { try STUNMessage(parsing: c) } }
    }

    @Test func candidatesParseAndPrint() throws {
        let line = "candidate:842163049 1 udp 1677729535 198.51.100.7 53705 typ srflx raddr 10.0.0.2 rport 53705 generation 0 ufrag abcd network-cost 999"
        let c = try ICECandidate(parsing: line)
        #expect(c.kind == .srflx && c.priority == 1_677_729_535 && c.address?.port == 53705 && c.related?.ip == "10.0.0.2")
        #expect(try ICECandidate(parsing: "a=" + c.description) == c)
        let mdns = try ICECandidate(parsing: "candidate:1 1 udp 2122260223 2b9d1c5e-70d6-4e1c-9f7a-3f2d3b1a9c0d.local 54321 typ host")
        #expect(mdns.address == nil && mdns.hostname?.hasSuffix(".local") == true)
        for bad in ["candidate:1 1 udp", "candidate:1 1 sctp 1 1.2.3.4 5 typ host", "candidate:1 1 udp x 1.2.3.4 5 typ host",
                    "candidate:1 1 udp 1 1.2.3.4 70000 typ host", "candidate:1 1 udp 1 1.2.3.4 5 typ weird", "candidate:1 1 udp 1 nonsense 5 typ host",
                    "foo"] {
            #expect(throws: WebRTCError.self, "\(bad)") { try ICECandidate(parsing: bad) }
        }
        #expect(ICECandidate.priority(.host, localPreference: 65535, component: 1) == 2_130_706_431)
    }
}
