import Foundation

/// A full ICE agent (RFC 8445) for one component over UDP, sans-IO in the manner of str0m: it is
/// fed datagrams and the time, and answers with datagrams to send, events and when it next wants
/// the time — so every rule (pairing, pacing, role conflicts, nomination, consent, TURN) is unit
/// tested with a clock the test owns. Sockets live in the driver, which knows them by index.
/// Not thread-safe: the peer connection confines it.
public final class ICEAgent {
    public enum Role: String, Sendable { case controlling, controlled }

    public enum State: String, Sendable { case new, checking, connected, disconnected, failed, closed }

    public struct TURNServer: Sendable {
        /// How we reach the server: UDP, or TCP where UDP is blocked (the relayed leg is UDP either way).
        public enum Transport: String, Sendable { case udp, tcp }
        public var address: TransportAddress
        public var username: String
        public var password: String
        public var transport: Transport
        public init(address: TransportAddress, username: String, password: String, transport: Transport = .udp) {
            (self.address, self.username, self.password, self.transport) = (address, username, password, transport)
        }
    }

    /// Sockets the driver opens on request (`.connect`) are numbered from here, apart from the
    /// host sockets it binds itself.
    public static let streamSocketBase = 1 << 20

    public struct Configuration: Sendable {
        public var role: Role
        public var stunServers: [TransportAddress] = []
        public var turnServers: [TURNServer] = []
        /// Only relayed candidates (the "relay" ICE transport policy): host addresses are never
        /// signalled or checked, so a connection proves the TURN path. For `siphon preflight`,
        /// and for operators who must not expose the host.
        public var relayOnly = false
        /// This host's public IPv4 addresses behind a one-to-one NAT (a cloud VM's elastic IP):
        /// each IPv4 host candidate is also announced at each, same port, as server-reflexive.
        public var mappedAddresses: [String] = []
        /// Ta: one new check per interval (RFC 8445 §14.2).
        public var pacingNs: UInt64 = 50_000_000
        /// A check is retransmitted this often, up to `checkAttempts` sends.
        public var retransmitNs: UInt64 = 250_000_000
        public var checkAttempts = 7
        /// How long the controlling agent waits after a pair succeeds before nominating, by the
        /// pair's least direct candidate type (a better pair may still succeed meanwhile).
        public var nominationDelayNs: [ICECandidate.Kind: UInt64] = [.host: 0, .srflx: 300_000_000, .prflx: 300_000_000, .relay: 1_000_000_000]
        /// RFC 7675: a consent check every 5 s ±20 %, consent lost after 30 s without an answer.
        public var consentIntervalNs: UInt64 = 5_000_000_000
        public var consentTimeoutNs: UInt64 = 30_000_000_000
        /// Checking this long with nothing selected fails the agent.
        public var connectTimeoutNs: UInt64 = 30_000_000_000
        public init(role: Role) { self.role = role }
    }

    public enum Output: Sendable {
        case transmit(socket: Int, to: TransportAddress, bytes: [UInt8])
        /// Open a TCP connection to a TURN server as `socket`; report it with `streamConnected`
        /// or `streamFailed`, pass what arrives on it to `receive` one message at a time.
        case connect(socket: Int, to: TransportAddress)
        /// A local candidate to signal (trickle).
        case candidate(ICECandidate)
        case gatheringComplete
        case state(State)
        case selected(local: ICECandidate, remote: ICECandidate)
    }

    struct Local {
        var candidate: ICECandidate
        var socket: Int
        /// Index into `turns` for a relayed candidate.
        var turn: Int?
    }

    struct Pair {
        var local: Int
        var remote: Int
        var priority: UInt64
        var state: CheckState = .waiting
        var nominated = false
        var succeededAt: UInt64?
        /// The last round trip of a check or consent answered at its first send (Karn: a
        /// retransmitted request's answer is ambiguous).
        var roundTripNs: UInt64?
        enum CheckState { case waiting, inProgress, succeeded, failed }
    }

