import CSRTP
import Foundation
import SiphonCore

/// One direction of SRTP and SRTCP (RFC 3711; AES-GCM RFC 7714) on libsrtp2: outbound protects
/// what we send with our master key, inbound authenticates and decrypts what the peer sends with
/// its key. Replays and forgeries are refused (thrown, the packet dropped), never a trap. Keys come
/// from DTLS-SRTP (WebRTC) or from SDP `a=crypto` lines (SDES, RFC 4568: SIP over TLS).
/// Not thread-safe: its owner confines it (or locks it).
public final class SRTPStream {
    public enum Direction: Sendable { case outbound, inbound }

    /// libsrtp2's profile numbers, which are RFC 5764's.
    public enum Profile: UInt16, Sendable, CaseIterable {
        case aeadAES256GCM = 0x0008
        case aeadAES128GCM = 0x0007
        case aes128CMSHA1_80 = 0x0001
        case aes128CMSHA1_32 = 0x0002

        /// Master key plus salt, in bytes.
        public var keyAndSaltLength: Int {
            switch self {
            case .aeadAES256GCM: 44
            case .aeadAES128GCM: 28
            case .aes128CMSHA1_80, .aes128CMSHA1_32: 30
            }
        }
    }

    private var context: srtp_t?
    private let direction: Direction
    private var buffer = [UInt8](repeating: 0, count: 1500 + 256)

    private static let initialised: Bool = { srtp_init() == srtp_err_status_ok }()

    public init(profile: Profile, keyAndSalt: [UInt8], direction: Direction) throws {
        guard Self.initialised else { throw SiphonError(.internal, "srtp_init failed") }
        guard keyAndSalt.count == profile.keyAndSaltLength else {
            throw SiphonError.invalid("SRTP key of \(keyAndSalt.count) bytes for \(profile) (\(profile.keyAndSaltLength) expected)")
        }
        self.direction = direction
        var policy = srtp_policy_t()
        let p = srtp_profile_t(rawValue: UInt32(profile.rawValue))
        guard srtp_crypto_policy_set_from_profile_for_rtp(&policy.rtp, p) == srtp_err_status_ok,
              srtp_crypto_policy_set_from_profile_for_rtcp(&policy.rtcp, p) == srtp_err_status_ok else {
            throw SiphonError(.internal, "libsrtp2 does not know profile \(profile)")
        }
        policy.ssrc.type = direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound
        policy.window_size = 1024
        policy.allow_repeat_tx = 1
        var key = keyAndSalt
        let status = key.withUnsafeMutableBufferPointer { k -> srtp_err_status_t in
            policy.key = k.baseAddress
            return srtp_create(&context, &policy)
        }
        guard status == srtp_err_status_ok, context != nil else { throw SiphonError(.internal, "srtp_create failed (\(status.rawValue))") }
    }

    deinit { if let context { srtp_dealloc(context) } }

    /// Outbound: an RTP (or RTCP) packet encrypted for the wire. Inbound: a packet from the wire,
    /// authenticated and decrypted; throws for a replay or a forgery.
    public func transform(rtp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: false) }
    public func transform(rtcp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: true) }

    private func run(_ packet: [UInt8], rtcp: Bool) throws -> [UInt8] {
        guard packet.count >= (rtcp ? 8 : 12), packet.count <= 1500 else {
            throw SiphonError.invalid("\(rtcp ? "RTCP" : "RTP") packet of \(packet.count) bytes")
        }
        guard let ctx = context else { throw SiphonError(.internal, "no SRTP context") }
        var length = Int32(packet.count)
        let protect = direction == .outbound
        let status: srtp_err_status_t = buffer.withUnsafeMutableBytes { out in
            packet.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: packet.count) }
            switch (rtcp, protect) {
            case (false, true): return srtp_protect(ctx, out.baseAddress, &length)
            case (true, true): return srtp_protect_rtcp(ctx, out.baseAddress, &length)
            case (false, false): return srtp_unprotect(ctx, out.baseAddress, &length)
            case (true, false): return srtp_unprotect_rtcp(ctx, out.baseAddress, &length)
            }
        }
        guard status == srtp_err_status_ok else {
            let what = status == srtp_err_status_replay_fail || status == srtp_err_status_replay_old ? "replayed" :
                status == srtp_err_status_auth_fail ? "failed authentication" : "refused (\(status.rawValue))"
            throw SiphonError(.protocolViolation, "SRTP\(rtcp ? "C" : "") packet \(what)")
        }
        return Array(buffer[0..<Int(length)])
    }
}
