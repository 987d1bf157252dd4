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
        return SessionDescription(sessionID: sessionID, sessionVersion: version, originAddress: address, connectionAddress: address, media: [m])
    }

    /// Answers an offer: the first codec of the offer's list we support, telephone-event if offered.
    /// Throws 488 Not Acceptable Here when nothing matches.
    public static func answer(_ offer: SessionDescription, policy: MediaPolicy, address: String, port: Int, sessionID: UInt64,
                              version: UInt64, hold: Bool = false) throws -> (SessionDescription, NegotiatedMedia) {
        guard let index = offer.media.firstIndex(where: { $0.type == "audio" && $0.port != 0 && $0.proto.hasPrefix("RTP/AVP") }) else {
            throw SIPMessageError(488, "no audio stream in the offer")
        }
        let om = offer.media[index]
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
                media.append(a)
            } else {
                var rejected = MediaDescription(type: m.type, port: 0, proto: m.proto, formats: m.formats.isEmpty ? [0] : [m.formats[0]])
                rejected.otherFormats = Array(m.otherFormats.prefix(1))
                media.append(rejected)
            }
        }
        let sdp = SessionDescription(sessionID: sessionID, sessionVersion: version, originAddress: address, connectionAddress: address, media: media)
        let negotiated = NegotiatedMedia(codec: codec, dtmfPayloadType: dtmf, remoteHost: remote.host, remotePort: remote.port,
                                         direction: direction, ptime: policy.ptime)
        return (sdp, negotiated)
    }

    /// The offerer's view once the answer arrives: the answer's first codec we offered.
    public static func accept(answer: SessionDescription, policy: MediaPolicy) throws -> NegotiatedMedia {
        guard let am = answer.media.first(where: { $0.type == "audio" && $0.port != 0 }), let remote = answer.remoteEndpoint(am) else {
            throw SIPMessageError(488, "the answer refused the audio stream")
        }
        for pt in am.formats {
            guard let map = am.map(pt), var c = policy.codecs.first(where: { $0.matches(map) }) else { continue }
            c.payloadType = pt
            let dtmf = am.formats.first { am.map($0)?.encoding.lowercased() == "telephone-event" }
            return NegotiatedMedia(codec: c, dtmfPayloadType: policy.dtmfPayloadType == nil ? nil : dtmf, remoteHost: remote.host,
                                   remotePort: remote.port, direction: am.direction.answer, ptime: am.ptime ?? policy.ptime)
        }
        throw SIPMessageError(488, "the answer has no codec we offered")
    }
}