    struct Transaction {
        enum Purpose { case check(pair: Int, nominating: Bool, role: Role), consent(pair: Int), gather(socket: Int, server: TransportAddress) }
        var purpose: Purpose
        var bytes: [UInt8]
        var socket: Int
        var to: TransportAddress
        var viaTurn: Int?
        var attempts = 1
        var nextSend: UInt64
        var sentAt: UInt64 = 0
    }

    public private(set) var configuration: Configuration
    public private(set) var role: Role
    public let tieBreaker: UInt64
    public private(set) var localUfrag: String
    public private(set) var localPassword: String
    private(set) var remoteUfrag: String?
    private(set) var remotePassword: String?
    public private(set) var state: State = .new

    private var locals: [Local] = []
    private var remotes: [ICECandidate] = []
    private var pairs: [Pair] = []
    private var triggered: [Int] = []
    private var transactions: [[UInt8]: Transaction] = [:]
    private var turns: [(allocation: TURNAllocation, socket: Int, announced: Bool)] = []
    private var hostSockets: [(socket: Int, address: TransportAddress)] = []
    private var gatheringPending = 0
    private var gatheringAnnounced = false
    private var outputs: [Output] = []
    private var nextCheckAt: UInt64 = 0
    private var startedAt: UInt64?
    public private(set) var selected: Int?
    private var lastConsent: UInt64 = 0
    private var nextConsentAt: UInt64 = 0
    private var consentFailed = false

    public init(configuration: Configuration, credentials: (ufrag: String, password: String)? = nil, tieBreaker: UInt64 = .random(in: 0...UInt64.max)) {
        self.configuration = configuration
        role = configuration.role
        self.tieBreaker = tieBreaker
        let c = credentials ?? Self.newCredentials()
        (localUfrag, localPassword) = (c.ufrag, c.password)
    }

    /// ice-ufrag of 8 and ice-pwd of 24 characters from [A-Za-z0-9+/] (RFC 8839 §5.4).
    public static func newCredentials() -> (ufrag: String, password: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        func random(_ n: Int) -> String { String((0..<n).map { _ in alphabet.randomElement()! }) }
        return (random(8), random(24))
    }

    // MARK: inputs

    /// A host socket the driver bound: a host candidate, and from it srflx (STUN) and relayed
    /// (TURN) candidates when servers are configured (IPv4 only for those).
    public func addHostSocket(_ socket: Int, address: TransportAddress, now: UInt64) {
        guard !address.isLinkLocal else { return }
        hostSockets.append((socket, address))
        let pref = UInt32(65535 - min(hostSockets.count - 1, 100) * 256)
        if !configuration.relayOnly {
            addLocal(ICECandidate(foundation: Self.foundation(.host, address), priority: ICECandidate.priority(.host, localPreference: pref),
                                  address: address, kind: .host), socket: socket)
        }
        guard !address.isIPv6 else { return }
        for ip in configuration.mappedAddresses where !configuration.relayOnly {
            guard let mapped = try? TransportAddress(ip: ip, port: address.port), !mapped.isIPv6, mapped != address else { continue }
            addLocal(ICECandidate(foundation: Self.foundation(.srflx, address), priority: ICECandidate.priority(.srflx),
                                  address: mapped, kind: .srflx, related: address), socket: socket, announceOnly: true)
        }
        for server in configuration.stunServers where !server.isIPv6 && !configuration.relayOnly {
            var m = STUNMessage(method: .binding, class: .request)
            m.add(.software, string: "siphon")
            let bytes = m.serialized(fingerprint: true)
            transactions[m.transactionID] = Transaction(purpose: .gather(socket: socket, server: server), bytes: bytes, socket: socket, to: server,
                                                         nextSend: now + configuration.retransmitNs * 2)
            gatheringPending += 1
            outputs.append(.transmit(socket: socket, to: server, bytes: bytes))
        }
        if turns.isEmpty {  // one allocation per TURN server: on the first IPv4 socket, or a TCP connection of its own
            for server in configuration.turnServers where !server.address.isIPv6 {
                var allocation = TURNAllocation(server: server.address, username: server.username, password: server.password)
                if server.transport == .tcp {
                    let stream = Self.streamSocketBase + turns.count
                    outputs.append(.connect(socket: stream, to: server.address))
                    turns.append((allocation, stream, false))
                } else {
                    outputs.append(.transmit(socket: socket, to: server.address, bytes: allocation.start()))
                    turns.append((allocation, socket, false))
                }
                gatheringPending += 1
            }
        }
    }

