/// SDP (RFC 4566): what Siphon offers and answers for one audio stream. Unknown lines are kept
/// so re-serialising does not lose them; malformed required lines are errors (answered 488 or 400).
public struct SessionDescription: Sendable, Equatable, CustomStringConvertible {
    public var originUser = "siphon"
    public var sessionID: UInt64
    public var sessionVersion: UInt64
    public var originAddress: String
    public var sessionName = "siphon"
    /// Session-level `c=` address.
    public var connectionAddress: String?
    public var media: [MediaDescription]
    /// Session-level attributes other than the ones modelled.
    public var attributes: [String] = []

    public init(sessionID: UInt64, sessionVersion: UInt64 = 1, originAddress: String, connectionAddress: String?, media: [MediaDescription]) {
        (self.sessionID, self.sessionVersion, self.originAddress, self.connectionAddress, self.media) =
            (sessionID, sessionVersion, originAddress, connectionAddress, media)
    }

    public var audio: MediaDescription? { media.first { $0.type == "audio" && $0.port != 0 } ?? media.first { $0.type == "audio" } }

    public init(parsing text: String) throws {
        var origin: (String, UInt64, UInt64, String)?
        var sessionConnection: String?
        var name = "-"
        var media: [MediaDescription] = []
        var sessionAttributes: [String] = []
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            guard line.count >= 2, line.dropFirst().first == "=" else { throw SIPMessageError(400, "bad SDP line '\(line.prefix(30))'") }
            let key = line.first!
            let value = String(line.dropFirst(2))
            switch key {
            case "v":
                guard value == "0" else { throw SIPMessageError(400, "SDP version must be 0") }
            case "o":
                let f = value.split(separator: " ")
                guard f.count == 6, let id = UInt64(f[1]), let version = UInt64(f[2]) else { throw SIPMessageError(400, "bad SDP origin") }
                origin = (String(f[0]), id, version, String(f[5]))
            case "s":
                name = value
            case "c":
                let address = try Self.connection(value)
                if media.isEmpty { sessionConnection = address } else { media[media.count - 1].connectionAddress = address }
            case "m":
                media.append(try MediaDescription(mLine: value))
            case "a":
                if media.isEmpty { sessionAttributes.append(value) } else { try media[media.count - 1].add(attribute: value) }
            default:
                if media.isEmpty { continue }  // t=, b=, i=, … at session level: not needed
            }
        }
        guard let origin else { throw SIPMessageError(400, "SDP has no o= line") }
        guard !media.isEmpty else { throw SIPMessageError(400, "SDP has no m= line") }
        for m in media where m.port != 0 && m.connectionAddress == nil && sessionConnection == nil {
            throw SIPMessageError(400, "SDP media without a c= address")
        }
        (originUser, sessionID, sessionVersion, originAddress) = origin
        sessionName = name
        connectionAddress = sessionConnection
        self.media = media
        // session-level direction applies to media without one
        if let dir = sessionAttributes.compactMap(MediaDirection.init(rawValue:)).first {
            for i in self.media.indices where !self.media[i].directionExplicit { self.media[i].direction = dir }
        }
        attributes = sessionAttributes.filter { MediaDirection(rawValue: $0) == nil }
    }

    static func connection(_ value: String) throws -> String {
        let f = value.split(separator: " ")
        guard f.count == 3, f[0] == "IN", f[1] == "IP4" || f[1] == "IP6" else { throw SIPMessageError(400, "bad SDP connection") }
        return String(f[2].split(separator: "/").first ?? f[2])
    }

    public var description: String {
        var s = "v=0\r\no=\(originUser) \(sessionID) \(sessionVersion) IN \(originAddress.contains(":") ? "IP6" : "IP4") \(originAddress)\r\ns=\(sessionName)\r\n"
        if let c = connectionAddress { s += "c=IN \(c.contains(":") ? "IP6" : "IP4") \(c)\r\n" }
        s += "t=0 0\r\n"
        for a in attributes { s += "a=\(a)\r\n" }
        for m in media { s += m.description }
        return s
    }

    /// The address and port media for `m` is sent to.
    public func remoteEndpoint(_ m: MediaDescription) -> (host: String, port: Int)? {
        guard let host = m.connectionAddress ?? connectionAddress else { return nil }
        return (host, m.port)
    }
}

public enum MediaDirection: String, Sendable {
    case sendrecv, sendonly, recvonly, inactive

    /// The direction an answer takes for an offer in this direction (RFC 3264 6.1).
    public var answer: MediaDirection {
        switch self {
        case .sendrecv: .sendrecv
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        case .inactive: .inactive
        }
    }

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }
}

