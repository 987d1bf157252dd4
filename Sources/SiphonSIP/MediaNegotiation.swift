/// An audio codec as negotiated in SDP.
public struct AudioCodec: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var payloadType: Int
    public var clockRate: Int
    public var channels: Int

    public static let pcmu = AudioCodec(name: "PCMU", payloadType: 0, clockRate: 8000, channels: 1)
    public static let pcma = AudioCodec(name: "PCMA", payloadType: 8, clockRate: 8000, channels: 1)
    public static func opus(payloadType: Int = 111) -> AudioCodec { AudioCodec(name: "opus", payloadType: payloadType, clockRate: 48000, channels: 2) }

    public var description: String { "\(name)/\(clockRate) pt \(payloadType)" }

    func matches(_ map: MediaDescription.RTPMap) -> Bool {
        map.encoding.caseInsensitiveCompare(name) == .orderedSame && map.clockRate == clockRate
    }
}

/// What a call's media may use, in order of preference.
public struct MediaPolicy: Sendable, Equatable {
    public var codecs: [AudioCodec] = [.pcmu, .pcma, .opus()]
    /// RFC 4733 telephone-event payload type offered (nil: no RTP DTMF).
    public var dtmfPayloadType: Int? = 101
    public var ptime = 20
    /// Offer SRTP (`RTP/SAVP` with SDES keys, RFC 4568) and take only an SRTP answer; as the
    /// answerer, refuse a plain RTP offer. Whatever this says, an SRTP offer is answered with SRTP.
    /// For calls whose signalling is TLS: the keys travel in the SDP.
    public var srtp = false

    public init(codecs: [AudioCodec] = [.pcmu, .pcma, .opus()], dtmfPayloadType: Int? = 101) {
        self.codecs = codecs
        self.dtmfPayloadType = dtmfPayloadType
    }
}

/// The outcome of offer/answer for the audio stream.
public struct NegotiatedMedia: Sendable, Equatable {
    public var codec: AudioCodec
    public var dtmfPayloadType: Int?
    public var remoteHost: String
    public var remotePort: Int
    /// Our side's direction.
    public var direction: MediaDirection
    public var ptime: Int
    /// SDES-keyed SRTP; nil for plain RTP.
    public var srtp: SRTPKeys? = nil
}

/// SDP offer/answer (RFC 3264) for one audio stream.
public enum SDPNegotiator {
    public static func offer(policy: MediaPolicy, address: String, port: Int, sessionID: UInt64, version: UInt64,
                             direction: MediaDirection = .sendrecv) -> SessionDescription {
        var m = MediaDescription(port: port, formats: policy.codecs.map(\.payloadType) + (policy.dtmfPayloadType.map { [$0] } ?? []))
        for c in policy.codecs {
            m.rtpmaps[c.payloadType] = .init(encoding: c.name, clockRate: c.clockRate, channels: c.channels)
            if c.name == "opus" { m.fmtp[c.payloadType] = "minptime=10;useinbandfec=1" }
        }
        if let dtmf = policy.dtmfPayloadType {
            m.rtpmaps[dtmf] = .init(encoding: "telephone-event", clockRate: 8000, channels: 1)
            m.fmtp[dtmf] = "0-16"
        }
        m.ptime = policy.ptime
        m.direction = direction
        if policy.srtp {
            m.proto = "RTP/SAVP"
            m.otherAttributes += SDESCrypto.Suite.allCases.enumerated().map { SDESCrypto.generate(tag: $0 + 1, suite: $1).attribute }
        }
        return SessionDescription(sessionID: sessionID, sessionVersion: version, originAddress: address, connectionAddress: address, media: [m])
    }

