import Foundation
import Logging

public struct SIPUserAgentConfiguration: Sendable {
    /// The address put in Via, Contact and SDP (the worker's reachable IP).
    public var advertisedHost: String
    public var userAgent = "Siphon/0.1"
    /// User part of our Contact.
    public var contactUser = "siphon"
    /// Who may call in. With no trunk configured every inbound INVITE is refused (never an open door).
    public var inboundTrunks: [InboundTrunk] = []
    /// Session-Expires we ask for on outbound calls (RFC 4028), nil for none.
    public var sessionExpires: Int? = 1800

    public init(advertisedHost: String) { self.advertisedHost = advertisedHost }
}

/// A trunk allowed to send us calls: by source address, by digest credentials, or both.
public struct InboundTrunk: Sendable, Equatable {
    public var name: String
    /// IPv4 addresses or CIDR blocks (e.g. `203.0.113.0/24`).
    public var allowedAddresses: [String]
    /// When set, callers must authenticate (401 challenge) even from an allowed address.
    public var credentials: DigestCredentials?
    public var realm: String

    public init(name: String, allowedAddresses: [String] = [], credentials: DigestCredentials? = nil, realm: String = "siphon") {
        (self.name, self.allowedAddresses, self.credentials, self.realm) = (name, allowedAddresses, credentials, realm)
    }

    /// The trunk of calls from a registrar we hold a binding at (`SIPUserAgent.register`).
    public static let registrationName = "registration"

    func allows(_ host: String) -> Bool {
        allowedAddresses.contains { CIDR.contains($0, host) }
    }
}

/// Why an outbound call did not connect.
public struct SIPCallFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case busy, noAnswer = "no_answer", rejected, unreachable, canceled, authentication
    }

    public var kind: Kind
    public var status: Int?
    public var reason: String

    public var description: String { "\(kind.rawValue)\(status.map { " (\($0))" } ?? ""): \(reason)" }

    /// RFC 3261 status → call outcome.
    static func from(status: Int, reason: String) -> SIPCallFailure {
        let kind: Kind = switch status {
        case 486, 600: .busy
        case 408, 480: .noAnswer
        case 487: .canceled
        case 401, 407: .authentication
        case 500..<600: status == 503 ? .unreachable : .rejected
        default: .rejected
        }
        return SIPCallFailure(kind: kind, status: status, reason: reason)
    }
}

/// An outbound INVITE.
public struct OutboundCall: Sendable {
    public var target: SIPURI
    public var from: NameAddress
    /// The trunk or proxy the INVITE goes to (and, like an outbound proxy, every request of the dialog).
    public var peer: SIPPeer
    public var credentials: DigestCredentials?
    public var offer: SessionDescription
    public var policy: MediaPolicy
    public var ringTimeout: Duration
    public var headers: [(String, String)]

    public init(target: SIPURI, from: NameAddress, peer: SIPPeer, credentials: DigestCredentials? = nil, offer: SessionDescription,
                policy: MediaPolicy = MediaPolicy(), ringTimeout: Duration = .seconds(30), headers: [(String, String)] = []) {
        (self.target, self.from, self.peer, self.credentials, self.offer) = (target, from, peer, credentials, offer)
        (self.policy, self.ringTimeout, self.headers) = (policy, ringTimeout, headers)
    }
}

public enum CallProgress: Sendable, Equatable {
    case ringing
    /// 183 or 180 with SDP: the network plays audio before the answer.
    case earlyMedia(NegotiatedMedia)
}