    /// The TCP connection asked for with `.connect` is up: the allocation starts on it.
    public func streamConnected(socket: Int, now: UInt64) {
        guard let t = turns.firstIndex(where: { $0.socket == socket }), turns[t].allocation.state == .idle else { return }
        outputs.append(.transmit(socket: socket, to: turns[t].allocation.server, bytes: turns[t].allocation.start()))
    }

    /// The TCP connection could not be made, or closed: that server's relayed candidate is gone.
    public func streamFailed(socket: Int, reason: String, now: UInt64) {
        guard let t = turns.firstIndex(where: { $0.socket == socket }) else { return }
        let wasAnnounced = turns[t].announced
        turns[t].allocation.fail(reason)
        turns[t].announced = true
        for p in pairs.indices where locals[pairs[p].local].turn == t && pairs[p].state != .failed { pairs[p].state = .failed }
        if !wasAnnounced {
            gatheringPending -= 1
            announceGatheringIfDone()
        }
    }

    /// The peer's ice-ufrag and ice-pwd. New ones after a connection mean an ICE restart.
    public func setRemoteCredentials(ufrag: String, password: String, now: UInt64) {
        if let old = remoteUfrag, old != ufrag || password != remotePassword {
            restartChecks()
        }
        (remoteUfrag, remotePassword) = (ufrag, password)
        if state == .new {
            startedAt = now
            setState(.checking)
        }
    }

    /// Our own restart (RFC 8445 §9): new local credentials, new checks; the selected pair keeps
    /// carrying media until a new one is selected. The caller signals the new ufrag/pwd.
    public func restart(now: UInt64) {
        (localUfrag, localPassword) = Self.newCredentials()
        remoteUfrag = nil
        remotePassword = nil
        restartChecks()
        startedAt = now
    }

    private func restartChecks() {
        pairs = []
        remotes = []
        triggered = []
        transactions = transactions.filter { if case .gather = $0.value.purpose { return true } else { return false } }
        selected = nil
    }

    /// A remote candidate (from the SDP or trickled). Unresolvable names are ignored: the peer
    /// is then learnt as peer-reflexive from its checks.
    public func addRemoteCandidate(_ candidate: ICECandidate, now: UInt64) {
        guard candidate.transport == "udp", candidate.component == 1, let address = candidate.address else { return }
        if let known = remotes.firstIndex(where: { $0.address == address }) {
            // Learnt from its checks before it was signalled: it takes the signalled type and
            // priority (RFC 8838 §11), and its pairs their new priorities.
            if remotes[known].kind == .prflx, candidate.kind != .prflx {
                remotes[known] = candidate
                for p in pairs.indices where pairs[p].remote == known {
                    pairs[p].priority = pairPriority(local: locals[pairs[p].local].candidate, remote: candidate)
                }
            }
            return
        }
        remotes.append(candidate)
        pairUp(remote: remotes.count - 1, now: now)
        for i in turns.indices {
            if let bytes = turns[i].allocation.permit(address, now: now) {
                outputs.append(.transmit(socket: turns[i].socket, to: turns[i].allocation.server, bytes: bytes))
            }
        }
    }