    /// Answers an offer: the first codec of the offer's list we support, telephone-event if offered.
    /// Throws 488 Not Acceptable Here when nothing matches.
    public static func answer(_ offer: SessionDescription, policy: MediaPolicy, address: String, port: Int, sessionID: UInt64,
                              version: UInt64, hold: Bool = false) throws -> (SessionDescription, NegotiatedMedia) {
        let usable = { (m: MediaDescription) in m.type == "audio" && m.port != 0 && (m.proto.hasPrefix("RTP/AVP") || m.isSDESSRTP) }
        guard let index = offer.media.firstIndex(where: usable) else {
            throw SIPMessageError(488, "no audio stream in the offer")
        }
        let om = offer.media[index]
        // SRTP: the first of the offer's keys we can use, answered with a key of ours for its tag.
        var srtp: (theirs: SDESCrypto, ours: SDESCrypto)?
        if om.isSDESSRTP {
            guard let theirs = om.cryptos.first else { throw SIPMessageError(488, "no SRTP crypto suite we support (AES_CM_128_HMAC_SHA1_80 or _32, one key, no MKI)") }
            srtp = (theirs, SDESCrypto.generate(tag: theirs.tag, suite: theirs.suite))
        } else if policy.srtp {
            throw SIPMessageError(488, "SRTP is required and the offer is plain RTP")
        }
        guard let remote = offer.remoteEndpoint(om) else { throw SIPMessageError(488, "no connection address") }
        var chosen: AudioCodec?
        for pt in om.formats {
            guard let map = om.map(pt) else { continue }
            if var c = policy.codecs.first(where: { $0.matches(map) }) {
                c.payloadType = pt
                chosen = c
                break
            }
        }
        guard let codec = chosen else { throw SIPMessageError(488, "no common codec (offered \(om.formats))") }
        let dtmf = policy.dtmfPayloadType == nil ? nil
            : om.formats.first { om.map($0)?.encoding.lowercased() == "telephone-event" && om.map($0)?.clockRate == 8000 }
        var direction = om.direction.answer
        if hold, direction.sends { direction = direction == .sendrecv ? .sendonly : .inactive }

        // The answer has as many m= lines as the offer; the ones we refuse get port 0.
        var media: [MediaDescription] = []
        for (i, m) in offer.media.enumerated() {
            if i == index {
                var a = MediaDescription(port: port, proto: om.proto, formats: [codec.payloadType] + (dtmf.map { [$0] } ?? []))
                a.rtpmaps[codec.payloadType] = .init(encoding: codec.name, clockRate: codec.clockRate, channels: codec.channels)
                if codec.name == "opus" { a.fmtp[codec.payloadType] = "minptime=10;useinbandfec=1" }
                if let d = dtmf {
                    a.rtpmaps[d] = .init(encoding: "telephone-event", clockRate: 8000, channels: 1)
                    a.fmtp[d] = "0-16"
                }
                a.ptime = policy.ptime
                a.direction = direction
                if let srtp { a.otherAttributes.append(srtp.ours.attribute) }
                media.append(a)
            } else {
                var rejected = MediaDescription(type: m.type, port: 0, proto: m.proto, formats: m.formats.isEmpty ? [0] : [m.formats[0]])
                rejected.otherFormats = Array(m.otherFormats.prefix(1))
                media.append(rejected)
            }
        }
        let sdp = SessionDescription(sessionID: sessionID, sessionVersion: version, originAddress: address, connectionAddress: address, media: media)
        let negotiated = NegotiatedMedia(codec: codec, dtmfPayloadType: dtmf, remoteHost: remote.host, remotePort: remote.port,
                                         direction: direction, ptime: policy.ptime,
                                         srtp: srtp.map { SRTPKeys(suite: $0.theirs.suite, local: $0.ours.keyAndSalt, remote: $0.theirs.keyAndSalt) })
        return (sdp, negotiated)
    }

    /// The offerer's view once the answer arrives: the answer's first codec we offered, and, when
    /// we offered SRTP, the key of ours whose tag the answer took with the answerer's key.
    public static func accept(answer: SessionDescription, offer: SessionDescription, policy: MediaPolicy) throws -> NegotiatedMedia {
        guard let am = answer.media.first(where: { $0.type == "audio" && $0.port != 0 }), let remote = answer.remoteEndpoint(am) else {
            throw SIPMessageError(488, "the answer refused the audio stream")
        }
        let offered = offer.media.first { $0.type == "audio" }
        var srtp: SRTPKeys?
        if offered?.isSDESSRTP == true {
            guard am.isSDESSRTP else { throw SIPMessageError(488, "we offered SRTP and the answer is plain RTP") }
            guard let theirs = am.cryptos.first, let ours = offered?.cryptos.first(where: { $0.tag == theirs.tag && $0.suite == theirs.suite }) else {
                throw SIPMessageError(488, "the answer's SRTP key matches none we offered")
            }
            srtp = SRTPKeys(suite: ours.suite, local: ours.keyAndSalt, remote: theirs.keyAndSalt)
        } else if am.isSDESSRTP {
            throw SIPMessageError(488, "the answer is SRTP to a plain RTP offer")
        }
        for pt in am.formats {
            guard let map = am.map(pt), var c = policy.codecs.first(where: { $0.matches(map) }) else { continue }
            c.payloadType = pt
            let dtmf = am.formats.first { am.map($0)?.encoding.lowercased() == "telephone-event" }
            return NegotiatedMedia(codec: c, dtmfPayloadType: policy.dtmfPayloadType == nil ? nil : dtmf, remoteHost: remote.host,
                                   remotePort: remote.port, direction: am.direction.answer, ptime: am.ptime ?? policy.ptime, srtp: srtp)
        }
        throw SIPMessageError(488, "the answer has no codec we offered")
    }
}