/// One `m=` section.
public struct MediaDescription: Sendable, Equatable, CustomStringConvertible {
    public struct RTPMap: Sendable, Equatable {
        public var encoding: String
        public var clockRate: Int
        public var channels: Int
    }

    public var type: String
    public var port: Int
    public var proto: String
    public var formats: [Int]
    /// The format tokens of a non-RTP stream (T.38's `t38`, BFCP's `*`), kept so a rejected
    /// stream is answered with the offer's own format (RFC 3264 6).
    public var otherFormats: [String] = []
    public var rtpmaps: [Int: RTPMap] = [:]
    public var fmtp: [Int: String] = [:]
    public var ptime: Int?
    public var direction: MediaDirection = .sendrecv
    var directionExplicit = false
    public var connectionAddress: String?
    public var rtcpPort: Int?
    public var otherAttributes: [String] = []

    public init(type: String = "audio", port: Int, proto: String = "RTP/AVP", formats: [Int]) {
        (self.type, self.port, self.proto, self.formats) = (type, port, proto, formats)
    }

    init(mLine value: String) throws {
        let f = value.split(separator: " ")
        guard f.count >= 4, let port = f[1].split(separator: "/", omittingEmptySubsequences: false).first.flatMap({ Int($0) }), (0...65535).contains(port) else {
            throw SIPMessageError(400, "bad SDP m= line")
        }
        type = String(f[0])
        self.port = port
        proto = String(f[2])
        if proto.hasPrefix("RTP/") {
            formats = try f[3...].map { s in
                guard let n = Int(s), (0...127).contains(n) else { throw SIPMessageError(400, "bad RTP payload type '\(s)'") }
                return n
            }
        } else {
            formats = []
            otherFormats = f[3...].map(String.init)
        }
    }

    public var isRTP: Bool { proto.hasPrefix("RTP/") }

    mutating func add(attribute a: String) throws {
        if let d = MediaDirection(rawValue: a) {
            direction = d
            directionExplicit = true
        } else if a.hasPrefix("rtpmap:") {
            let body = a.dropFirst(7)
            // A malformed rtpmap only makes that payload type unusable, not the whole offer.
            let parts = body.split(separator: " ", maxSplits: 1)
            let enc = parts.count == 2 ? parts[1].split(separator: "/") : []
            if parts.count == 2, let pt = Int(parts[0]), enc.count >= 2, let rate = Int(enc[1]) {
                rtpmaps[pt] = RTPMap(encoding: String(enc[0]), clockRate: rate, channels: enc.count > 2 ? Int(enc[2]) ?? 1 : 1)
            } else {
                otherAttributes.append(a)
            }
        } else if a.hasPrefix("fmtp:") {
            let parts = a.dropFirst(5).split(separator: " ", maxSplits: 1)
            if parts.count == 2, let pt = Int(parts[0]) { fmtp[pt] = String(parts[1]) }
        } else if a.hasPrefix("ptime:") {
            ptime = Int(a.dropFirst(6))
        } else if a.hasPrefix("rtcp:") {
            rtcpPort = a.dropFirst(5).split(separator: " ").first.flatMap { Int($0) }
        } else {
            otherAttributes.append(a)
        }
    }

    /// The rtpmap for a payload type, including RFC 3551's static ones.
    public func map(_ pt: Int) -> RTPMap? {
        if let m = rtpmaps[pt] { return m }
        switch pt {
        case 0: return RTPMap(encoding: "PCMU", clockRate: 8000, channels: 1)
        case 8: return RTPMap(encoding: "PCMA", clockRate: 8000, channels: 1)
        case 9: return RTPMap(encoding: "G722", clockRate: 8000, channels: 1)
        default: return nil
        }
    }

    public var description: String {
        var s = "m=\(type) \(port) \(proto) \((isRTP ? formats.map(String.init) : otherFormats).joined(separator: " "))\r\n"
        if let c = connectionAddress { s += "c=IN \(c.contains(":") ? "IP6" : "IP4") \(c)\r\n" }
        for pt in formats {
            if let m = rtpmaps[pt] { s += "a=rtpmap:\(pt) \(m.encoding)/\(m.clockRate)\(m.channels > 1 ? "/\(m.channels)" : "")\r\n" }
            if let f = fmtp[pt] { s += "a=fmtp:\(pt) \(f)\r\n" }
        }
        if let p = ptime { s += "a=ptime:\(p)\r\n" }
        if let r = rtcpPort { s += "a=rtcp:\(r)\r\n" }
        for a in otherAttributes { s += "a=\(a)\r\n" }
        s += "a=\(direction.rawValue)\r\n"
        return s
    }
}