/// The SIP user agent: outbound calls through trunks, inbound calls from trusted trunks, and every
/// in-dialog request of those calls. Uses `SIPStack` for transactions.
public actor SIPUserAgent {
    public nonisolated let configuration: SIPUserAgentConfiguration
    public nonisolated let stack: SIPStack
    let transport: SIPTransport?
    nonisolated let logger: Logger
    private var calls: [SIPDialogKey: SIPCall] = [:]
    private var pendingInvites: [String: IncomingCall] = [:]
    private var ackCache: [String: ([UInt8], SIPPeer)] = [:]
    /// 2xx answers to INVITEs waiting for their ACK, by Call-ID and CSeq. Entered before the 2xx
    /// is sent: the send suspends this actor, and an ACK handled meanwhile must not be lost (it was,
    /// under load: the answer then waited for the 2xx resent 500 ms later).
    private var awaitingAck: [String: AckWait] = [:]
    private enum AckWait {
        case expected
        case arrived(SIPMessage)
        case waiting(CheckedContinuation<SIPMessage?, Never>)
    }
    private var dialogCredentials: [String: DigestCredentials] = [:]
    private var incomingHandler: (@Sendable (IncomingCall) async -> Void)?
    private let nonces = NonceIssuer()
    private nonisolated let localPorts: [SIPTransportKind: Int]

    /// - Parameters:
    ///   - sender: the transport; for tests, anything that records what is sent.
    ///   - localPorts: the ports Via and Contact advertise per transport.
    public init(configuration: SIPUserAgentConfiguration, transport: SIPTransport, timers: SIPTimers = SIPTimers(),
                logger: Logger = Logger(label: "siphon.sip")) {
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
        stack = SIPStack(sender: transport, timers: timers, logger: logger)
        localPorts = [.udp: transport.udpPort, .tcp: transport.tcpPort, .tls: transport.tlsPort]
    }

    public init(configuration: SIPUserAgentConfiguration, sender: any SIPMessageSender, localPorts: [SIPTransportKind: Int],
                timers: SIPTimers = SIPTimers(), logger: Logger = Logger(label: "siphon.sip")) {
        self.configuration = configuration
        transport = nil
        self.logger = logger
        stack = SIPStack(sender: sender, timers: timers, logger: logger)
        self.localPorts = localPorts
    }

    /// Wires the stack to this agent; `run` consumes the transport until it stops.
    public func attach() async {
        await stack.setHandlers(
            requests: { [weak self] txn in await self?.handleRequest(txn) },
            acks: { [weak self] ack, peer in await self?.handleAck(ack, from: peer) },
            responses: { [weak self] response, peer in await self?.handleStrayResponse(response, from: peer) })
    }

    public func run() async {
        await attach()
        guard let transport else { return }
        await stack.run(transport.inbound)
    }

    public func onIncomingCall(_ handler: @escaping @Sendable (IncomingCall) async -> Void) { incomingHandler = handler }

    public var activeCalls: Int { calls.count }

    // MARK: addressing

    /// The port we listen on for `transport`; nil without a listener (an outbound-only TLS
    /// connection): Via and Contact then leave it out, and responses come back on the connection.
    private nonisolated func listeningPort(_ transport: SIPTransportKind) -> Int? {
        localPorts[transport].flatMap { $0 > 0 ? $0 : nil }
    }

    nonisolated func via(_ transport: SIPTransportKind) -> ViaHeader {
        var v = ViaHeader(transport: transport.rawValue, host: configuration.advertisedHost, port: listeningPort(transport), branch: SIPIdentifiers.branch())
        v.parameters["rport"] = nil
        return v
    }

    /// Our Contact for `transport`; `secure` (over TLS only) gives the `sips:` URI RFC 3261 8.1.1.8
    /// and 12.1.1 ask for in a dialog whose requests go to `sips:` URIs (it implies TLS, so no
    /// transport parameter).
    public nonisolated func contact(_ transport: SIPTransportKind = .udp, secure: Bool = false) -> String {
        let port = listeningPort(transport).map { ":\($0)" } ?? ""
        let host = SIPURI(host: configuration.advertisedHost).hostPort
        if secure, transport == .tls { return "<sips:\(configuration.contactUser)@\(host)\(port)>" }
        let params = transport.uriParameter.map { ";transport=\($0)" } ?? ""
        return "<sip:\(configuration.contactUser)@\(host)\(port)\(params)>"
    }

    /// Our Contact in a dialog's requests and answers: its transport, `sips:` in a SIPS dialog.
    public nonisolated func contact(for dialog: SIPDialog) -> String {
        contact(dialog.peer.transport, secure: dialog.isSecure)
    }

    public nonisolated func capabilityHeaders() -> [(String, String)] {
        [("Allow", SIPValidation.supportedMethods.joined(separator: ", ")), ("Accept", "application/sdp"),
         ("Supported", "timer, replaces")]
    }

    // MARK: probes and registration

    /// OPTIONS (out of dialog): the trunk's reachability and what it supports.
    public func options(target: SIPURI, peer: SIPPeer) async throws -> SIPMessage {
        var m = outOfDialog("OPTIONS", uri: target, to: NameAddress(uri: target), from: NameAddress(uri: SIPURI(user: configuration.contactUser, host: configuration.advertisedHost)), peer: peer)
        m.add("Accept", "application/sdp")
        return try await stack.request(m, to: peer)
    }

    /// REGISTER with digest if challenged, once (a probe). Returns the granted expiry (seconds).
    public func register(registrar: SIPURI, aor: SIPURI, peer: SIPPeer, credentials: DigestCredentials?, expires: Int = 3600) async throws -> Int {
        var registration = SIPRegistration(registrar: registrar, aor: aor, peer: peer, credentials: credentials)
        return try await register(&registration, expires: expires)
    }

    /// Registers, refreshes or (`expires` 0) removes `registration`'s binding of our Contact:
    /// answers digest challenges with its credentials, and a 423 (interval too brief) by asking
    /// again for the registrar's Min-Expires. Returns the expiry granted to our Contact (seconds).
    /// Calls from the registrar's address are let in while a binding stands (`admit`): the
    /// registrar sends them to our Contact.
    public func register(_ registration: inout SIPRegistration, expires: Int) async throws -> Int {
        var asked = expires
        var authorization: (String, String)?
        var challenges = 0
        var tooBrief = false
        while true {
            registration.cseq += 1
            var m = SIPMessage(startLine: .request(method: "REGISTER", uri: registration.registrar.description))
            m.add("Via", via(registration.peer.transport).description)
            m.add("Max-Forwards", "70")
            m.add("From", "<\(registration.aor)>;tag=\(registration.fromTag)")
            m.add("To", "<\(registration.aor)>")
            m.add("Call-ID", registration.callID)
            m.add("CSeq", "\(registration.cseq) REGISTER")
            let ours = contact(registration.peer.transport)
            m.add("Contact", ours)
            m.add("Expires", String(asked))
            m.add("User-Agent", configuration.userAgent)
            if let authorization { m.add(authorization.0, authorization.1) }
            let response = try await stack.request(m, to: registration.peer)
            let status = response.status ?? 500
            switch status {
            case 200..<300:
                let mine = (try? NameAddress(parsing: ours).uri) ?? SIPURI(host: configuration.advertisedHost)
                let granted = RegistrarReply.granted(response, ours: mine, asked: asked)
                await trustRegistrar(registration, bound: granted > 0)
                return granted
            case 401, 407:
                // (A `where` would bind to 407 alone.) Three challenges in a row: the credentials are wrong.
                guard let credentials = registration.credentials, challenges < 3 else {
                    throw SIPMessageError(status, "REGISTER refused: \(status) \(response.reason ?? "")")
                }
                authorization = try authorize(response, credentials: credentials, method: "REGISTER", uri: registration.registrar.description)
                challenges += 1
            case 423 where !tooBrief:
                guard let minimum = RegistrarReply.minimumExpires(response), minimum > asked else {
                    throw SIPMessageError(423, "REGISTER refused: 423 interval too brief, and no usable Min-Expires")
                }
                asked = minimum
                tooBrief = true
            default:
                throw SIPMessageError(status, "REGISTER refused: \(status) \(response.reason ?? "")")
            }
        }
    }

    /// Registrars we hold a binding at, by the binding's Call-ID: the address their calls come from.
    private var registrars: [String: String] = [:]

    private func trustRegistrar(_ registration: SIPRegistration, bound: Bool) async {
        guard bound else {
            registrars[registration.callID] = nil
            return
        }
        if let ip = try? await NameResolver.shared.resolve(registration.peer.host, port: registration.peer.port).ipAddress {
            registrars[registration.callID] = ip
        }
    }

    private func outOfDialog(_ method: String, uri: SIPURI, to: NameAddress, from: NameAddress, peer: SIPPeer) -> SIPMessage {
        var m = SIPMessage(startLine: .request(method: method, uri: uri.description))
        m.add("Via", via(peer.transport).description)
        m.add("Max-Forwards", "70")
        var f = from
        f.tag = SIPIdentifiers.tag()
        m.add("From", f.description)
        m.add("To", to.description)
        m.add("Call-ID", SIPIdentifiers.callID(host: configuration.advertisedHost))
        m.add("CSeq", "1 \(method)")
        m.add("Contact", contact(peer.transport))
        m.add("User-Agent", configuration.userAgent)
        return m
    }

    /// The Authorization (401) or Proxy-Authorization (407) header answering a challenge. Prefers
    /// SHA-256 when the server offers several algorithms.
    func authorize(_ response: SIPMessage, credentials: DigestCredentials, method: String, uri: String) throws -> (String, String) {
        let proxy = response.status == 407
        let challenges = response.headers.filter { $0.name == (proxy ? "Proxy-Authenticate" : "WWW-Authenticate") }
            .compactMap { try? DigestChallenge(parsing: $0.value) }.filter(\.isSupported)
        guard let challenge = challenges.first(where: { $0.algorithm.uppercased().hasPrefix("SHA-256") }) ?? challenges.first else {
            throw SIPCallFailure(kind: .authentication, status: response.status, reason: "no supported Digest challenge")
        }
        let value = try DigestAuthentication.authorization(challenge: challenge, credentials: credentials, method: method, uri: uri)
        return (proxy ? "Proxy-Authorization" : "Authorization", value)
    }

    // MARK: outbound calls

    /// Places a call: INVITE (answering digest challenges), provisional responses, early media,
    /// CANCEL on ring timeout, ACK. Returns the established call or throws `SIPCallFailure`.
    public func invite(_ call: OutboundCall, progress: @escaping @Sendable (CallProgress) async -> Void = { _ in }) async throws -> SIPCall {
        let callID = SIPIdentifiers.callID(host: configuration.advertisedHost)
        var from = call.from
        from.tag = SIPIdentifiers.tag()
        let to = NameAddress(uri: call.target)
        var cseq: UInt32 = 1
        var authorization: (String, String)?
        var staleRetries = 0
        var sessionExpires = configuration.sessionExpires
        var minSE: Int?  // what a 422 asked for: sent back as Min-SE (RFC 4028 7.4)
        if let c = call.credentials { dialogCredentials[callID] = c }
        for _ in 0..<4 {
            var invite = SIPMessage(startLine: .request(method: "INVITE", uri: call.target.description))
            invite.add("Via", via(call.peer.transport).description)
            invite.add("Max-Forwards", "70")
            invite.add("From", from.description)
            invite.add("To", to.description)
            invite.add("Call-ID", callID)
            invite.add("CSeq", "\(cseq) INVITE")
            invite.add("Contact", contact(call.peer.transport, secure: call.target.scheme == "sips"))
            invite.add("User-Agent", configuration.userAgent)
            for (n, v) in capabilityHeaders() where n != "Accept" { invite.add(n, v) }
            if let se = sessionExpires { invite.add("Session-Expires", String(se)) }
            if let minSE { invite.add("Min-SE", String(minSE)) }
            for (n, v) in call.headers { invite.add(n, v) }
            if let authorization { invite.add(authorization.0, authorization.1) }
            invite.add("Content-Type", "application/sdp")
            invite.body = Array(call.offer.description.utf8)

            let response = try await sendInvite(invite, call: call, progress: progress)
            let status = response.status ?? 500
            if (200..<300).contains(status) {
                return try await establish(invite: invite, response: response, call: call, callID: callID)
            }
            if (status == 401 || status == 407), let credentials = call.credentials {
                let challenge = response.headers.first { $0.name == (status == 407 ? "Proxy-Authenticate" : "WWW-Authenticate") }
                    .flatMap { try? DigestChallenge(parsing: $0.value) }
                if authorization != nil && !(challenge?.stale ?? false) {
                    throw SIPCallFailure(kind: .authentication, status: status, reason: "credentials refused by the trunk")
                }
                if challenge?.stale == true { staleRetries += 1 }
                guard staleRetries < 2 else { throw SIPCallFailure(kind: .authentication, status: status, reason: "repeated stale nonces") }
                authorization = try authorize(response, credentials: credentials, method: "INVITE", uri: call.target.description)
                cseq += 1
                continue
            }
            // RFC 4028 7.4: the callee wants a longer session interval; ask again with its Min-SE.
            if status == 422, let current = sessionExpires, let asked = response.header("Min-SE").flatMap(SessionExpires.init(parsing:))?.seconds,
               asked > current, asked <= 86_400 {
                (sessionExpires, minSE) = (asked, asked)
                cseq += 1
                continue
            }
            dialogCredentials[callID] = nil
            throw SIPCallFailure.from(status: status, reason: response.reason ?? "")
        }
        throw SIPCallFailure(kind: .authentication, status: nil, reason: "too many authentication rounds")
    }

    /// Sends the INVITE and waits for its final response; CANCELs it when the ring timeout passes.
    private func sendInvite(_ invite: SIPMessage, call: OutboundCall, progress: @escaping @Sendable (CallProgress) async -> Void) async throws -> SIPMessage {
        let provisionalSeen = ProvisionalFlag()
        let policy = call.policy
        let offer = call.offer
        return try await withThrowingTaskGroup(of: SIPMessage?.self) { group in
            group.addTask {
                try await self.stack.request(invite, to: call.peer) { response in
                    await provisionalSeen.set()
                    guard let status = response.status, status > 100 else { return }
                    if let text = String(bytes: response.body, encoding: .utf8), response.contentType == "application/sdp",
                       let sdp = try? SessionDescription(parsing: text), let media = try? SDPNegotiator.accept(answer: sdp, offer: offer, policy: policy) {
                        await progress(.earlyMedia(media))
                    } else if status == 180 {
                        await progress(.ringing)
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: call.ringTimeout)
                // CANCEL only once a provisional response came (RFC 3261 9.1).
                while !(await provisionalSeen.value) { try await Task.sleep(for: .milliseconds(50)) }
                await self.cancel(invite, peer: call.peer)
                return nil
            }
            while let next = try await group.next() {
                if let response = next {
                    group.cancelAll()
                    return response
                }
            }
            throw SIPCallFailure(kind: .noAnswer, status: nil, reason: "no final response")
        }
    }

    private func cancel(_ invite: SIPMessage, peer: SIPPeer) async {
        var cancel = SIPMessage(startLine: invite.startLine)
        cancel.startLine = .request(method: "CANCEL", uri: { if case .request(_, let u) = invite.startLine { return u }; return "" }())
        if let v = invite.values("Via").first { cancel.add("Via", v) }
        for name in ["Route", "From", "To", "Call-ID"] { for h in invite.headers where h.name == name { cancel.add(name, h.value) } }
        cancel.add("CSeq", "\(invite.cseq?.number ?? 1) CANCEL")
        cancel.add("Max-Forwards", "70")
        cancel.add("Reason", "SIP;cause=480;text=\"ring timeout\"")
        logger.info("ring timeout: canceling", metadata: ["sip.call_id": "\(invite.callID ?? "")"])
        _ = try? await stack.request(cancel, to: peer)
    }

    private func establish(invite: SIPMessage, response: SIPMessage, call: OutboundCall, callID: String) async throws -> SIPCall {
        guard let remoteTag = response.toTag, let localTag = invite.fromTag else {
            throw SIPCallFailure(kind: .rejected, status: response.status, reason: "2xx without a To tag")
        }
        let remoteTarget = (try? response.contacts().first?.uri.description) ?? call.target.description
        var dialog = SIPDialog(
            callID: callID, localTag: localTag, remoteTag: remoteTag, localSeq: invite.cseq?.number ?? 1, remoteSeq: nil,
            localURI: (try? invite.from()).map { a in var b = a; b.parameters.remove("tag"); return b.description } ?? "",
            remoteURI: (try? invite.to())?.description ?? "", remoteTarget: remoteTarget,
            routeSet: Array(response.values("Record-Route").reversed()), peer: call.peer, isCaller: true,
            sdpSessionID: call.offer.sessionID, sdpVersion: call.offer.sessionVersion, remoteSDP: String(bytes: response.body, encoding: .utf8),
            localSDP: call.offer.description)
        if let timer = response.sessionExpires {
            dialog.sessionExpires = timer.seconds
            dialog.weRefresh = timer.refresher != "uas"
        }
        try await sendAck(for: response, inviteCSeq: dialog.localSeq, dialog: dialog)
        var media: NegotiatedMedia?
        if let text = String(bytes: response.body, encoding: .utf8), let sdp = try? SessionDescription(parsing: text) {
            media = try? SDPNegotiator.accept(answer: sdp, offer: call.offer, policy: call.policy)
        }
        guard media != nil else {
            let sipCall = SIPCall(dialog: dialog, media: nil, agent: self, logger: logger)
            calls[dialog.key] = sipCall
            await sipCall.hangup(reason: "no usable media in the answer")
            throw SIPCallFailure(kind: .rejected, status: 488, reason: "the answer has no codec we offered")
        }
        let sipCall = SIPCall(dialog: dialog, media: media, agent: self, logger: logger)
        calls[dialog.key] = sipCall
        await sipCall.startSessionTimer()
        logger.info("call answered", metadata: ["sip.call_id": "\(callID)", "sip.codec": "\(media!.codec)"])
        return sipCall
    }

    /// Takes over a dialog another worker started: re-INVITE with our Contact and media address.
    public func resume(_ dialog: SIPDialog, offer: SessionDescription, policy: MediaPolicy, credentials: DigestCredentials? = nil) async throws -> (SIPCall, NegotiatedMedia) {
        var d = dialog
        d.localSeq += 10  // the previous owner may have sent requests after its last snapshot
        if let credentials { dialogCredentials[d.callID] = credentials }
        let call = SIPCall(dialog: d, media: nil, agent: self, logger: logger)
        calls[d.key] = call
        do {
            let media = try await call.reinvite(offer: offer, policy: policy)
            await call.startSessionTimer()
            return (call, media)
        } catch {
            calls[d.key] = nil
            throw error
        }
    }

    // MARK: in-dialog plumbing (used by SIPCall)

    nonisolated func dialogRequest(_ method: String, dialog: inout SIPDialog) -> SIPMessage {
        dialog.request(method, via: via(dialog.peer.transport), contact: contact(for: dialog), userAgent: configuration.userAgent)
    }

    /// Where the dialog's requests go: its peer, or where the far end listens when the peer is a
    /// TCP or TLS connection that is not open here (a caller's that closed, or a dead worker's
    /// after a takeover).
    private nonisolated func nextHop(_ dialog: SIPDialog) -> SIPPeer {
        stack.sender.isConnected(to: dialog.peer) ? dialog.peer : dialog.listeningPeer
    }

    /// Sends an in-dialog request; answers one digest challenge with the call's credentials.
    func sendInDialog(_ request: SIPMessage, dialog: SIPDialog) async throws -> SIPMessage {
        let peer = nextHop(dialog)
        var response = try await stack.request(request, to: peer)
        if let status = response.status, status == 401 || status == 407, let credentials = dialogCredentials[dialog.callID],
           let method = request.method, case .request(_, let uri) = request.startLine {
            var retry = request
            let cseq = (request.cseq?.number ?? 1) + 1
            retry.set("CSeq", "\(cseq) \(method)")
            retry.set("Via", via(dialog.peer.transport).description)
            let auth = try authorize(response, credentials: credentials, method: method, uri: uri)
            retry.add(auth.0, auth.1)
            response = try await stack.request(retry, to: peer)
        }
        return response
    }

    /// ACK for a 2xx (its own request, new branch); kept to answer retransmitted 2xx.
    func sendAck(for response: SIPMessage, inviteCSeq: UInt32, dialog: SIPDialog) async throws {
        var d = dialog
        var ack = d.request("ACK", via: via(dialog.peer.transport), contact: contact(for: dialog), userAgent: configuration.userAgent)
        ack.set("CSeq", "\(inviteCSeq) ACK")
        let bytes = ack.serialized()
        let key = "\(dialog.callID)|\(inviteCSeq)"
        let peer = nextHop(dialog)
        ackCache[key] = (bytes, peer)
        try await stack.sender.send(bytes, to: peer)
        Task {
            try? await Task.sleep(for: .seconds(32))
            await self.dropAck(key)
        }
    }

    private func dropAck(_ key: String) { ackCache[key] = nil }

    private func handleStrayResponse(_ response: SIPMessage, from peer: SIPPeer) async {
        // A retransmitted 2xx to an INVITE we already ACKed: ACK again (RFC 3261 13.2.2.4).
        guard let status = response.status, (200..<300).contains(status), let cseq = response.cseq, cseq.method == "INVITE",
              let callID = response.callID, let (bytes, to) = ackCache["\(callID)|\(cseq.number)"] else { return }
        try? await stack.sender.send(bytes, to: to)
    }

    /// Sends a 2xx to an INVITE and retransmits it until the ACK arrives (RFC 3261 13.3.1.4).
    /// Returns the ACK (it carries the answer when the 2xx made the offer), nil when none came
    /// within 64·T1.
    @discardableResult
    func respondReliably(_ transaction: SIPServerTransaction, status: Int, toTag: String? = nil, headers: [(String, String)], body: [UInt8]) async -> SIPMessage? {
        var response = SIPStack.response(to: transaction.request, status: status, toTag: toTag)
        for (n, v) in headers { response.add(n, v) }
        if !body.isEmpty { response.add("Content-Type", "application/sdp") }
        response.body = body
        let key = "\(transaction.request.callID ?? "")|\(transaction.request.cseq?.number ?? 0)"
        awaitingAck[key] = .expected
        await transaction.respond(response)
        let bytes = response.serialized()
        let destination = stack.responseDestination(for: transaction.request, from: transaction.source)
        let timers = stack.timers
        let sender = stack.sender
        let retransmitter = Task {
            var interval = timers.t1
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                try? await sender.send(bytes, to: destination)
                interval = min(interval * 2, timers.t2)
            }
        }
        let timeout = Task {
            try? await Task.sleep(for: timers.transactionTimeout)
            await self.ackArrived(key, nil)
        }
        let ack: SIPMessage?
        if case .arrived(let early)? = awaitingAck[key] {
            awaitingAck[key] = nil
            ack = early
        } else {
            ack = await withCheckedContinuation { awaitingAck[key] = .waiting($0) }
        }
        retransmitter.cancel()
        timeout.cancel()
        return ack
    }

    /// `ack` nil: the wait timed out.
    private func ackArrived(_ key: String, _ ack: SIPMessage?) {
        switch awaitingAck[key] {
        case .waiting(let continuation)?:
            awaitingAck[key] = nil
            continuation.resume(returning: ack)
        case .expected?:
            if let ack { awaitingAck[key] = .arrived(ack) }
        default:
            break
        }
    }

    private func handleAck(_ ack: SIPMessage, from peer: SIPPeer) async {
        guard let callID = ack.callID, let cseq = ack.cseq else { return }
        ackArrived("\(callID)|\(cseq.number)", ack)
    }

    func forget(_ key: SIPDialogKey) {
        calls[key] = nil
        dialogCredentials[key.callID] = nil
    }

    // MARK: inbound requests

    private static let supportedExtensions: Set<String> = ["timer", "replaces"]

    private func handleRequest(_ transaction: SIPServerTransaction) async {
        let request = transaction.request
        let method = request.method ?? ""
        if method != "ACK" && method != "CANCEL" {
            let unsupported = request.values("Require").filter { !Self.supportedExtensions.contains($0.lowercased()) }
            if !unsupported.isEmpty {
                await transaction.respond(status: 420, headers: [("Unsupported", unsupported.joined(separator: ", "))])
                return
            }
        }
        if case .request(_, let uriText) = request.startLine {
            let scheme = uriText.split(separator: ":").first?.lowercased() ?? ""
            if scheme != "sip" && scheme != "sips" && scheme != "tel" {
                await transaction.respond(status: 416)
                return
            }
        }
        if let toTag = request.toTag, let fromTag = request.fromTag, let callID = request.callID {
            if let call = calls[SIPDialogKey(callID: callID, localTag: toTag, remoteTag: fromTag)] {
                await call.handle(transaction)
            } else {
                await transaction.respond(status: 481)
            }
            return
        }
        switch method {
        case "INVITE":
            await handleInvite(transaction)
        case "CANCEL":
            let key = SIPStack.serverKey(request).replacingOccurrences(of: "|CANCEL", with: "|INVITE")
            if let pending = pendingInvites.removeValue(forKey: key) {
                await transaction.respond(status: 200)
                await pending.canceledByCaller()
            } else {
                await transaction.respond(status: 481)
            }
        case "OPTIONS":
            await transaction.respond(status: 200, headers: capabilityHeaders())
        case "BYE", "UPDATE", "INFO", "PRACK", "NOTIFY":
            await transaction.respond(status: 481)
        default:
            let status = SIPValidation.knownMethods.contains(method) ? 405 : 501
            await transaction.respond(status: status, headers: [("Allow", SIPValidation.supportedMethods.joined(separator: ", "))])
        }
    }

    private func handleInvite(_ transaction: SIPServerTransaction) async {
        let request = transaction.request
        guard let trunk = await admit(transaction) else { return }
        if !request.body.isEmpty && request.contentType != "application/sdp" {
            await transaction.respond(status: 415, headers: [("Accept", "application/sdp")])
            return
        }
        let accept = request.values("Accept").map { $0.lowercased() }
        if !accept.isEmpty && !accept.contains(where: { $0.hasPrefix("application/sdp") || $0.hasPrefix("*/*") || $0.hasPrefix("application/*") }) {
            await transaction.respond(status: 406, headers: [("Accept", "application/sdp")])
            return
        }
        if let timer = request.sessionExpires, timer.seconds < SessionExpires.minimumSeconds {
            // RFC 4028 6: an interval below our Min-SE is refused, never shortened silently.
            await transaction.respond(status: 422, headers: [("Min-SE", String(SessionExpires.minimumSeconds))])
            return
        }
        var offer: SessionDescription?
        if !request.body.isEmpty {
            guard let text = String(bytes: request.body, encoding: .utf8), let sdp = try? SessionDescription(parsing: text) else {
                await transaction.respond(status: 488, reason: "Not Acceptable Here")
                return
            }
            offer = sdp
        }
        guard let handler = incomingHandler else {
            await transaction.respond(status: 480)
            return
        }
        let incoming = IncomingCall(transaction: transaction, trunk: trunk.name, offer: offer, agent: self)
        let key = SIPStack.serverKey(request)
        pendingInvites[key] = incoming
        await handler(incoming)
        pendingInvites[key] = nil
    }

    /// Source allow-list and/or digest. Answers 401/403 itself and returns nil when refused.
    private func admit(_ transaction: SIPServerTransaction) async -> InboundTrunk? {
        let source = transaction.source.host
        let request = transaction.request
        // No registrar, no such trunk: one without addresses would let anyone in.
        let registered = registrars.isEmpty ? [] : [InboundTrunk(name: InboundTrunk.registrationName, allowedAddresses: Array(Set(registrars.values)))]
        for trunk in configuration.inboundTrunks + registered {
            let addressOK = trunk.allowedAddresses.isEmpty || trunk.allows(source)
            guard addressOK else { continue }
            guard let credentials = trunk.credentials else { return trunk }
            if let auth = request.header("Authorization"),
               let nonce = DigestChallenge.fields(String(auth.trimmingLWS().dropFirst(7)))["nonce"], nonces.isValid(nonce),
               DigestAuthentication.verify(authorization: auth, credentials: credentials, method: "INVITE", realm: trunk.realm) {
                return trunk
            }
            let challenge = DigestChallenge(realm: trunk.realm, nonce: nonces.issue(), algorithm: "SHA-256", qop: ["auth"])
            let md5 = DigestChallenge(realm: trunk.realm, nonce: nonces.issue(), algorithm: "MD5", qop: ["auth"])
            await transaction.respond(status: 401, headers: [("WWW-Authenticate", challenge.headerValue), ("WWW-Authenticate", md5.headerValue)])
            return nil
        }
        logger.warning("INVITE from an unknown source refused", metadata: ["sip.peer": "\(transaction.source)"])
        await transaction.respond(status: 403)
        return nil
    }

    func register(_ call: SIPCall, key: SIPDialogKey) { calls[key] = call }
}

