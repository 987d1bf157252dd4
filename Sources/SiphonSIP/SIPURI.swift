import Foundation

/// A SIP or SIPS URI (RFC 3261 19.1), or an opaque URI of another scheme (kept so the UA can
/// answer 416 Unsupported URI Scheme rather than 400).
public struct SIPURI: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    /// The user part, percent-decoded (may contain `;`, `@` or NUL after decoding).
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int?
    public var parameters = SIPParameters()
    /// `?name=value&…` headers, still escaped.
    public var headers: String?
    /// For schemes other than sip/sips: everything after the colon.
    public var opaque: String?

    public var isSIP: Bool { scheme == "sip" || scheme == "sips" }

    public init(scheme: String = "sip", user: String? = nil, host: String, port: Int? = nil, parameters: SIPParameters = SIPParameters()) {
        self.scheme = scheme
        self.user = user
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public init(_ text: String) throws { try self.init(parsing: Substring(text)) }

    public init(parsing text: Substring) throws {
        guard !text.isEmpty else { throw SIPMessageError(400, "empty URI") }
        // Delimiters are ASCII, so the scans below run on UTF-8 bytes (Substring indices are shared).
        if text.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) {
            throw SIPMessageError(400, "URI contains white space, quotes or angle brackets")
        }
        guard let colon = text.utf8.firstIndex(of: 0x3A) else { throw SIPMessageError(400, "URI has no scheme") }
        let scheme = text[..<colon].lowercased()
        // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); ASCII only.
        guard let first = scheme.utf8.first, Self.isAlpha(first),
              scheme.utf8.allSatisfy({ Self.isAlpha($0) || Self.isDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E })
        else { throw SIPMessageError(400, "bad URI scheme") }
        self.scheme = scheme
        var rest = text[text.index(after: colon)...]
        guard scheme == "sip" || scheme == "sips" else {
            guard !rest.isEmpty else { throw SIPMessageError(400, "empty URI after scheme") }
            opaque = String(rest)
            host = ""
            return
        }
        // The user part may contain '?' and ';' (intmeth, semiuri) but not a raw '@', and header
        // values carry no raw '@' either: the last '@' ends the userinfo, and headers start at the
        // first '?' after it.
        if let at = rest.utf8.lastIndex(of: 0x40) {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            // user may contain ';' (semiuri); the password follows the first ':'.
            if let c = userinfo.utf8.firstIndex(of: 0x3A) {
                user = try Self.unescape(userinfo[..<c])
                password = try Self.unescape(userinfo[userinfo.index(after: c)...])
            } else {
                user = try Self.unescape(userinfo)
            }
            if user?.isEmpty == true { throw SIPMessageError(400, "empty user in URI") }
        }
        if let q = rest.utf8.firstIndex(of: 0x3F) {
            headers = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        var hostport = rest
        if let semi = rest.utf8.firstIndex(of: 0x3B) {
            hostport = rest[..<semi]
            parameters = try SIPParameters.parse(rest[semi...], strict: false)
        }
        if hostport.hasPrefix("[") {
            guard let close = hostport.utf8.firstIndex(of: 0x5D) else { throw SIPMessageError(400, "unclosed IPv6 reference") }
            host = String(hostport[hostport.index(after: hostport.startIndex)..<close])
            let after = hostport[hostport.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":", let p = Int(after.dropFirst()), (0...65535).contains(p) else { throw SIPMessageError(400, "bad port") }
                port = p
            }
        } else if let c = hostport.utf8.lastIndex(of: 0x3A) {
            host = String(hostport[..<c])
            guard let p = Int(hostport[hostport.index(after: c)...]), (0...65535).contains(p) else { throw SIPMessageError(400, "bad port") }
            port = p
        } else {
            host = String(hostport)
        }
        // Host names (RFC 3261 hostname, IDNs in punycode), IPv4 and IPv6 literals: ASCII only.
        guard !host.isEmpty, host.utf8.allSatisfy({ Self.isAlpha($0) || Self.isDigit($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x3A || $0 == 0x5F }) else {
            throw SIPMessageError(400, "bad host '\(host.prefix(40))'")
        }
    }

    /// Host and port as a string for addressing (`[v6]:p`, `host:p` or `host`).
    public var hostPort: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(h):\($0)" } ?? h
    }

    public var description: String {
        if let opaque { return "\(scheme):\(opaque)" }
        var s = scheme + ":"
        if let user {
            s += Self.escape(user)
            if let password { s += ":" + Self.escape(password) }
            s += "@"
        }
        s += hostPort + parameters.description
        if let headers { s += "?" + headers }
        return s
    }

    /// The URI for addressing a request: without headers and method/maddr-insensitive params kept.
    public var withoutHeaders: SIPURI {
        var u = self
        u.headers = nil
        return u
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
    private static func isDigit(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) }

    static func unescape(_ s: Substring) throws -> String {
        guard s.utf8.contains(0x25) else { return String(s) }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else {
                    throw SIPMessageError(400, "bad %-escape in URI")
                }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Escapes what RFC 3261's `user` production does not allow unescaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            let allowed = (b < 0x80) && (c.isLetter || c.isNumber || "-_.!~*'()&=+$,;?/".contains(c))
            out += allowed ? String(c) : String(format: "%%%02X", b)
        }
        return out
    }
}