    /// A datagram from a socket. STUN for ICE or TURN is consumed; anything else from the peer
    /// (DTLS, SRTP) is returned with the address it came from, unwrapped from TURN if relayed.
    public func receive(_ bytes: [UInt8], from source: TransportAddress, socket: Int, now: UInt64) -> (data: [UInt8], from: TransportAddress)? {
        if let t = turns.firstIndex(where: { $0.socket == socket && $0.allocation.server == source }) {
            guard STUNMessage.looksLikeSTUN(bytes), let message = try? STUNMessage(parsing: bytes) else { return nil }
            if let (peer, inner) = TURNAllocation.unwrap(message) {
                return receiveFromPeer(inner, from: peer, socket: socket, turn: t, now: now)
            }
            receiveTURN(t, message, raw: bytes, now: now)
            return nil
        }
        return receiveFromPeer(bytes, from: source, socket: socket, turn: nil, now: now)
    }

    private func receiveFromPeer(_ bytes: [UInt8], from source: TransportAddress, socket: Int, turn: Int?, now: UInt64) -> (data: [UInt8], from: TransportAddress)? {
        guard STUNMessage.looksLikeSTUN(bytes) else {
            // Media only from a peer we have checked (or at least heard from in a valid check).
            return remotes.contains(where: { $0.address == source }) ? (bytes, source) : nil
        }
        guard let message = try? STUNMessage(parsing: bytes), STUNMessage.verifyFingerprint(bytes) else { return nil }
        switch message.messageClass {
        case .request where message.method == .binding:
            handleRequest(message, raw: bytes, from: source, socket: socket, turn: turn, now: now)
        case .success, .error:
            handleResponse(message, raw: bytes, from: source, socket: socket, turn: turn, now: now)
        default:
            break
        }
        return nil
    }

    // MARK: outputs

    /// The next thing to do, until nil.
    public func poll() -> Output? { outputs.isEmpty ? nil : outputs.removeFirst() }

    /// When `handleTimeout` wants to be called next.
    public var nextTimeout: UInt64? {
        var t: [UInt64] = transactions.values.map(\.nextSend)
        if hasWaitingChecks { t.append(nextCheckAt) }
        if selected != nil, !consentFailed { t.append(nextConsentAt) }
        if let startedAt, selected == nil, state == .checking { t.append(startedAt + configuration.connectTimeoutNs) }
        if let n = nominationDue { t.append(n) }
        t += turns.compactMap(\.allocation.nextDue)
        return t.min()
    }

    private var hasWaitingChecks: Bool {
        remotePassword != nil && (!triggered.isEmpty || pairs.contains { $0.state == .waiting })
    }

    public func handleTimeout(now: UInt64) {
        // Retransmissions and give-ups.
        for (tid, var t) in transactions where t.nextSend <= now {
            let limit: Int
            switch t.purpose {
            case .check: limit = configuration.checkAttempts
            case .consent: limit = 3
            case .gather: limit = 3
            }
            if t.attempts >= limit {
                transactions[tid] = nil
                switch t.purpose {
                case .check(let p, _, _):
                    if pairs.indices.contains(p), pairs[p].state == .inProgress { pairs[p].state = .failed }
                case .consent: break
                case .gather:
                    gatheringPending -= 1
                    announceGatheringIfDone()
                }
                continue
            }
            t.attempts += 1
            t.nextSend = now + configuration.retransmitNs * UInt64(min(t.attempts, 4))
            transactions[tid] = t
            send(t.bytes, socket: t.socket, to: t.to, viaTurn: t.viaTurn)
        }
        // One new check per Ta.
        if hasWaitingChecks, now >= nextCheckAt {
            nextCheckAt = now + configuration.pacingNs
            let next: Int? = triggered.isEmpty ? bestWaiting() : triggered.removeFirst()
            if let p = next { sendCheck(p, nominating: false, now: now) }
        }
        nominateIfDue(now: now)
        // Consent freshness (RFC 7675).
        if let s = selected, !consentFailed {
            if now - lastConsent >= configuration.consentTimeoutNs {
                consentFailed = true
                setState(.failed)
            } else {
                if now - lastConsent >= 2 * configuration.consentIntervalNs, state == .connected { setState(.disconnected) }
                if now >= nextConsentAt {
                    let jitter = Double.random(in: 0.8...1.2)
                    nextConsentAt = now + UInt64(Double(configuration.consentIntervalNs) * jitter)
                    sendCheck(s, nominating: false, now: now, consent: true)
                }
            }
        }
        if let startedAt, selected == nil, state == .checking, now - startedAt >= configuration.connectTimeoutNs {
            setState(.failed)
        }
        for i in turns.indices {
            for bytes in turns[i].allocation.due(now: now) {
                outputs.append(.transmit(socket: turns[i].socket, to: turns[i].allocation.server, bytes: bytes))
            }
        }
    }

