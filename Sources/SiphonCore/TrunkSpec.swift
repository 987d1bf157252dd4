/// The SIP trunk a call goes out through (the API's `sip_trunk_setup`): a trunk named in the
/// workers' configuration, or one given inline. An inline password is sealed (`SecretBox`) before
/// the job reaches Redis; a job carrying a plain password is refused by workers.
public struct TrunkSpec: Sendable, Equatable {
    public var name: String?
    /// `host` or `host:port` of the carrier's SIP edge (or a proxy).
    public var address: String?
    public var transport: String
    /// Caller ID presented on the call (the trunk's number).
    public var number: PhoneNumber?
    public var username: String?
    /// Only in memory, between the API request and sealing. Never serialised.
    public var password: String?
    public var passwordSealed: String?

    public init(name: String? = nil, address: String? = nil, transport: String = "udp", number: PhoneNumber? = nil,
                username: String? = nil, password: String? = nil, passwordSealed: String? = nil) {
        (self.name, self.address, self.transport, self.number) = (name, address, transport, number)
        (self.username, self.password, self.passwordSealed) = (username, password, passwordSealed)
    }

    public func validate() throws {
        if let name { try Identifier.validateID(name, what: "trunk.name") }
        guard name != nil || address != nil else { throw SiphonError.invalid("trunk: give 'name' (a configured trunk) or 'address'") }
        if let address { _ = try Self.hostPort(address) }
        guard Self.transports.contains(transport) else { throw SiphonError.invalid("trunk.transport must be udp, tcp or tls") }
        if let u = username, u.isEmpty || u.utf8.count > 128 || u.contains(where: { $0.isWhitespace || $0 == "\"" }) {
            throw SiphonError.invalid("trunk.username must be 1 to 128 characters without spaces or quotes")
        }
        if (password != nil || passwordSealed != nil), username == nil { throw SiphonError.invalid("trunk.password needs trunk.username") }
    }

    public static let transports = ["udp", "tcp", "tls"]

    /// The address's host and port; without a port, SIP's default for the transport (5061 for TLS).
    public func endpoint() throws -> (host: String, port: Int) {
        guard let address else { throw SiphonError.invalid("trunk: no address") }
        return try Self.hostPort(address, defaultPort: transport == "tls" ? 5061 : 5060)
    }

    /// Splits `host[:port]` (IPv6 in brackets), checking both parts.
    public static func hostPort(_ text: String, defaultPort: Int = 5060) throws -> (host: String, port: Int) {
        var host = text
        var port = defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw SiphonError.invalid("trunk.address: unclosed [") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":", let p = Int(rest.dropFirst()), (1...65535).contains(p) else { throw SiphonError.invalid("trunk.address: bad port") }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            guard let p = Int(text[text.index(after: colon)...]), (1...65535).contains(p) else { throw SiphonError.invalid("trunk.address: bad port") }
            port = p
        }
        guard !host.isEmpty, host.utf8.count <= 253,
              host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            throw SiphonError.invalid("trunk.address: '\(text.prefix(60))' is not a host name or IP address")
        }
        return (host, port)
    }
}
