/// One relayed transport address on a TURN server (RFC 8656), over UDP or TCP, as a sans-IO state
/// machine: it builds the requests (Allocate with the long-term credential, Refresh,
/// CreatePermission) and Send indications, and reads the server's answers and Data indications.
/// The ICE agent sends what it builds from the socket the allocation lives on (a host socket, or
/// a TCP connection to the server); the relayed leg is UDP either way.
struct TURNAllocation {
    enum State: Equatable {
        case idle
        case allocating
        case allocated(relayed: TransportAddress, mapped: TransportAddress?)
        case failed(String)
    }

    let server: TransportAddress
    let username: String
    private let password: String
    private(set) var state: State = .idle
    private var realm: String?
    private var nonce: String?
    private var key: [UInt8]?
    /// When the allocation must be refreshed (ns), and when each permission (by peer IP).
    private(set) var refreshAt: UInt64 = 0
    private var permissions: [String: UInt64] = [:]
    /// Outstanding requests: transaction id → what it was for.
    private var pending: [[UInt8]: Purpose] = [:]
    private var authAttempts = 0

    enum Purpose: Equatable {
        case allocate
        case refresh(lifetime: UInt32)
        case permission(String)
    }

    /// Permissions last 300 s; refreshed at 240 s (RFC 8656 §9).
    static let permissionRefreshNs: UInt64 = 240_000_000_000

    init(server: TransportAddress, username: String, password: String) {
        (self.server, self.username, self.password) = (server, username, password)
    }

    var relayed: TransportAddress? {
        if case .allocated(let r, _) = state { return r }
        return nil
    }

    /// The first Allocate (without credentials: the server answers 401 with its realm and nonce).
    mutating func start() -> [UInt8] {
        state = .allocating
        return request(.allocate, purpose: .allocate)
    }

    private mutating func request(_ method: STUNMessage.Method, purpose: Purpose, extra: (inout STUNMessage) -> Void = { _ in }) -> [UInt8] {
        var m = STUNMessage(method: method, class: .request)
        if method == .allocate { m.add(.requestedTransport, [17, 0, 0, 0]) }  // UDP
        extra(&m)
        if let realm, let nonce {
            m.add(.username, string: username)
            m.add(.realm, string: realm)
            m.add(.nonce, string: nonce)
        }
        pending[m.transactionID] = purpose
        return m.serialized(integrityKey: key, fingerprint: true)
    }

    func owns(_ message: STUNMessage) -> Bool { pending[message.transactionID] != nil }

    /// Reads the server's answer to one of our requests; returns what must be sent next.
    mutating func receive(_ message: STUNMessage, raw: [UInt8], now: UInt64) -> [[UInt8]] {
        guard let purpose = pending.removeValue(forKey: message.transactionID) else { return [] }
        if message.messageClass == .success {
            // A success without valid integrity (once we have a key) is not the server's.
            if let key, !STUNMessage.verifyIntegrity(raw, key: key) { return [] }
            switch purpose {
            case .allocate:
                guard let relayed = message.xorAddress(.xorRelayedAddress) else {
                    state = .failed("Allocate success without XOR-RELAYED-ADDRESS")
                    return []
                }
                state = .allocated(relayed: relayed, mapped: message.xorAddress(.xorMappedAddress))
                refreshAt = now + Self.refreshDelay(message.lifetime ?? 600)
            case .refresh(let lifetime):
                if lifetime == 0 { state = .idle } else { refreshAt = now + Self.refreshDelay(message.lifetime ?? 600) }
            case .permission(let ip):
                permissions[ip] = now + Self.permissionRefreshNs
            }
            return []
        }
        guard message.messageClass == .error, let (code, reason) = message.errorCode else { return [] }
        // 401 (first Allocate) and 438 (stale nonce): the server's realm and nonce, then once more.
        if code == 401 || code == 438, let nonce = message.nonce, authAttempts < 3 {
            authAttempts += 1
            if let r = message.realm { realm = r }
            self.nonce = nonce
            key = STUNMessage.longTermKey(username: username, realm: realm ?? "", password: password)
            switch purpose {
            case .allocate: return [request(.allocate, purpose: .allocate)]
            case .refresh(let lifetime): return [request(.refresh, purpose: purpose) { $0.add(.lifetime, uint32: lifetime) }]
            case .permission(let ip): return [permissionRequest(ip)]
            }
        }
        if case .allocate = purpose { state = .failed("TURN \(code) \(reason)") }
        return []
    }

    /// Permissions for a peer's IP (new or due for refresh), and the allocation's refresh.
    mutating func due(now: UInt64) -> [[UInt8]] {
        guard case .allocated = state else { return [] }
        var out: [[UInt8]] = []
        if now >= refreshAt {
            refreshAt = now + 60_000_000_000  // until the answer sets it
            out.append(request(.refresh, purpose: .refresh(lifetime: 600)) { $0.add(.lifetime, uint32: 600) })
        }
        for (ip, until) in permissions where now >= until {
            permissions[ip] = now + 10_000_000_000
            out.append(permissionRequest(ip))
        }
        return out
    }

    var nextDue: UInt64? {
        guard case .allocated = state else { return nil }
        return ([refreshAt] + permissions.values).min()
    }

    /// CreatePermission for `peer`'s IP, unless one is installed or on its way.
    mutating func permit(_ peer: TransportAddress, now: UInt64) -> [UInt8]? {
        guard case .allocated = state, permissions[peer.ip] == nil else { return nil }
        permissions[peer.ip] = now + 5_000_000_000  // retried after 5 s if unanswered
        return permissionRequest(peer.ip)
    }

    private mutating func permissionRequest(_ ip: String) -> [UInt8] {
        request(.createPermission, purpose: .permission(ip)) { m in
            if let a = try? TransportAddress(ip: ip, port: 0) { m.add(.xorPeerAddress, address: a) }
        }
    }

    /// A Send indication carrying `data` to `peer` (indications are not authenticated).
    func send(_ data: [UInt8], to peer: TransportAddress) -> [UInt8] {
        var m = STUNMessage(method: .send, class: .indication)
        m.add(.xorPeerAddress, address: peer)
        m.add(.data, data)
        return m.serialized()
    }

    /// The path to the server is gone (a TCP connection closed or never opened).
    mutating func fail(_ reason: String) {
        state = .failed(reason)
        pending = [:]
    }

    /// Releases the allocation (Refresh with lifetime 0).
    mutating func release() -> [UInt8]? {
        guard case .allocated = state else { return nil }
        return request(.refresh, purpose: .refresh(lifetime: 0)) { $0.add(.lifetime, uint32: 0) }
    }

    /// A Data indication from the server: the peer and the datagram it sent.
    static func unwrap(_ message: STUNMessage) -> (TransportAddress, [UInt8])? {
        guard message.method == .data, message.messageClass == .indication,
              let peer = message.xorAddress(.xorPeerAddress), let data = message.attribute(.data) else { return nil }
        return (peer, data)
    }

    /// Refresh a minute before the lifetime runs out (at least 30 s from now).
    private static func refreshDelay(_ lifetime: UInt32) -> UInt64 {
        UInt64(max(30, Int(lifetime) - 60)) * 1_000_000_000
    }
}
