import CSRTP
import Foundation
import Synchronization

/// SRTP and SRTCP (RFC 3711; AES-GCM RFC 7714) for one DTLS-SRTP association, on libsrtp2: an
/// outbound context keyed with our DTLS-exported key, an inbound one with the peer's. Replays and
/// authentication failures are refused (the packet is dropped), never a trap.
/// Not thread-safe: the peer connection confines it.
public final class SRTPSession {
    private var outbound: srtp_t?
    private var inbound: srtp_t?
    public let profile: DTLSEndpoint.SRTPProfile
    private var buffer = [UInt8](repeating: 0, count: 1500 + 256)

    private static let initialised: Bool = {
        srtp_init() == srtp_err_status_ok
    }()

    public init(keys: DTLSEndpoint.Keys) throws {
        guard Self.initialised else { throw WebRTCError(.library, "srtp_init failed") }
        profile = keys.profile
        outbound = try Self.context(keys.local, profile: keys.profile, direction: ssrc_any_outbound)
        inbound = try Self.context(keys.remote, profile: keys.profile, direction: ssrc_any_inbound)
    }

    deinit {
        if let outbound { srtp_dealloc(outbound) }
        if let inbound { srtp_dealloc(inbound) }
    }

    private static func context(_ keyAndSalt: [UInt8], profile: DTLSEndpoint.SRTPProfile, direction: srtp_ssrc_type_t) throws -> srtp_t {
        var policy = srtp_policy_t()
        let p = srtp_profile_t(rawValue: UInt32(profile.rawValue))
        guard srtp_crypto_policy_set_from_profile_for_rtp(&policy.rtp, p) == srtp_err_status_ok,
              srtp_crypto_policy_set_from_profile_for_rtcp(&policy.rtcp, p) == srtp_err_status_ok else {
            throw WebRTCError(.library, "libsrtp2 does not know profile \(profile)")
        }
        policy.ssrc.type = direction
        policy.window_size = 1024
        policy.allow_repeat_tx = 1
        var key = keyAndSalt
        var session: srtp_t?
        let status = key.withUnsafeMutableBufferPointer { k -> srtp_err_status_t in
            policy.key = k.baseAddress
            return srtp_create(&session, &policy)
        }
        guard status == srtp_err_status_ok, let session else { throw WebRTCError(.library, "srtp_create failed (\(status.rawValue))") }
        return session
    }

    /// An RTP packet encrypted for the wire.
    public func protect(rtp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: false, protect: true) }
    public func protect(rtcp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: true, protect: true) }
    /// A packet from the wire, decrypted and authenticated; throws for a replay or a forgery.
    public func unprotect(rtp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: false, protect: false) }
    public func unprotect(rtcp packet: [UInt8]) throws -> [UInt8] { try run(packet, rtcp: true, protect: false) }

    private func run(_ packet: [UInt8], rtcp: Bool, protect: Bool) throws -> [UInt8] {
        guard packet.count >= (rtcp ? 8 : 12), packet.count <= 1500 else { throw WebRTCError.malformed("\(rtcp ? "RTCP" : "RTP") packet of \(packet.count) bytes") }
        guard let ctx = protect ? outbound : inbound else { throw WebRTCError(.library, "no SRTP context") }
        var length = Int32(packet.count)
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
            throw WebRTCError(.protocolViolation, "SRTP\(rtcp ? "C" : "") packet \(what)")
        }
        return Array(buffer[0..<Int(length)])
    }
}