    /// Sends application data (DTLS, SRTP) on the selected pair. False when there is none or
    /// consent was lost (RFC 7675: stop sending).
    @discardableResult
    public func send(_ data: [UInt8]) -> Bool {
        guard let s = activePairIndex, !consentFailed, state != .closed else { return false }
        let local = locals[pairs[s].local]
        guard let to = remotes[pairs[s].remote].address else { return false }
        send(data, socket: local.socket, to: to, viaTurn: local.turn)
        return true
    }

    /// The selected pair's last measured round trip (its checks, then consent freshness).
    public var roundTripNs: UInt64? { selected.flatMap { pairs[$0].roundTripNs } }

    public var selectedPair: (local: ICECandidate, remote: ICECandidate)? {
        selected.map { (locals[pairs[$0].local].candidate, remotes[pairs[$0].remote]) }
    }

    /// The pair data goes out on: the selected one, or before nomination the best that succeeded
    /// (a DTLS server answers the ClientHello of a peer that nominated first, RFC 8445 §12.1).
    var activePairIndex: Int? {
        selected ?? pairs.indices.filter { pairs[$0].state == .succeeded }.max { pairs[$0].priority < pairs[$1].priority }
    }

    public var activePair: (local: ICECandidate, remote: ICECandidate)? {
        activePairIndex.map { (locals[pairs[$0].local].candidate, remotes[pairs[$0].remote]) }
    }

    public var localCandidates: [ICECandidate] { locals.map(\.candidate) }

    public func close() {
        for i in turns.indices {
            if let bytes = turns[i].allocation.release() { outputs.append(.transmit(socket: turns[i].socket, to: turns[i].allocation.server, bytes: bytes)) }
        }
        setState(.closed)
    }

    // MARK: checks

    private func sendCheck(_ p: Int, nominating: Bool, now: UInt64, consent: Bool = false) {
        guard let ufrag = remoteUfrag, let password = remotePassword else { return }
        let local = locals[pairs[p].local]
        guard let to = remotes[pairs[p].remote].address else { return }
        var m = STUNMessage(method: .binding, class: .request)
        m.add(.username, string: "\(ufrag):\(localUfrag)")
        m.add(.priority, uint32: ICECandidate.priority(.prflx, localPreference: (local.candidate.priority >> 8) & 0xFFFF))
        if role == .controlling {
            m.add(.iceControlling, uint64: tieBreaker)
            if nominating || pairs[p].nominated { m.add(.useCandidate, []) }
        } else {
            m.add(.iceControlled, uint64: tieBreaker)
        }
        let bytes = m.serialized(integrityKey: Array(password.utf8), fingerprint: true)
        transactions[m.transactionID] = Transaction(
            purpose: consent ? .consent(pair: p) : .check(pair: p, nominating: nominating, role: role), bytes: bytes,
            socket: local.socket, to: to, viaTurn: local.turn, nextSend: now + configuration.retransmitNs, sentAt: now)
        if !consent, pairs[p].state != .succeeded { pairs[p].state = .inProgress }
        send(bytes, socket: local.socket, to: to, viaTurn: local.turn)
    }

    private func bestWaiting() -> Int? {
        pairs.indices.filter { pairs[$0].state == .waiting }.max { pairs[$0].priority < pairs[$1].priority }
    }