/// Set once a provisional response arrives.
actor ProvisionalFlag {
    private(set) var value = false
    func set() { value = true }
}

/// IPv4 CIDR matching for trunk allow-lists (an address without `/` is a /32; IPv6 compares exactly).
public enum CIDR {
    /// An IPv4 address, an IPv4 block `a.b.c.d/n`, or an IPv6 address.
    public static func isValid(_ block: String) -> Bool {
        let parts = block.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 1, block.contains(":") { return block.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        guard (1...2).contains(parts.count), ipv4(String(parts[0])) != nil else { return false }
        return parts.count == 1 || Int(parts[1]).map { (0...32).contains($0) } == true
    }

    static func contains(_ block: String, _ address: String) -> Bool {
        let parts = block.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, parts.count <= 2 else { return false }
        guard let net = ipv4(String(first)), let ip = ipv4(address) else { return block == address }
        guard let bits = parts.count == 2 ? Int(parts[1]) : 32, (0...32).contains(bits) else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        return net & mask == ip & mask
    }

    static func ipv4(_ s: String) -> UInt32? {
        let o = s.split(separator: ".")
        guard o.count == 4 else { return nil }
        var v: UInt32 = 0
        for x in o {
            guard let n = UInt8(x) else { return nil }
            v = v << 8 | UInt32(n)
        }
        return v
    }
}
