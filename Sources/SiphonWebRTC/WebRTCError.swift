/// What the WebRTC stack throws: a peer's bytes that do not parse, a negotiation that cannot
/// succeed, a library that refused. Messages never contain keys.
public struct WebRTCError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Bytes a peer sent that do not parse (STUN, SDP, DTLS, SCTP, DCEP): the packet is dropped.
        case malformed
        /// A message that parses but breaks the protocol (bad integrity, wrong fingerprint).
        case protocolViolation = "protocol_violation"
        /// Nothing in common (no codec, no SRTP profile) or the other side refused.
        case negotiation
        /// A C library (OpenSSL, libsrtp2, usrsctp) failed.
        case library
        /// ICE found no path, DTLS did not finish, consent expired.
        case connectivity
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func malformed(_ message: String) -> WebRTCError { WebRTCError(.malformed, message) }

    public var description: String { "\(kind.rawValue): \(message)" }
}
