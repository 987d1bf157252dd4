import SiphonCore

/// Where a Redis server is: `redis://[[user]:password@]host[:port][/db]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public static let `default` = try! RedisURL("redis://127.0.0.1:6379/0")

    public init(host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil) {
        (self.host, self.port, self.database, self.username, self.password) = (host, port, database, username, password)
    }

    public init(_ text: String) throws {
        guard text.hasPrefix("redis://") else {
            if text.hasPrefix("rediss://") {
                throw SiphonError(.configuration, "rediss:// (TLS) is not supported by Debian's hiredis 0.14; use a TLS tunnel (stunnel, a sidecar) and redis:// to it")
            }
            throw SiphonError(.configuration, "Redis URL must start with redis:// (got '\(Redaction.url(String(text.prefix(80))))')")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = String(userinfo[..<colon])
                username = user.isEmpty ? nil : try Self.percentDecode(user)
                password = try Self.percentDecode(String(userinfo[userinfo.index(after: colon)...]))
            } else if !userinfo.isEmpty {
                // `redis://secret@host` is the legacy password-only form.
                password = try Self.percentDecode(String(userinfo))
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), (0...65535).contains(db) else {
                    throw SiphonError(.configuration, "Redis URL database '\(dbText.prefix(10))' is not a number")
                }
                database = db
            }
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {  // [::1]:6379
            guard let close = host.firstIndex(of: "]") else { throw SiphonError(.configuration, "Redis URL has an unclosed IPv6 bracket") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw SiphonError(.configuration, "Redis URL port is not a number from 1 to 65535")
                }
                port = p
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw SiphonError(.configuration, "Redis URL port is not a number from 1 to 65535")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw SiphonError(.configuration, "Redis URL has no host") }
        self.init(host: host, port: port, database: database, username: username, password: password)
    }

    /// Printable without the password.
    public var description: String {
        var s = "redis://"
        if let u = username { s += u }
        if password != nil { s += ":[redacted]@" } else if username != nil { s += "@" }
        return s + (host.contains(":") ? "[\(host)]" : host) + ":\(port)/\(database)"
    }

    private static func percentDecode(_ s: String) throws -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8).makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else {
                    throw SiphonError(.configuration, "Redis URL has a bad percent-escape in its credentials")
                }
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
