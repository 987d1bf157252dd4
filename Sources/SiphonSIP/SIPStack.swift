import Foundation
import Logging

/// Sends bytes to a SIP peer (the transport, or a recorder in tests).
public protocol SIPMessageSender: Sendable {
    func send(_ bytes: [UInt8], to peer: SIPPeer) async throws
    /// Whether a TCP or TLS connection to `peer` is open (always true for UDP).
    func isConnected(to peer: SIPPeer) -> Bool
}

extension SIPMessageSender {
    public func isConnected(to peer: SIPPeer) -> Bool { true }
}

extension SIPTransport: SIPMessageSender {}

/// RFC 3261 timer values (17.1.1.1).
public struct SIPTimers: Sendable {
    public var t1: Duration = .milliseconds(500)
    public var t2: Duration = .seconds(4)
    public var t4: Duration = .seconds(5)
    public init() {}
    /// Timers B, F, H, J: 64·T1.
    public var transactionTimeout: Duration { t1 * 64 }
}

/// The transaction layer (RFC 3261 17): client transactions with retransmission and timeouts,
/// server transactions that absorb retransmitted requests and retransmit final responses, and
/// routing of everything else to the transaction user (the user agent).
public actor SIPStack {
    public let sender: any SIPMessageSender
    public let timers: SIPTimers
    let logger: Logger

    private var clients: [String: ClientTransaction] = [:]
    private var servers: [String: ServerTransactionState] = [:]
    private var requestHandler: (@Sendable (SIPServerTransaction) async -> Void)?
    private var unmatchedResponseHandler: (@Sendable (SIPMessage, SIPPeer) async -> Void)?
    private var ackHandler: (@Sendable (SIPMessage, SIPPeer) async -> Void)?

    public init(sender: any SIPMessageSender, timers: SIPTimers = SIPTimers(), logger: Logger = Logger(label: "siphon.sip")) {
        self.sender = sender
        self.timers = timers
        self.logger = logger
    }

    /// `requests`: new requests (a server transaction each). `acks`: ACKs for 2xx (no transaction).
    /// `responses`: responses matching no transaction (2xx retransmissions the UA must re-ACK).
    public func setHandlers(requests: @escaping @Sendable (SIPServerTransaction) async -> Void,
                            acks: @escaping @Sendable (SIPMessage, SIPPeer) async -> Void,
                            responses: @escaping @Sendable (SIPMessage, SIPPeer) async -> Void) {
        requestHandler = requests
        ackHandler = acks
        unmatchedResponseHandler = responses
    }

    // MARK: inbound

    /// Feeds the stack from a transport until it finishes.
    public nonisolated func run(_ inbound: AsyncStream<SIPInbound>) async {
        await withDiscardingTaskGroup { group in
            for await item in inbound {
                group.addTask { await self.receive(item) }
            }
        }
    }

    /// Handles one inbound datagram or framed message.
    public func receive(_ inbound: SIPInbound) async {
        let message: SIPMessage
        let peer: SIPPeer
        switch inbound {
        case .datagram(let bytes, let from):
            peer = from
            do {
                message = try SIPParser.parse(datagram: bytes)
            } catch let e as SIPMessageError {
                await rejectUnparsable(bytes, error: e, from: from)
                return
            } catch {
                return
            }
        case .stream(let m, let from):
            message = m
            peer = from
        }
        if message.isRequest {
            await receiveRequest(message, from: peer)
        } else {
            await receiveResponse(message, from: peer)
        }
    }

    /// A datagram that does not parse: answer 400/505 if it is a request we can address, else drop.
    private func rejectUnparsable(_ bytes: [UInt8], error: SIPMessageError, from peer: SIPPeer) async {
        guard !bytes.starts(with: Array("SIP/".utf8)) else { return }  // never answer a response
        let salvaged = SIPParser.salvageHeaders(bytes)
        var response = SIPMessage(startLine: .response(status: error.status, reason: Self.reason(error.status)))
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for h in salvaged where h.name == name { response.add(name, h.value) }
        }
        guard response.header("Via") != nil else { return }
        response.add("Warning", "399 siphon \"\(error.reason.replacingOccurrences(of: "\"", with: "'"))\"")
        logger.debug("rejecting malformed request", metadata: ["sip.peer": "\(peer)", "sip.error": "\(error)"])
        try? await sender.send(response.serialized(), to: responseDestination(for: response, from: peer))
    }

    private func receiveRequest(_ request: SIPMessage, from peer: SIPPeer) async {
        do {
            try SIPValidation.validate(request: request)
        } catch let e as SIPMessageError {
            await sendStateless(Self.response(to: request, status: e.status, reason: Self.reason(e.status), warning: e.reason), for: request, from: peer)
            return
        } catch {
            return
        }
        let key = Self.serverKey(request)
        if request.method == "ACK" {
            if let state = servers[key], state.isInvite {
                state.acknowledged = true  // stops final-response retransmission (timer G)
                return
            }
            if let ackHandler { await ackHandler(request, peer) }
            return
        }
        if let state = servers[key] {
            // A retransmission: answer with the last response, if any.
            if let last = state.lastResponse { try? await sender.send(last, to: state.responseTo) }
            return
        }
        let destination = responseDestination(for: request, from: peer)
        let state = ServerTransactionState(isInvite: request.method == "INVITE", responseTo: destination)
        servers[key] = state
        let transaction = SIPServerTransaction(stack: self, key: key, request: request, source: peer)
        if request.method == "INVITE" {
            await transaction.respond(status: 100, reason: "Trying")
        }
        if let requestHandler {
            await requestHandler(transaction)
        } else {
            await transaction.respond(status: 503, reason: "Service Unavailable")
        }
    }

    private func receiveResponse(_ response: SIPMessage, from peer: SIPPeer) async {
        guard (try? SIPValidation.validate(response: response)) != nil else { return }
        guard let via = response.topVia, let branch = via.branch, let cseq = response.cseq else { return }
        let key = "\(branch)|\(cseq.method)"
        if let txn = clients[key] {
            await txn.deliver(response)
        } else if let unmatchedResponseHandler {
            await unmatchedResponseHandler(response, peer)
        }
    }

    // MARK: server side

    func respond(_ response: SIPMessage, key: String) async {
        guard let state = servers[key] else { return }
        let bytes = response.serialized()
        state.lastResponse = bytes
        try? await sender.send(bytes, to: state.responseTo)
        guard let status = response.status, status >= 200 else { return }
        let unreliable = state.responseTo.transport == .udp
        if state.isInvite && status >= 300 && unreliable {
            // Timer G: retransmit the final response until the ACK arrives (or timer H).
            Task { await self.retransmitFinal(key: key, bytes: bytes) }
        } else {
            // Timer J / I: keep the transaction to absorb retransmissions, then forget it.
            let keep = unreliable ? timers.transactionTimeout : .zero
            Task {
                try? await Task.sleep(for: keep)
                await self.forgetServer(key)
            }
        }
    }

    private func retransmitFinal(key: String, bytes: [UInt8]) async {
        var interval = timers.t1
        let deadline = ContinuousClock.now + timers.transactionTimeout
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: interval)
            guard let state = servers[key], !state.acknowledged else { break }
            try? await sender.send(bytes, to: state.responseTo)
            interval = min(interval * 2, timers.t2)
        }
        try? await Task.sleep(for: timers.t4)
        forgetServer(key)
    }

    private func forgetServer(_ key: String) { servers[key] = nil }

    /// Sends a response outside any transaction (to a request that could not start one).
    func sendStateless(_ response: SIPMessage, for request: SIPMessage, from peer: SIPPeer) async {
        try? await sender.send(response.serialized(), to: responseDestination(for: request, from: peer))
    }

    /// RFC 3261 18.2.2 with RFC 3581 rport: UDP responses go to the source address when `rport` is
    /// asked for, else to `received`/sent-by; TCP and TLS responses go back on the connection.
    nonisolated func responseDestination(for request: SIPMessage, from peer: SIPPeer) -> SIPPeer {
        if peer.transport.isStream { return peer }
        guard let via = request.topVia else { return peer }
        if via.parameters.has("rport") { return peer }
        let sentByIsSource = via.host == peer.host
        return SIPPeer(host: sentByIsSource ? via.host : peer.host, port: via.port ?? 5060, transport: .udp)
    }

    static func serverKey(_ request: SIPMessage) -> String {
        let via = request.topVia
        let method = request.method == "ACK" ? "INVITE" : (request.method ?? "")
        if let branch = via?.branch, branch.hasPrefix(ViaHeader.magicCookie) {
            return "\(branch)|\(via?.host ?? ""):\(via?.port ?? 5060)|\(method)"
        }
        // RFC 2543 peers: match on the request's identifying fields (17.2.3).
        let cseq = request.cseq?.number ?? 0
        return "2543|\(request.callID ?? "")|\(cseq)|\(request.fromTag ?? "")|\(via.map(String.init(describing:)) ?? "")|\(method)"
    }

    // MARK: client side

    /// Sends a request in a client transaction; returns its final response. Provisional responses
    /// go to `provisional`. Throws `SIPMessageError(408)` at timer B/F, or a transport error.
    public func request(_ request: SIPMessage, to peer: SIPPeer,
                        provisional: (@Sendable (SIPMessage) async -> Void)? = nil) async throws -> SIPMessage {
        guard let via = request.topVia, let branch = via.branch, let method = request.method else {
            throw SIPMessageError(400, "request has no Via branch")
        }
        let key = "\(branch)|\(method)"
        let txn = ClientTransaction(request: request, peer: peer, isInvite: method == "INVITE", sender: sender)
        clients[key] = txn
        let bytes = request.serialized()
        do {
            try await sender.send(bytes, to: peer)
        } catch {
            clients[key] = nil
            throw error
        }
        let timers = self.timers
        let sender = self.sender
        let result: Result<SIPMessage, any Error> = await withTaskGroup(of: Result<SIPMessage, any Error>?.self) { group in
            group.addTask {
                for await response in txn.responses {
                    if (response.status ?? 0) < 200 {
                        await txn.markProceeding()
                        await provisional?(response)
                    } else {
                        return .success(response)
                    }
                }
                return nil
            }
            group.addTask {
                await Self.retransmit(bytes, to: peer, txn: txn, timers: timers, sender: sender)
                return .failure(SIPMessageError(408, "no response to \(method) (timer \(txn.isInvite ? "B" : "F"))"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(CancellationError())
        }
        switch result {
        case .success(let response):
            await finishClient(key: key, txn: txn, response: response)
            return response
        case .failure(let error):
            clients[key] = nil
            await txn.finish()
            throw error
        }
    }

    /// Timers A/E: retransmit over UDP (doubling, capped at T2 for non-INVITE or once proceeding)
    /// until the transaction timeout. Returns when it times out; cancelled when a final arrives.
    private static func retransmit(_ bytes: [UInt8], to peer: SIPPeer, txn: ClientTransaction, timers: SIPTimers,
                                   sender: any SIPMessageSender) async {
        let deadline = ContinuousClock.now + timers.transactionTimeout
        var interval = timers.t1
        while ContinuousClock.now < deadline {
            do { try await Task.sleep(for: min(interval, deadline - ContinuousClock.now)) } catch { return }
            if ContinuousClock.now >= deadline { break }
            let proceeding = await txn.proceeding
            if peer.transport == .udp && !(txn.isInvite && proceeding) {
                try? await sender.send(bytes, to: peer)
            }
            interval = proceeding ? timers.t2 : (txn.isInvite ? interval * 2 : min(interval * 2, timers.t2))
            // An INVITE that got a provisional waits for its final as long as the TU wants (it
            // CANCELs on its own ring timeout); timer B only runs while calling.
            if txn.isInvite && proceeding {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                return
            }
        }
    }

    private func finishClient(key: String, txn: ClientTransaction, response: SIPMessage) async {
        let status = response.status ?? 0
        if txn.isInvite && status >= 300 {
            // Non-2xx final to INVITE: ACK in the same transaction; re-ACK retransmissions (timer D).
            let ack = Self.ackForNon2xx(txn.request, response: response)
            let ackBytes = ack.serialized()
            try? await sender.send(ackBytes, to: txn.peer)
            await txn.setAck(ackBytes)
            Task {
                try? await Task.sleep(for: txn.peer.transport == .udp ? self.timers.t1 * 64 : .zero)
                await self.forgetClient(key)
            }
        } else if !txn.isInvite && txn.peer.transport == .udp {
            Task {
                try? await Task.sleep(for: self.timers.t4)  // timer K
                await self.forgetClient(key)
            }
        } else {
            clients[key] = nil
        }
        await txn.finish()
    }

    private func forgetClient(_ key: String) { clients[key] = nil }

    /// RFC 3261 17.1.1.3: ACK for a non-2xx final, same branch, To tag from the response.
    static func ackForNon2xx(_ invite: SIPMessage, response: SIPMessage) -> SIPMessage {
        var ack = SIPMessage(startLine: .request(method: "ACK", uri: { if case .request(_, let u) = invite.startLine { return u }; return "" }()))
        if let via = invite.values("Via").first { ack.add("Via", via) }
        for name in ["Route", "From", "Call-ID"] { for v in invite.headers where v.name == name { ack.add(name, v.value) } }
        ack.add("To", response.header("To") ?? invite.header("To") ?? "")
        ack.add("CSeq", "\(invite.cseq?.number ?? 1) ACK")
        ack.add("Max-Forwards", "70")
        return ack
    }

    // MARK: helpers

    public static func response(to request: SIPMessage, status: Int, reason: String? = nil, toTag: String? = nil,
                                warning: String? = nil) -> SIPMessage {
        var r = SIPMessage(startLine: .response(status: status, reason: reason ?? Self.reason(status)))
        for h in request.headers where h.name == "Via" { r.add("Via", h.value) }
        if let f = request.header("From") { r.add("From", f) }
        if var to = request.header("To") {
            if let toTag, request.toTag == nil, status > 100 { to += ";tag=\(toTag)" }
            r.add("To", to)
        }
        if let c = request.header("Call-ID") { r.add("Call-ID", c) }
        if let c = request.header("CSeq") { r.add("CSeq", c) }
        if let warning { r.add("Warning", "399 siphon \"\(warning.replacingOccurrences(of: "\"", with: "'"))\"") }
        return r
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Trying"
        case 180: "Ringing"
        case 183: "Session Progress"
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 416: "Unsupported URI Scheme"
        case 420: "Bad Extension"
        case 422: "Session Interval Too Small"
        case 480: "Temporarily Unavailable"
        case 481: "Call/Transaction Does Not Exist"
        case 486: "Busy Here"
        case 487: "Request Terminated"
        case 488: "Not Acceptable Here"
        case 491: "Request Pending"
        case 500: "Server Internal Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "Version Not Supported"
        case 603: "Decline"
        default: status < 300 ? "OK" : "Error"
        }
    }
}

