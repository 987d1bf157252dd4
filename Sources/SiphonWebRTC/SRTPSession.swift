import Foundation
import SiphonCore
import SiphonRTP

/// SRTP and SRTCP for one DTLS-SRTP association: an outbound stream keyed with our DTLS-exported
/// key, an inbound one with the peer's (`SRTPStream`, libsrtp2). Replays and authentication
/// failures are refused (the packet is dropped), never a trap.
/// Not thread-safe: the peer connection confines it.
public final class SRTPSession {
    private let outbound: SRTPStream
    private let inbound: SRTPStream
    public let profile: DTLSEndpoint.SRTPProfile

    public init(keys: DTLSEndpoint.Keys) throws {
        profile = keys.profile
        guard let p = SRTPStream.Profile(rawValue: keys.profile.rawValue) else { throw WebRTCError(.library, "no SRTP profile \(keys.profile)") }
        outbound = try Self.mapping { try SRTPStream(profile: p, keyAndSalt: keys.local, direction: .outbound) }
        inbound = try Self.mapping { try SRTPStream(profile: p, keyAndSalt: keys.remote, direction: .inbound) }
    }

    /// An RTP packet encrypted for the wire.
    public func protect(rtp packet: [UInt8]) throws -> [UInt8] { try Self.mapping { try outbound.transform(rtp: packet) } }
    public func protect(rtcp packet: [UInt8]) throws -> [UInt8] { try Self.mapping { try outbound.transform(rtcp: packet) } }
    /// A packet from the wire, decrypted and authenticated; throws for a replay or a forgery.
    public func unprotect(rtp packet: [UInt8]) throws -> [UInt8] { try Self.mapping { try inbound.transform(rtp: packet) } }
    public func unprotect(rtcp packet: [UInt8]) throws -> [UInt8] { try Self.mapping { try inbound.transform(rtcp: packet) } }

    /// WebRTC's callers handle `WebRTCError`.
    private static func mapping<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as SiphonError {
            throw WebRTCError(e.code == .protocolViolation ? .protocolViolation : e.code == .invalidInput ? .malformed : .library, e.message)
        }
    }
}
