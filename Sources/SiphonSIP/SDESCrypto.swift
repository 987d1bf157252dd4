import Foundation

/// One SDP `a=crypto` line (SDES, RFC 4568): the tag that pairs offer and answer, the suite, and
/// the sender's master key and salt. Keys travel in the SDP, so only signalling over TLS keeps
/// them secret; they are never logged, and a dialog saved for takeover carries none
/// (`SessionDescription.removingKeys`).
public struct SDESCrypto: Sendable, Equatable, CustomStringConvertible {
    /// The suites of RFC 4568 that carriers' SRTP offers carry (RFC 3711's AES counter mode with
    /// an 80- or 32-bit HMAC-SHA1 tag); their names are those of libsrtp2's profiles.
    public enum Suite: String, Sendable, CaseIterable {
        case aes128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
        case aes128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    }

    public var tag: Int
    public var suite: Suite
    /// 16 bytes of key and 14 of salt.
    public var keyAndSalt: [UInt8]

    public static let keyAndSaltLength = 30

    public init(tag: Int, suite: Suite, keyAndSalt: [UInt8]) {
        (self.tag, self.suite, self.keyAndSalt) = (tag, suite, keyAndSalt)
    }

    /// A fresh key from the system's random source.
    public static func generate(tag: Int, suite: Suite) -> SDESCrypto {
        var rng = SystemRandomNumberGenerator()
        return SDESCrypto(tag: tag, suite: suite, keyAndSalt: (0..<keyAndSaltLength).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// Parses the attribute's value (`1 AES_CM_128_HMAC_SHA1_80 inline:…`). Nil for what we cannot
    /// use — another suite, a key of the wrong size, several keys, an MKI, a lifetime under 2^31
    /// packets, session parameters — so the negotiation moves on to the next line.
    public init?(attribute value: Substring) {
        let f = value.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count == 3, let tag = Int(f[0]), (0...999_999_999).contains(tag), let suite = Suite(rawValue: String(f[1])) else { return nil }
        let keyParams = f[2]
        guard keyParams.hasPrefix("inline:"), !keyParams.contains(";") else { return nil }
        let parts = keyParams.dropFirst(7).split(separator: "|", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let key = Data(base64Encoded: String(parts[0])), key.count == Self.keyAndSaltLength else { return nil }
        if parts.count == 2 {
            // A lifetime (`2^31` or a number) long enough for any call; an MKI (`1:4`) is not supported.
            let lifetime = parts[1]
            if lifetime.contains(":") { return nil }
            let packets: Double? = lifetime.hasPrefix("2^") ? Double(lifetime.dropFirst(2)).map { pow(2, $0) } : Double(lifetime)
            guard let packets, packets >= pow(2, 31) else { return nil }
        }
        self.init(tag: tag, suite: suite, keyAndSalt: Array(key))
    }

    public var attribute: String { "crypto:\(tag) \(suite.rawValue) inline:\(Data(keyAndSalt).base64EncodedString())" }

    /// Never the key.
    public var description: String { "crypto:\(tag) \(suite.rawValue)" }
}

/// What SRTP a negotiated stream uses: the suite, the key we send with and the peer's.
public struct SRTPKeys: Sendable, Equatable, CustomStringConvertible {
    public var suite: SDESCrypto.Suite
    public var local: [UInt8]
    public var remote: [UInt8]

    /// Never the keys.
    public var description: String { "SRTP \(suite.rawValue)" }
}

extension MediaDescription {
    /// The stream's `a=crypto` lines we can use, in the order given.
    public var cryptos: [SDESCrypto] {
        otherAttributes.compactMap { a in a.hasPrefix("crypto:") ? SDESCrypto(attribute: a.dropFirst(7)) : nil }
    }

    /// SRTP with keys in SDP (`RTP/SAVP`, and `RTP/SAVPF`).
    public var isSDESSRTP: Bool { proto == "RTP/SAVP" || proto == "RTP/SAVPF" }
}

extension SessionDescription {
    /// SDP text with each `a=crypto` line's key replaced, whether or not the rest parses: what may
    /// be stored (a dialog in Redis for a takeover, which offers new keys anyway) or shown.
    public static func removingKeys(_ sdp: String) -> String {
        guard sdp.contains("inline:") else { return sdp }
        // By bytes: "\r\n" is one Character, which no Character split cuts.
        return Array(sdp.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { bytes -> String in
            let line = String(decoding: bytes, as: UTF8.self)
            guard line.lowercased().hasPrefix("a=crypto:"), let inline = line.range(of: "inline:") else { return line }
            return String(line[..<inline.upperBound]) + "(removed)" + (bytes.last == UInt8(ascii: "\r") ? "\r" : "")
        }.joined(separator: "\n")
    }
}
