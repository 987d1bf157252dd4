/// SDP as WebRTC uses it (JSEP, RFC 8829; ICE RFC 8839; DTLS RFC 8842; BUNDLE RFC 8843; SCTP
/// RFC 8841): sections in order, attributes kept as written so an answer can mirror an offer.
/// Parsing bounds everything a peer controls and throws `WebRTCError` for what does not parse.
public struct WebRTCSessionDescription: Sendable, Equatable, CustomStringConvertible {
    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: String?
        public init(_ name: String, _ value: String? = nil) { (self.name, self.value) = (name, value) }
    }

    public struct Media: Sendable, Equatable {
        /// audio, video, application.
        public var kind: String
        public var port: Int
        public var proto: String
        public var formats: [String]
        public var attributes: [Attribute]

        public init(kind: String, port: Int = 9, proto: String, formats: [String], attributes: [Attribute] = []) {
            (self.kind, self.port, self.proto, self.formats, self.attributes) = (kind, port, proto, formats, attributes)
        }

        public func values(_ name: String) -> [String] { attributes.filter { $0.name == name }.compactMap(\.value) }
        public func value(_ name: String) -> String? { values(name).first }
        public func has(_ name: String) -> Bool { attributes.contains { $0.name == name } }

        public var mid: String? { value("mid") }
        public var isRejected: Bool { port == 0 }

        public enum Direction: String, Sendable { case sendrecv, sendonly, recvonly, inactive }
        public var direction: Direction {
            attributes.compactMap { Direction(rawValue: $0.name) }.first ?? .sendrecv
        }

        /// `a=rtpmap` by payload type: encoding name (lower-cased), clock rate, channels.
        public var rtpMaps: [Int: (name: String, rate: Int, channels: Int)] {
            var out: [Int: (String, Int, Int)] = [:]
            for v in values("rtpmap") {
                let parts = v.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = Int(parts[0]) else { continue }
                let enc = parts[1].split(separator: "/")
                guard enc.count >= 2, let rate = Int(enc[1]) else { continue }
                out[pt] = (enc[0].lowercased(), rate, enc.count > 2 ? Int(enc[2]) ?? 1 : 1)
            }
            return out
        }

        public func fmtp(_ pt: Int) -> String? {
            values("fmtp").first { $0.hasPrefix("\(pt) ") }.map { String($0.dropFirst("\(pt) ".count)) }
        }

        /// The payload type of `codec` (e.g. "opus" at 48000), in the section's order of preference.
        public func payloadType(for codec: String, rate: Int) -> Int? {
            let maps = rtpMaps
            return formats.compactMap(Int.init).first { maps[$0]?.name == codec.lowercased() && maps[$0]?.rate == rate }
        }

        public var candidates: [ICECandidate] { values("candidate").compactMap { try? ICECandidate(parsing: "candidate:" + $0) } }
        public var ssrcs: [UInt32] {
            var seen: [UInt32] = []
            for v in values("ssrc") {
                if let n = v.split(separator: " ").first.flatMap({ UInt32($0) }), !seen.contains(n) { seen.append(n) }
            }
            return seen
        }
    }

    public var sessionAttributes: [Attribute]
    public var media: [Media]
    public var originSessionID: UInt64
    public var originVersion: UInt64

    public init(sessionAttributes: [Attribute] = [], media: [Media], originSessionID: UInt64 = .random(in: 1...(1 << 62)), originVersion: UInt64 = 2) {
        (self.sessionAttributes, self.media, self.originSessionID, self.originVersion) = (sessionAttributes, media, originSessionID, originVersion)
    }

    // MARK: what a section means, session attributes as defaults

    public func iceCredentials(_ m: Media) -> (ufrag: String, password: String)? {
        guard let u = m.value("ice-ufrag") ?? sessionValue("ice-ufrag"), let p = m.value("ice-pwd") ?? sessionValue("ice-pwd") else { return nil }
        return (u, p)
    }

    /// `sha-256 AB:CD:…` → the hex fingerprint (only SHA-256 is accepted).
    public func fingerprint(_ m: Media) -> String? {
        guard let v = m.value("fingerprint") ?? sessionValue("fingerprint") else { return nil }
        let parts = v.split(separator: " ")
        guard parts.count == 2, parts[0].lowercased() == "sha-256" else { return nil }
        return parts[1].uppercased()
    }

    public func setup(_ m: Media) -> String? { m.value("setup") ?? sessionValue("setup") }
    public var isICELite: Bool { sessionAttributes.contains { $0.name == "ice-lite" } }
    public func sessionValue(_ name: String) -> String? { sessionAttributes.first { $0.name == name }?.value }

    /// The mids of the first `a=group:BUNDLE`.
    public var bundle: [String] {
        guard let g = sessionAttributes.first(where: { $0.name == "group" && $0.value?.hasPrefix("BUNDLE") == true })?.value else { return [] }
        return g.split(separator: " ").dropFirst().map(String.init)
    }

    // MARK: parsing

    public init(parsing text: String) throws {
        guard text.utf8.count <= 256 * 1024 else { throw WebRTCError.malformed("SDP over 256 KiB") }
        var session: [Attribute] = []
        var media: [Media] = []
        var sawVersion = false
        var origin: (UInt64, UInt64)?
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty { continue }
            guard line.count >= 2, line.utf8.count <= 8192, line.dropFirst().first == "=" else {
                throw WebRTCError.malformed("bad SDP line '\(line.prefix(30))'")
            }
            let value = String(line.dropFirst(2))
            switch line.first! {
            case "v":
                guard value == "0" else { throw WebRTCError.malformed("SDP version must be 0") }
                sawVersion = true
            case "o":
                let f = value.split(separator: " ")
                guard f.count == 6, let id = UInt64(f[1]), let version = UInt64(f[2]) else { throw WebRTCError.malformed("bad SDP origin") }
                origin = (id, version)
            case "m":
                let f = value.split(separator: " ").map(String.init)
                guard f.count >= 3, let port = Int(f[1].split(separator: "/").first ?? ""), (0...65535).contains(port) else {
                    throw WebRTCError.malformed("bad m= line '\(value.prefix(40))'")
                }
                guard media.count < 64 else { throw WebRTCError.malformed("more than 64 media sections") }
                media.append(Media(kind: f[0], port: port, proto: f[2], formats: Array(f.dropFirst(3).prefix(64))))
            case "a":
                let colon = value.firstIndex(of: ":")
                let a = Attribute(String(value[..<(colon ?? value.endIndex)]), colon.map { String(value[value.index(after: $0)...]) })
                if media.isEmpty {
                    guard session.count < 256 else { throw WebRTCError.malformed("too many session attributes") }
                    session.append(a)
                } else {
                    guard media[media.count - 1].attributes.count < 1024 else { throw WebRTCError.malformed("too many media attributes") }
                    media[media.count - 1].attributes.append(a)
                }
            default:
                continue  // s=, t=, c=, b=, i=: not needed (ICE carries the addresses)
            }
        }
        guard sawVersion, let origin else { throw WebRTCError.malformed("SDP without v= and o=") }
        guard !media.isEmpty else { throw WebRTCError.malformed("SDP without media") }
        (sessionAttributes, self.media, originSessionID, originVersion) = (session, media, origin.0, origin.1)
    }

    // MARK: serialising

    public var description: String {
        var s = "v=0\r\no=- \(originSessionID) \(originVersion) IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        for a in sessionAttributes { s += "a=\(a.name)\(a.value.map { ":" + $0 } ?? "")\r\n" }
        for m in media {
            s += "m=\(m.kind) \(m.port) \(m.proto) \(m.formats.joined(separator: " "))\r\n"
            s += "c=IN IP4 0.0.0.0\r\n"
            for a in m.attributes { s += "a=\(a.name)\(a.value.map { ":" + $0 } ?? "")\r\n" }
        }
        return s
    }
}