    private func handleRequest(_ m: STUNMessage, raw: [UInt8], from source: TransportAddress, socket: Int, turn: Int?, now: UInt64) {
        if configuration.relayOnly && turn == nil { return }  // straight to a host socket: not a path we may use
        // USERNAME is "ours:theirs"; integrity with our password (RFC 8445 §7.3).
        guard let username = m.username, username.hasPrefix(localUfrag + ":"), STUNMessage.verifyIntegrity(raw, key: Array(localPassword.utf8)) else {
            if m.has(.messageIntegrity) || m.username != nil { respondError(m, 401, "Unauthorized", to: source, socket: socket, turn: turn) }
            else { respondError(m, 400, "Bad Request", to: source, socket: socket, turn: turn) }
            return
        }
        // Role conflict (RFC 8445 §7.3.1.1).
        if role == .controlling, let theirs = m.tieBreaker(.iceControlling) {
            if tieBreaker >= theirs { return respondError(m, 487, "Role Conflict", to: source, socket: socket, turn: turn) }
            switchRole(to: .controlled)
        } else if role == .controlled, let theirs = m.tieBreaker(.iceControlled) {
            if tieBreaker >= theirs { switchRole(to: .controlling) } else { return respondError(m, 487, "Role Conflict", to: source, socket: socket, turn: turn) }
        }
        var response = STUNMessage(method: .binding, class: .success, transactionID: m.transactionID)
        response.add(.xorMappedAddress, address: source)
        send(response.serialized(integrityKey: Array(localPassword.utf8), fingerprint: true), socket: socket, to: source, viaTurn: turn)

        // The pair this request came over; a peer-reflexive remote if the source is new (§7.3.1.3).
        guard let local = locals.firstIndex(where: { $0.socket == socket && $0.turn == turn }) else { return }
        var remote = remotes.firstIndex { $0.address == source }
        if remote == nil {
            let prflx = ICECandidate(foundation: Self.foundation(.prflx, source), priority: m.priority ?? ICECandidate.priority(.prflx),
                                     address: source, kind: .prflx)
            remotes.append(prflx)
            remote = remotes.count - 1
            pairUp(remote: remote!, now: now)
        }
        guard let p = pairs.firstIndex(where: { $0.local == local && $0.remote == remote! }) else { return }
        if m.has(.useCandidate), role == .controlled {
            pairs[p].nominated = true
            if pairs[p].state == .succeeded { select(p) }
        }
        // Triggered check (§7.3.1.4), unless the pair already succeeded.
        if pairs[p].state != .succeeded, pairs[p].state != .inProgress, !triggered.contains(p) {
            pairs[p].state = .waiting
            triggered.append(p)
        }
        if state == .new { startedAt = now; setState(.checking) }
    }

    private func handleResponse(_ m: STUNMessage, raw: [UInt8], from source: TransportAddress, socket: Int, turn: Int?, now: UInt64) {
        guard let t = transactions[m.transactionID] else { return }
        switch t.purpose {
        case .gather(let gatherSocket, let server):
            transactions[m.transactionID] = nil
            gatheringPending -= 1
            if m.messageClass == .success, let mapped = m.xorAddress(.xorMappedAddress), source == server,
               let host = hostSockets.first(where: { $0.socket == gatherSocket }), mapped != host.address {
                addLocal(ICECandidate(foundation: Self.foundation(.srflx, host.address), priority: ICECandidate.priority(.srflx),
                                      address: mapped, kind: .srflx, related: host.address), socket: gatherSocket, announceOnly: true)
            }
            announceGatheringIfDone()
        case .check(let p, let nominating, let sentRole):
            guard pairs.indices.contains(p), let password = remotePassword, STUNMessage.verifyIntegrity(raw, key: Array(password.utf8)) else { return }
            transactions[m.transactionID] = nil
            if m.messageClass == .error {
                if m.errorCode?.code == 487 {
                    // Switch unless we already did (a stale 487 to a check sent in the old role,
                    // RFC 8445 §7.2.5.1); either way the pair is checked again in the role we have.
                    if sentRole == role { switchRole(to: role == .controlling ? .controlled : .controlling) }
                    pairs[p].state = .waiting
                    if !triggered.contains(p) { triggered.append(p) }
                } else {
                    pairs[p].state = .failed
                }
                return
            }
            // Symmetric: the answer must come from where the check went (§7.2.5.2.1).
            guard source == remotes[pairs[p].remote].address, socket == locals[pairs[p].local].socket else { pairs[p].state = .failed; return }
            if pairs[p].state != .succeeded { pairs[p].succeededAt = now }
            pairs[p].state = .succeeded
            if t.attempts == 1 { pairs[p].roundTripNs = now - t.sentAt }
            lastConsent = now
            if nominating || (role == .controlled && pairs[p].nominated) { select(p) }
        case .consent(let p):
            guard let password = remotePassword, STUNMessage.verifyIntegrity(raw, key: Array(password.utf8)) else { return }
            transactions[m.transactionID] = nil
            if m.messageClass == .success, p == selected {
                lastConsent = now
                if t.attempts == 1 { pairs[p].roundTripNs = now - t.sentAt }
                if state == .disconnected { setState(.connected) }
            }
        }
    }

