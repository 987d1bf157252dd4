import Foundation
import Testing
@testable import SiphonWebRTC

/// DTLS-SRTP between two endpoints in memory (OpenSSL on both sides), then SRTP with the keys
/// each side exported: both roles, every profile, the fingerprint check, loss and replays.
@Suite struct DTLSTests {
    static let clientCert = try! DTLSCertificate()
    static let serverCert = try! DTLSCertificate()

    /// Pumps datagrams both ways (dropping per `drop`) until both are connected or failed.
    static func handshake(_ c: DTLSEndpoint, _ s: DTLSEndpoint, drop: @escaping (Int) -> Bool = { _ in false }) -> (DTLSEndpoint.Event?, DTLSEndpoint.Event?) {
        c.start()
        s.start()
        var n = 0
        var ce: DTLSEndpoint.Event?, se: DTLSEndpoint.Event?
        for _ in 0..<200 {
            for d in c.takeOutgoing() { n += 1; if !drop(n) { s.receive(d) } }
            for d in s.takeOutgoing() { n += 1; if !drop(n) { c.receive(d) } }
            for e in c.takeEvents() where ce == nil { ce = e }
            for e in s.takeEvents() where se == nil { se = e }
            if ce != nil && se != nil { break }
            // Nothing moving: wait for the retransmission timers (OpenSSL's, on the real clock).
            if let wait = [c.timeoutNs, s.timeoutNs].compactMap({ $0 }).min() { usleep(useconds_t(min(wait / 1000 + 1000, 3_000_000))) }
            c.handleTimeout()
            s.handleTimeout()
        }
        return (ce, se)
    }

    @Test(arguments: DTLSEndpoint.SRTPProfile.allCases)
    func handshakeThenSRTPBothWays(profile: DTLSEndpoint.SRTPProfile) throws {
        let c = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint, profiles: [profile])
        let s = try DTLSEndpoint(role: .server, certificate: Self.serverCert, remoteFingerprint: Self.clientCert.fingerprint)
        let (ce, se) = Self.handshake(c, s)
        guard case .connected(let ck) = ce, case .connected(let sk) = se else {
            Issue.record("not connected: \(String(describing: ce)) \(String(describing: se))")
            return
        }
        #expect(ck.profile == profile && sk.profile == profile)
        #expect(ck.local == sk.remote && ck.remote == sk.local && ck.local != ck.remote)
        #expect(ck.local.count == profile.keyLength + profile.saltLength)
        let cs = try SRTPSession(keys: ck), ss = try SRTPSession(keys: sk)
        let rtp: [UInt8] = [0x80, 111, 0, 1, 0, 0, 3, 0xC0, 0xDE, 0xAD, 0xBE, 0xEF] + Array(repeating: 7, count: 160)
        let wire = try cs.protect(rtp: rtp)
        #expect(wire.count > rtp.count && wire != rtp)
        #expect(try ss.unprotect(rtp: wire) == rtp)
        #expect(throws: WebRTCError.self) { try ss.unprotect(rtp: wire) }  // a replay
        var forged = try cs.protect(rtp: [0x80, 111, 0, 2] + Array(rtp.dropFirst(4)))
        forged[20] ^= 0x01
        #expect(throws: WebRTCError.self) { try ss.unprotect(rtp: forged) }
        // And back, with RTCP too.
        let back = try ss.protect(rtp: [0x80, 111, 0, 9] + Array(rtp.dropFirst(4)))
        #expect(try cs.unprotect(rtp: back).count == rtp.count)
        let rtcp: [UInt8] = [0x80, 200, 0, 6, 0xC0, 0xDE, 0xAD, 0xBE] + Array(repeating: 0, count: 20)
        #expect(try cs.unprotect(rtcp: try ss.protect(rtcp: rtcp)) == rtcp)
        // Application data (SCTP rides on this).
        try c.write([1, 2, 3])
        for d in c.takeOutgoing() { s.receive(d) }
        #expect(s.takeEvents() == [.data([1, 2, 3])])
    }

    @Test func theServerChoosesFromWhatTheClientOffers() throws {
        let c = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint,
                                 profiles: [.aes128CMSHA1_80, .aeadAES128GCM])
        let s = try DTLSEndpoint(role: .server, certificate: Self.serverCert, remoteFingerprint: Self.clientCert.fingerprint,
                                 profiles: [.aeadAES128GCM, .aes128CMSHA1_80])
        let (ce, _) = Self.handshake(c, s)
        guard case .connected(let k) = ce else { Issue.record("\(String(describing: ce))"); return }
        #expect(k.profile == .aeadAES128GCM)
    }

    @Test func aCertificateThatDoesNotMatchTheFingerprintIsRefused() throws {
        let impostor = try DTLSCertificate()
        let c = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint)
        let s = try DTLSEndpoint(role: .server, certificate: impostor, remoteFingerprint: Self.clientCert.fingerprint)
        let (ce, _) = Self.handshake(c, s)
        guard case .failed(let why) = ce else { Issue.record("connected to an impostor: \(String(describing: ce))"); return }
        #expect(why.contains("fingerprint"))
        #expect(throws: WebRTCError.self) { try c.write([1]) }
    }

    @Test func lostFlightsAreRetransmitted() throws {
        let c = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint)
        let s = try DTLSEndpoint(role: .server, certificate: Self.serverCert, remoteFingerprint: Self.clientCert.fingerprint)
        // The first ClientHello and the server's first flight are lost.
        let (ce, se) = Self.handshake(c, s) { n in n == 1 || n == 2 }
        guard case .connected = ce, case .connected = se else { Issue.record("\(String(describing: ce)) \(String(describing: se))"); return }
        #expect(c.timeoutNs == nil)
    }

    /// Paced from ICE's round trip: a flight's first retransmission after the set time, not
    /// OpenSSL's second, doubling after each expiry; an endpoint left alone keeps the second.
    @Test func retransmissionsFollowTheSetInitialTimeout() throws {
        let plain = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint)
        plain.start()
        #expect(try #require(plain.timeoutNs) > 500_000_000, "OpenSSL's own: a second")
        let paced = try DTLSEndpoint(role: .client, certificate: Self.clientCert, remoteFingerprint: Self.serverCert.fingerprint)
        paced.setInitialRetransmission(ns: 40_000_000)
        paced.start()
        #expect(try #require(paced.timeoutNs) <= 40_000_000)
        #expect(paced.takeOutgoing().count == 1, "the ClientHello")
        usleep(45_000)
        paced.handleTimeout()
        #expect(paced.takeOutgoing().count == 1, "sent again after 40 ms")
        let next = try #require(paced.timeoutNs)
        #expect(next > 40_000_000 && next <= 80_000_000, "then doubled: \(next) ns")
    }

    @Test func garbageRecordsNeverTrap() throws {
        let s = try DTLSEndpoint(role: .server, certificate: Self.serverCert, remoteFingerprint: Self.clientCert.fingerprint)
        s.start()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let n = Int.random(in: 0...300, using: &rng)
            var d = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if !d.isEmpty { d[0] = UInt8.random(in: 20...63, using: &rng) }
            s.receive(d)
            _ = s.takeOutgoing()
        }
        _ = s.takeEvents()
    }
}
