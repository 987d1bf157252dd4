import COpenSSL
import Foundation

/// One DTLS 1.2 association for DTLS-SRTP (RFC 5764) and SCTP (RFC 8261), on OpenSSL with memory
/// and callback BIOs: sans-IO — datagrams in, datagrams out (one per BIO write, so OpenSSL's
/// flights keep their boundaries), a timer for retransmissions. The peer's certificate is checked
/// against the `a=fingerprint` of its SDP; the SRTP keys come from the keying-material exporter.
/// Not thread-safe: the peer connection confines it.
public final class DTLSEndpoint {
    public enum Role: String, Sendable {
        /// `a=setup:active`: sends the ClientHello.
        case client
        /// `a=setup:passive`.
        case server
    }

    /// SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2), preferred first.
    public enum SRTPProfile: UInt16, Sendable, CaseIterable {
        case aeadAES256GCM = 0x0008
        case aeadAES128GCM = 0x0007
        case aes128CMSHA1_80 = 0x0001

        var openSSLName: String {
            switch self {
            case .aeadAES256GCM: "SRTP_AEAD_AES_256_GCM"
            case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
            case .aes128CMSHA1_80: "SRTP_AES128_CM_SHA1_80"
            }
        }

        var keyLength: Int { self == .aeadAES256GCM ? 32 : 16 }
        var saltLength: Int { self == .aes128CMSHA1_80 ? 14 : 12 }
    }

    public struct Keys: Sendable, Equatable {
        public var profile: SRTPProfile
        /// Key ‖ salt for what we send, and for what we receive.
        public var local: [UInt8]
        public var remote: [UInt8]
    }

    public enum Event: Sendable, Equatable {
        case connected(Keys)
        /// Application data (SCTP packets).
        case data([UInt8])
        case closed
        case failed(String)
    }

    public let role: Role
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private var outgoing: [[UInt8]] = []
    private var events: [Event] = []
    private var expectedFingerprint: String?
    public private(set) var isConnected = false
    public private(set) var isFinished = false
    private var started = false
    private var readBuffer = [UInt8](repeating: 0, count: 16_384)

    /// `profiles`: what we offer (or accept, as server), in order of preference.
    public init(role: Role, certificate: DTLSCertificate = .shared, remoteFingerprint: String?,
                profiles: [SRTPProfile] = SRTPProfile.allCases) throws {
        self.role = role
        expectedFingerprint = remoteFingerprint?.uppercased()
        guard let ctx = SSL_CTX_new(DTLS_method()) else { throw DTLSCertificate.error("SSL_CTX_new") }
        defer { SSL_CTX_free(ctx) }  // the SSL keeps its own reference
        siphon_SSL_CTX_set_min_proto_version(ctx, siphon_DTLS1_2_VERSION())
        siphon_SSL_CTX_set_max_proto_version(ctx, siphon_DTLS1_2_VERSION())
        SSL_CTX_set_options(ctx, siphon_DTLS_OPTIONS())
        siphon_SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384")
        guard SSL_CTX_use_certificate(ctx, certificate.x509) == 1, SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1 else {
            throw DTLSCertificate.error("installing the certificate")
        }
        // Self-signed certificates: OpenSSL's chain check is skipped (preverify fails by design);
        // the fingerprint is checked when the handshake completes.
        SSL_CTX_set_verify(ctx, siphon_SSL_VERIFY_PEER_REQUIRED()) { _, _ in 1 }
        // Returns 0 on success (sic).
        guard SSL_CTX_set_tlsext_use_srtp(ctx, profiles.map(\.openSSLName).joined(separator: ":")) == 0 else {
            throw DTLSCertificate.error("SSL_CTX_set_tlsext_use_srtp")
        }
        guard let ssl = SSL_new(ctx) else { throw DTLSCertificate.error("SSL_new") }
        guard let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(DatagramBIO.method) else {
            SSL_free(ssl)
            throw DTLSCertificate.error("BIO_new")
        }
        siphon_BIO_set_mem_eof_return(rbio, -1)
        self.ssl = ssl
        readBIO = rbio
        SSL_set_bio(ssl, rbio, wbio)
        siphon_SSL_set_mtu(ssl, 1200)
        if role == .client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        BIO_set_data(wbio, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        if let wbio = SSL_get_wbio(ssl) { BIO_set_data(wbio, nil) }
        SSL_free(ssl)
    }

    /// Sets or replaces the peer's fingerprint (it may arrive after the endpoint was made).
    public func setRemoteFingerprint(_ fingerprint: String) { expectedFingerprint = fingerprint.uppercased() }

    /// Each flight's first retransmission after `ns` (then doubling, to 60 s) instead of RFC 6347's
    /// fixed second: set from ICE's round trip, a flight lost on a call's path costs a fraction of
    /// a second of its first words rather than a second or more (libwebrtc's DtlsTransport also
    /// starts from its ICE round trip, clamped to 50 ms–3 s). Applies from the next flight on.
    public func setInitialRetransmission(ns: UInt64) {
        let us = UInt(max(10_000, min(ns / 1000, 60_000_000)))  // 10 ms at the least: never a storm
        SSL_set_ex_data(ssl, 0, UnsafeMutableRawPointer(bitPattern: us))  // index 0: the "app data" slot
        DTLS_set_timer_cb(ssl, Self.retransmissionTimer)
    }

    /// OpenSSL asks with 0 for a flight's first timeout, then with the last one after each expiry.
    private static let retransmissionTimer: DTLS_timer_cb = { ssl, previous in
        guard previous > 0 else { return UInt32(UInt(bitPattern: SSL_get_ex_data(ssl, 0))) }
        return min(previous &* 2, 60_000_000)
    }

    /// Begins the handshake (the client's ClientHello; a server waits for it).
    public func start() {
        guard !started else { return }
        started = true
        if role == .client { step() }
    }

    /// A DTLS datagram from the peer.
    public func receive(_ datagram: [UInt8]) {
        guard !isFinished, datagram.count <= 65_536 else { return }
        started = true
        _ = datagram.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        step()
    }

    /// Application data (SCTP) to the peer.
    public func write(_ data: [UInt8]) throws {
        guard isConnected, !isFinished else { throw WebRTCError(.connectivity, "DTLS is not connected") }
        let n = data.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard n == data.count else { throw WebRTCError(.library, "SSL_write: \(DTLSCertificate.openSSLErrors())") }
    }

    /// Datagrams to send, in order.
    public func takeOutgoing() -> [[UInt8]] {
        defer { outgoing.removeAll() }
        return outgoing
    }

    public func takeEvents() -> [Event] {
        defer { events.removeAll() }
        return events
    }

    /// Retransmission timer: how long from now (ns) OpenSSL wants `handleTimeout`, if at all.
    public var timeoutNs: UInt64? {
        guard started, !isConnected, !isFinished else { return nil }
        var tv = timeval()
        guard siphon_DTLSv1_get_timeout(ssl, &tv) == 1 else { return nil }
        return UInt64(tv.tv_sec) * 1_000_000_000 + UInt64(tv.tv_usec) * 1000
    }

    public func handleTimeout() {
        guard started, !isConnected, !isFinished else { return }
        if siphon_DTLSv1_handle_timeout(ssl) < 0 { fail("handshake retransmission failed") }
    }

    /// Sends close_notify.
    public func close() {
        guard !isFinished else { return }
        if isConnected { SSL_shutdown(ssl) }
        isFinished = true
    }

    // MARK: internals

    private func step() {
        if !isConnected {
            let r = SSL_do_handshake(ssl)
            if r == 1 {
                finishHandshake()
            } else {
                let e = SSL_get_error(ssl, r)
                if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE {
                    fail("handshake: \(DTLSCertificate.openSSLErrors())")
                }
                return
            }
        }
        while isConnected, !isFinished {
            let n = readBuffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                events.append(.data(Array(readBuffer[0..<Int(n)])))
                continue
            }
            let e = SSL_get_error(ssl, n)
            if e == SSL_ERROR_ZERO_RETURN {
                isFinished = true
                events.append(.closed)
            } else if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE {
                fail("read: \(DTLSCertificate.openSSLErrors())")
            }
            break
        }
    }