    private func switchRole(to newRole: Role) {
        role = newRole
        // Pair priorities depend on who controls (G and D swap).
        for i in pairs.indices { pairs[i].priority = pairPriority(local: locals[pairs[i].local].candidate, remote: remotes[pairs[i].remote]) }
    }

    /// The controlling agent nominates the best succeeded pair once its delay has passed.
    private var nominationDue: UInt64? {
        guard role == .controlling, selected == nil, !transactions.values.contains(where: { if case .check(_, true, _) = $0.purpose { true } else { false } }) else { return nil }
        return pairs.compactMap { p in p.succeededAt.map { $0 + nominationDelay(p) } }.min()
    }

    private func nominateIfDue(now: UInt64) {
        guard let due = nominationDue, now >= due else { return }
        let best = pairs.indices.filter { pairs[$0].state == .succeeded }.max { pairs[$0].priority < pairs[$1].priority }
        if let best {
            pairs[best].nominated = true
            sendCheck(best, nominating: true, now: now)
        }
    }

    private func nominationDelay(_ p: Pair) -> UInt64 {
        if configuration.relayOnly { return 0 }  // every pair is relayed: none better is coming
        let kinds = [locals[p.local].candidate.kind, remotes[p.remote].kind]
        return kinds.map { configuration.nominationDelayNs[$0] ?? 0 }.max() ?? 0
    }

    private func select(_ p: Int) {
        guard selected != p else { return }
        selected = p
        lastConsent = max(lastConsent, pairs[p].succeededAt ?? 0)
        nextConsentAt = lastConsent + configuration.consentIntervalNs
        outputs.append(.selected(local: locals[pairs[p].local].candidate, remote: remotes[pairs[p].remote]))
        setState(.connected)
    }

    // MARK: TURN

    private func receiveTURN(_ t: Int, _ message: STUNMessage, raw: [UInt8], now: UInt64) {
        let wasAllocated = turns[t].allocation.relayed != nil
        for bytes in turns[t].allocation.receive(message, raw: raw, now: now) {
            outputs.append(.transmit(socket: turns[t].socket, to: turns[t].allocation.server, bytes: bytes))
        }
        if !wasAllocated, !turns[t].announced {
            switch turns[t].allocation.state {
            case .allocated(let relayed, let mapped):
                turns[t].announced = true
                gatheringPending -= 1
                // Relayed over TCP ranks below relayed over UDP (the TCP leg adds head-of-line delay).
                let overTCP = turns[t].socket >= Self.streamSocketBase
                let candidate = ICECandidate(foundation: Self.foundation(.relay, turns[t].allocation.server) + (overTCP ? "t" : ""),
                                             priority: ICECandidate.priority(.relay, localPreference: overTCP ? 32767 : 65535),
                                             address: relayed, kind: .relay, related: mapped)
                addLocal(candidate, socket: turns[t].socket, turn: t)
                for r in remotes { if let a = r.address, let b = turns[t].allocation.permit(a, now: now) {
                    outputs.append(.transmit(socket: turns[t].socket, to: turns[t].allocation.server, bytes: b)) } }
                announceGatheringIfDone()
            case .failed:
                turns[t].announced = true
                gatheringPending -= 1
                announceGatheringIfDone()
            default:
                break
            }
        }
    }

