import Foundation

/// An INVITE from a trusted trunk, waiting for the application to ring, answer or reject it.
public actor IncomingCall {
    public nonisolated let request: SIPMessage
    public nonisolated let source: SIPPeer
    public nonisolated let trunk: String
    /// The caller's SDP offer (nil for an offerless INVITE: we offer in the 200, the answer is in the ACK).
    public nonisolated let offer: SessionDescription?
    /// The dialled number or user (Request-URI user, percent-decoded).
    public nonisolated let dialled: String
    /// The caller's number or user (From URI user).
    public nonisolated let caller: String
    private let transaction: SIPServerTransaction
    private let agent: SIPUserAgent
    private let toTag = SIPIdentifiers.tag()
    public private(set) var canceled = false
    private var answered = false

    init(transaction: SIPServerTransaction, trunk: String, offer: SessionDescription?, agent: SIPUserAgent) {
        self.transaction = transaction
        request = transaction.request
        source = transaction.source
        self.trunk = trunk
        self.offer = offer
        self.agent = agent
        dialled = transaction.request.requestURI?.user ?? (try? transaction.request.to().uri.user) ?? ""
        caller = (try? transaction.request.from().uri.user) ?? ""
    }

    /// Our Contact in the answers: `sips:` when the INVITE went to a `sips:` URI (its Request-URI,
    /// else its top Record-Route, else its Contact; RFC 3261 12.1.1), as the dialog's later ones are.
    private nonisolated var contact: String {
        let hop = request.values("Record-Route").first.flatMap { try? NameAddress(parsing: $0).uri } ?? (try? request.contacts().first?.uri)
        return agent.contact(source.transport, secure: request.requestURI?.scheme == "sips" || hop?.scheme == "sips")
    }

    public func ring() async {
        guard !canceled, !answered else { return }
        await transaction.respond(status: 180, toTag: toTag, headers: [("Contact", contact)])
    }

    public func reject(status: Int = 486, reason: String? = nil) async {
        guard !canceled, !answered else { return }
        answered = true
        await transaction.respond(status: status, reason: reason, toTag: toTag)
    }

    /// Answers with `answer` (our SDP) and waits for the caller's ACK. Throws if the caller
    /// canceled or never acknowledged.
    public func answer(sdp answer: SessionDescription, media: NegotiatedMedia, sessionID: UInt64) async throws -> SIPCall {
        let (call, _) = try await accept(sdp: answer, media: media, sessionID: sessionID)
        return call
    }

    /// Delayed offer (RFC 3261 13.2.1): the INVITE had no SDP, so the 200 carries `offer` and the
    /// caller's answer comes in the ACK. An ACK without a usable answer ends the call with a BYE
    /// (13.3.1.4): there is no media to talk over.
    public func answer(offering offer: SessionDescription, policy: MediaPolicy) async throws -> SIPCall {
        let (call, ack) = try await accept(sdp: offer, media: nil, sessionID: offer.sessionID)
        let text = String(bytes: ack.body, encoding: .utf8) ?? ""
        let reason: String
        do {
            guard !ack.body.isEmpty else { throw SIPMessageError(488, "the ACK has no SDP") }
            let media = try SDPNegotiator.accept(answer: try SessionDescription(parsing: text), offer: offer, policy: policy)
            await call.answered(media: media, remoteSDP: text)
            return call
        } catch let e as SIPMessageError {
            reason = e.reason
        } catch {
            reason = "\(error)"
        }
        await call.hangup(reason: "no usable answer to our offer")
        throw SIPCallFailure(kind: .rejected, status: 488, reason: "no usable answer in the ACK to our offer: \(reason)")
    }

    private func accept(sdp: SessionDescription, media: NegotiatedMedia?, sessionID: UInt64) async throws -> (SIPCall, SIPMessage) {
        guard !canceled else { throw SIPCallFailure(kind: .canceled, status: 487, reason: "caller canceled") }
        answered = true
        var dialog = SIPDialog(
            callID: request.callID ?? "", localTag: toTag, remoteTag: request.fromTag ?? "", localSeq: 0,
            remoteSeq: request.cseq?.number,
            localURI: (try? request.to())?.description ?? "", remoteURI: (try? request.from()).map { a in var b = a; b.parameters.remove("tag"); return b.description } ?? "",
            remoteTarget: (try? request.contacts().first?.uri.description) ?? request.requestURI?.description ?? "",
            routeSet: request.values("Record-Route"), peer: source, isCaller: false,
            sdpSessionID: sessionID, sdpVersion: sdp.sessionVersion, remoteSDP: offer?.description, localSDP: sdp.description)
        var headers: [(String, String)] = [("Contact", contact)]
        headers += agent.capabilityHeaders()
        for rr in request.values("Record-Route") { headers.append(("Record-Route", rr)) }
        if let requested = request.sessionExpires {
            // The caller refreshes unless it asked us to (RFC 4028 9).
            let timer = SessionExpires(seconds: requested.seconds, refresher: requested.refresher ?? "uac")
            dialog.sessionExpires = timer.seconds
            dialog.weRefresh = timer.refresher == "uas"
            headers.append(("Session-Expires", timer.headerValue))
            headers.append(("Require", "timer"))
        }
        let call = SIPCall(dialog: dialog, media: media, agent: agent, logger: agent.logger)
        await agent.register(call, key: dialog.key)
        guard let ack = await agent.respondReliably(transaction, status: 200, toTag: toTag, headers: headers, body: Array(sdp.description.utf8)) else {
            await call.hangup(reason: "no ACK for the 200 OK")
            throw SIPCallFailure(kind: .unreachable, status: 408, reason: "the caller never acknowledged the answer")
        }
        await call.startSessionTimer()
        return (call, ack)
    }

    func canceledByCaller() async {
        guard !answered else { return }
        canceled = true
        await transaction.respond(status: 487, toTag: toTag)
    }
}