/// Server transaction state kept by the stack.
final class ServerTransactionState: @unchecked Sendable {
    // Mutated only on the SIPStack actor.
    let isInvite: Bool
    let responseTo: SIPPeer
    var lastResponse: [UInt8]?
    var acknowledged = false

    init(isInvite: Bool, responseTo: SIPPeer) {
        self.isInvite = isInvite
        self.responseTo = responseTo
    }
}

/// A request received, and the means to answer it.
public struct SIPServerTransaction: Sendable {
    let stack: SIPStack
    let key: String
    public let request: SIPMessage
    public let source: SIPPeer

    public func respond(_ response: SIPMessage) async { await stack.respond(response, key: key) }

    public func respond(status: Int, reason: String? = nil, toTag: String? = nil, headers: [(String, String)] = [], body: [UInt8] = [],
                        contentType: String? = nil) async {
        var r = SIPStack.response(to: request, status: status, reason: reason, toTag: toTag)
        for (n, v) in headers { r.add(n, v) }
        if !body.isEmpty, let contentType { r.add("Content-Type", contentType) }
        r.body = body
        await respond(r)
    }
}

/// A client transaction's state, shared between the stack and the waiting request.
actor ClientTransaction {
    nonisolated let request: SIPMessage
    nonisolated let peer: SIPPeer
    nonisolated let isInvite: Bool
    nonisolated let responses: AsyncStream<SIPMessage>
    private let continuation: AsyncStream<SIPMessage>.Continuation
    private let sender: any SIPMessageSender
    private(set) var proceeding = false
    private var ackBytes: [UInt8]?
    private var finished = false

    init(request: SIPMessage, peer: SIPPeer, isInvite: Bool, sender: any SIPMessageSender) {
        self.request = request
        self.peer = peer
        self.isInvite = isInvite
        self.sender = sender
        (responses, continuation) = AsyncStream<SIPMessage>.makeStream()
    }

    func deliver(_ response: SIPMessage) async {
        if finished {
            // A retransmitted final after we answered it: re-ACK (timer D).
            if let ackBytes, (response.status ?? 0) >= 300 { try? await sender.send(ackBytes, to: peer) }
            return
        }
        continuation.yield(response)
    }

    func markProceeding() { proceeding = true }
    func setAck(_ bytes: [UInt8]) { ackBytes = bytes }

    func finish() {
        finished = true
        continuation.finish()
    }
}