    // MARK: plumbing

    private func send(_ bytes: [UInt8], socket: Int, to: TransportAddress, viaTurn: Int?) {
        if let t = viaTurn {
            outputs.append(.transmit(socket: turns[t].socket, to: turns[t].allocation.server, bytes: turns[t].allocation.send(bytes, to: to)))
        } else {
            outputs.append(.transmit(socket: socket, to: to, bytes: bytes))
        }
    }

    private func respondError(_ m: STUNMessage, _ code: Int, _ reason: String, to: TransportAddress, socket: Int, turn: Int?) {
        var r = STUNMessage(method: .binding, class: .error, transactionID: m.transactionID)
        r.addError(code, reason)
        // 401/400 cannot be signed (the sender may not know our password); 487 is.
        let key = code == 487 ? Array(localPassword.utf8) : nil
        send(r.serialized(integrityKey: key, fingerprint: true), socket: socket, to: to, viaTurn: turn)
    }

    private func addLocal(_ c: ICECandidate, socket: Int, turn: Int? = nil, announceOnly: Bool = false) {
        if announceOnly {
            // srflx candidates are signalled but not paired: their base (the host socket) is (RFC 8445 §6.1.2.4).
            outputs.append(.candidate(c))
            return
        }
        locals.append(Local(candidate: c, socket: socket, turn: turn))
        outputs.append(.candidate(c))
        for r in remotes.indices { pairUp(local: locals.count - 1, remote: r) }
    }

    private func pairUp(remote r: Int, now: UInt64) {
        for l in locals.indices { pairUp(local: l, remote: r) }
    }

    private func pairUp(local l: Int, remote r: Int) {
        guard let ra = remotes[r].address, let la = locals[l].candidate.address, ra.isIPv6 == la.isIPv6,
              !pairs.contains(where: { $0.local == l && $0.remote == r }) else { return }
        // Loopback only talks to loopback.
        guard la.isLoopback == ra.isLoopback || locals[l].turn != nil else { return }
        pairs.append(Pair(local: l, remote: r, priority: pairPriority(local: locals[l].candidate, remote: remotes[r])))
        if pairs.count > 100 {  // RFC 8445 §6.1.2.5: keep the check list bounded
            if let worst = pairs.indices.filter({ pairs[$0].state == .waiting }).min(by: { pairs[$0].priority < pairs[$1].priority }) {
                pairs[worst].state = .failed
            }
        }
    }

    /// RFC 8445 §6.1.2.3: 2^32·min(G,D) + 2·max(G,D) + (G>D ? 1 : 0), G the controlling side's.
    private func pairPriority(local: ICECandidate, remote: ICECandidate) -> UInt64 {
        let (g, d) = role == .controlling ? (UInt64(local.priority), UInt64(remote.priority)) : (UInt64(remote.priority), UInt64(local.priority))
        return (min(g, d) << 32) + 2 * max(g, d) + (g > d ? 1 : 0)
    }

    private func announceGatheringIfDone() {
        guard gatheringPending <= 0, !gatheringAnnounced else { return }
        gatheringAnnounced = true
        outputs.append(.gatheringComplete)
    }

    /// All local gathering is done (hosts added, servers answered or timed out).
    public var isGatheringComplete: Bool { gatheringPending <= 0 }

    private func setState(_ s: State) {
        guard s != state, state != .closed else { return }
        state = s
        outputs.append(.state(s))
    }

    private static func foundation(_ kind: ICECandidate.Kind, _ base: TransportAddress) -> String {
        String(CRC32.ieee(Array("\(kind.rawValue)\(base.ip)".utf8)) % 1_000_000_000)
    }
}