    private func finishHandshake() {
        guard let cert = SSL_get0_peer_certificate(ssl) else { return fail("the peer sent no certificate") }
        let actual = DTLSCertificate.sha256Fingerprint(cert)
        guard let expected = expectedFingerprint else { return fail("no a=fingerprint to check the peer's certificate against") }
        guard actual == expected else { return fail("the peer's certificate does not match its a=fingerprint") }
        guard let selected = SSL_get_selected_srtp_profile(ssl), let profile = SRTPProfile(rawValue: UInt16(selected.pointee.id)) else {
            return fail("no SRTP profile in common")
        }
        let n = 2 * (profile.keyLength + profile.saltLength)
        var material = [UInt8](repeating: 0, count: n)
        let label = "EXTRACTOR-dtls_srtp"
        guard SSL_export_keying_material(ssl, &material, n, label, label.utf8.count, nil, 0, 0) == 1 else {
            return fail("keying material export: \(DTLSCertificate.openSSLErrors())")
        }
        // client_key | server_key | client_salt | server_salt (RFC 5764 §4.2).
        let k = profile.keyLength, s = profile.saltLength
        let clientKey = Array(material[0..<k]), serverKey = Array(material[k..<2 * k])
        let clientSalt = Array(material[2 * k..<2 * k + s]), serverSalt = Array(material[2 * k + s..<2 * k + 2 * s])
        let client = clientKey + clientSalt, server = serverKey + serverSalt
        isConnected = true
        events.append(.connected(Keys(profile: profile, local: role == .client ? client : server, remote: role == .client ? server : client)))
    }

    private func fail(_ message: String) {
        guard !isFinished else { return }
        isFinished = true
        events.append(.failed(message))
    }

    fileprivate func emit(_ datagram: [UInt8]) { outgoing.append(datagram) }

    /// The write side: a BIO whose every write is one datagram.
    enum DatagramBIO {
        nonisolated(unsafe) static let method: OpaquePointer = {
            let m = BIO_meth_new(BIO_get_new_index() | siphon_BIO_TYPE_SOURCE_SINK(), "siphon-datagram")!
            BIO_meth_set_write(m) { bio, data, length in
                guard let bio, let data, length > 0, let owner = BIO_get_data(bio) else { return length }
                let endpoint = Unmanaged<DTLSEndpoint>.fromOpaque(owner).takeUnretainedValue()
                endpoint.emit(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
                return length
            }
            BIO_meth_set_ctrl(m) { _, command, _, _ in
                command == siphon_BIO_CTRL_FLUSH() ? 1 : 0  // no MTU query (SSL_set_mtu), nothing pending
            }
            BIO_meth_set_create(m) { bio in
                BIO_set_init(bio, 1)
                return 1
            }
            BIO_meth_set_destroy(m) { _ in 1 }
            return m
        }()
    }
}
