import Foundation
import Logging

/// Things that happen to an established call.
public enum SIPCallEvent: Sendable, Equatable {
    /// The call is over: `remote` when the peer hung up (BYE), with a reason.
    case ended(remote: Bool, reason: String)
    /// New media parameters (re-INVITE from the peer: hold, unhold, new address or codec).
    case mediaChanged(NegotiatedMedia)
    /// Progress of a transfer we asked for (REFER), from the NOTIFY sipfrag status line.
    case transferProgress(status: Int)
    /// A DTMF digit received as SIP INFO (application/dtmf-relay).
    case dtmf(Character)
}

/// One established call (a confirmed INVITE dialog): in-dialog requests out, in-dialog requests in,
/// session timers, and the events the media side needs to hear about.
public actor SIPCall {
    public nonisolated let callID: String
    public nonisolated let events: AsyncStream<SIPCallEvent>
    private let eventSink: AsyncStream<SIPCallEvent>.Continuation
    public private(set) var dialog: SIPDialog
    public private(set) var media: NegotiatedMedia?
    public private(set) var isEnded = false
    let agent: SIPUserAgent
    let logger: Logger
    /// Answers a re-INVITE's offer (set by whoever owns the media); nil answers with the current SDP.
    private var offerHandler: (@Sendable (SessionDescription) async throws -> (SessionDescription, NegotiatedMedia))?
    /// Takes the answer an ACK carries after an offerless re-INVITE (we offered in the 200), with
    /// that offer.
    private var answerHandler: (@Sendable (_ answer: SessionDescription, _ offer: SessionDescription) async throws -> NegotiatedMedia)?
    private var sessionTimer: Task<Void, Never>?
    private var lastRefresh = ContinuousClock.now

    init(dialog: SIPDialog, media: NegotiatedMedia?, agent: SIPUserAgent, logger: Logger) {
        callID = dialog.callID
        self.dialog = dialog
        self.media = media
        self.agent = agent
        var logger = logger
        logger[metadataKey: "sip.call_id"] = "\(dialog.callID)"
        self.logger = logger
        (events, eventSink) = AsyncStream<SIPCallEvent>.makeStream()
    }

    public func setOfferHandler(_ handler: @escaping @Sendable (SessionDescription) async throws -> (SessionDescription, NegotiatedMedia)) {
        offerHandler = handler
    }

    public func setAnswerHandler(_ handler: @escaping @Sendable (_ answer: SessionDescription, _ offer: SessionDescription) async throws -> NegotiatedMedia) {
        answerHandler = handler
    }

    /// The answer to the offer our 200 made (delayed offer: it came in the ACK).
    func answered(media: NegotiatedMedia, remoteSDP: String) {
        self.media = media
        dialog.remoteSDP = remoteSDP
    }

    // MARK: requests we send

    /// Hangs up (BYE). Safe to call twice.
    public func hangup(reason: String = "hangup") async {
        guard !isEnded else { return }
        end(remote: false, reason: reason)
        var request = agent.dialogRequest("BYE", dialog: &dialog)
        request.add("Reason", "SIP;cause=200;text=\"\(reason.replacingOccurrences(of: "\"", with: "'"))\"")
        _ = try? await agent.sendInDialog(request, dialog: dialog)
    }

    /// Lets go of the dialog without a BYE: another worker owns the call now (or will, if this
    /// one cannot prove it still does). Stops the session timer, so no refresh or timer BYE goes
    /// out for a dialog someone else carries on.
    public func abandon(reason: String) {
        end(remote: false, reason: "abandoned: \(reason)")
    }

    /// Sends a re-INVITE with a new offer (media change, hold, or takeover by a new worker: the
    /// Contact and SDP then carry this worker's addresses). Returns the negotiated media.
    public func reinvite(offer: SessionDescription, policy: MediaPolicy) async throws -> NegotiatedMedia {
        var request = agent.dialogRequest("INVITE", dialog: &dialog)
        request.add("Content-Type", "application/sdp")
        if let se = dialog.sessionExpires { request.add("Session-Expires", "\(se);refresher=\(dialog.isCaller ? "uac" : "uas")") }
        request.body = Array(offer.description.utf8)
        let response = try await agent.sendInDialog(request, dialog: dialog)
        guard let status = response.status, (200..<300).contains(status) else {
            throw SIPMessageError(response.status ?? 500, "re-INVITE refused: \(response.status ?? 0) \(response.reason ?? "")")
        }
        dialog.refreshTarget(from: response)
        try await agent.sendAck(for: response, inviteCSeq: dialog.localSeq, dialog: dialog)
        guard let sdp = String(bytes: response.body, encoding: .utf8), let answer = try? SessionDescription(parsing: sdp) else {
            throw SIPMessageError(488, "re-INVITE answer has no SDP")
        }
        let negotiated = try SDPNegotiator.accept(answer: answer, offer: offer, policy: policy)
        media = negotiated
        dialog.localSDP = offer.description
        dialog.remoteSDP = sdp
        dialog.sdpVersion = offer.sessionVersion
        lastRefresh = .now
        return negotiated
    }

    /// Blind transfer (RFC 3515/5589): REFER to `target`, follow the NOTIFYs; on success the caller
    /// is connected to the target and we hang up. Returns the final status of the transfer.
    public func transfer(to target: SIPURI, timeout: Duration = .seconds(30)) async throws -> Int {
        var request = agent.dialogRequest("REFER", dialog: &dialog)
        request.add("Refer-To", "<\(target)>")
        request.add("Referred-By", "<\((try? NameAddress(parsing: dialog.localURI))?.uri.description ?? dialog.localURI)>")
        let response = try await agent.sendInDialog(request, dialog: dialog)
        guard let status = response.status, (200..<300).contains(status) else {
            throw SIPMessageError(response.status ?? 500, "REFER refused: \(response.status ?? 0) \(response.reason ?? "")")
        }
        let final = await waitForTransferResult(timeout: timeout)
        if let final, (200..<300).contains(final) { await hangup(reason: "transferred") }
        return final ?? 408
    }

    private var transferWaiters: [CheckedContinuation<Int?, Never>] = []
    private var transferFinal: Int?

    private func waitForTransferResult(timeout: Duration) async -> Int? {
        if let transferFinal { return transferFinal }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.resolveTransfer(nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { transferWaiters.append($0) }
    }

    private func resolveTransfer(_ status: Int?) {
        if let status { transferFinal = status }
        let waiters = transferWaiters
        transferWaiters = []
        for w in waiters { w.resume(returning: status) }
    }

    // MARK: requests we receive

    func handle(_ transaction: SIPServerTransaction) async {
        let request = transaction.request
        let method = request.method ?? ""
        if let cseq = request.cseq?.number {
            if let remote = dialog.remoteSeq, cseq < remote, method != "ACK", method != "CANCEL" {
                await transaction.respond(status: 500, reason: "CSeq Out of Order")
                return
            }
            dialog.remoteSeq = max(dialog.remoteSeq ?? 0, cseq)
        }
        switch method {
        case "BYE":
            await transaction.respond(status: 200)
            end(remote: true, reason: request.header("Reason").map { "BYE (\($0))" } ?? "caller hung up")
        case "INVITE":
            await handleReinvite(transaction)
        case "UPDATE":
            dialog.refreshTarget(from: request)
            lastRefresh = .now
            var headers: [(String, String)] = [("Contact", agent.contact(for: dialog))]
            if let se = dialog.sessionExpires { headers.append(("Session-Expires", "\(se);refresher=\(dialog.weRefresh == dialog.isCaller ? "uac" : "uas")")) }
            await transaction.respond(status: 200, headers: headers)
        case "OPTIONS":
            await transaction.respond(status: 200, headers: agent.capabilityHeaders())
        case "INFO":
            if request.contentType == "application/dtmf-relay", let body = String(bytes: request.body, encoding: .utf8),
               let line = body.split(whereSeparator: \.isNewline).first(where: { $0.lowercased().hasPrefix("signal=") }),
               let digit = line.split(separator: "=").last?.trimmingLWS().first {
                eventSink.yield(.dtmf(digit))
            }
            await transaction.respond(status: 200)
        case "NOTIFY":
            await transaction.respond(status: 200)
            if request.header("Event")?.lowercased().hasPrefix("refer") == true,
               let code = SIPMessage.sipfragStatus(request.body) {
                eventSink.yield(.transferProgress(status: code))
                if code >= 200 { resolveTransfer(code) }
            }
        case "REFER":
            // An agent does not take transfer orders from the far end.
            await transaction.respond(status: 603, reason: "Decline")
        default:
            await transaction.respond(status: 405, headers: [("Allow", SIPValidation.supportedMethods.joined(separator: ", "))])
        }
    }

    private func handleReinvite(_ transaction: SIPServerTransaction) async {
        let request = transaction.request
        dialog.refreshTarget(from: request)
        lastRefresh = .now
        guard !request.body.isEmpty else {
            // Offerless re-INVITE: we offer our current session again, and the answer in the ACK
            // may move the far end's media (third-party call control, RFC 3725).
            let offered = dialog.localSDP
            if let ack = await respondToReinvite(transaction, sdp: offered) { await takeAnswer(in: ack, to: offered) }
            return
        }
        guard request.contentType == "application/sdp", let text = String(bytes: request.body, encoding: .utf8),
              let offer = try? SessionDescription(parsing: text) else {
            await transaction.respond(status: 488, reason: "Not Acceptable Here")
            return
        }
        do {
            guard let offerHandler else { throw SIPMessageError(488, "no media handler") }
            let (answer, negotiated) = try await offerHandler(offer)
            media = negotiated
            dialog.remoteSDP = text
            dialog.localSDP = answer.description
            dialog.sdpVersion = answer.sessionVersion
            await respondToReinvite(transaction, sdp: answer.description)
            eventSink.yield(.mediaChanged(negotiated))
        } catch let e as SIPMessageError {
            await transaction.respond(status: e.status >= 400 ? e.status : 488)
        } catch {
            await transaction.respond(status: 500)
        }
    }

    /// An answer that cannot be used leaves the media as it was: the call goes on, and the error is
    /// logged rather than ending a conversation over a peer's bad SDP.
    private func takeAnswer(in ack: SIPMessage, to offered: String?) async {
        do {
            guard !ack.body.isEmpty else { throw SIPMessageError(488, "no SDP") }
            guard let answerHandler, let offered else { throw SIPMessageError(488, "no media handler") }
            let text = String(decoding: ack.body, as: UTF8.self)
            let negotiated = try await answerHandler(try SessionDescription(parsing: text), try SessionDescription(parsing: offered))
            answered(media: negotiated, remoteSDP: text)
            eventSink.yield(.mediaChanged(negotiated))
        } catch {
            logger.warning("the ACK to our offer has no usable answer; media unchanged", metadata: ["error": "\(error)"])
        }
    }

    @discardableResult
    private func respondToReinvite(_ transaction: SIPServerTransaction, sdp: String?) async -> SIPMessage? {
        var headers: [(String, String)] = [("Contact", agent.contact(for: dialog))]
        headers += agent.capabilityHeaders()
        if let se = dialog.sessionExpires { headers.append(("Session-Expires", "\(se);refresher=\(dialog.weRefresh == dialog.isCaller ? "uac" : "uas")")) }
        return await agent.respondReliably(transaction, status: 200, headers: headers, body: Array((sdp ?? "").utf8))
    }

    // MARK: lifecycle

    func end(remote: Bool, reason: String) {
        guard !isEnded else { return }
        isEnded = true
        sessionTimer?.cancel()
        logger.info("call ended", metadata: ["sip.remote": "\(remote)", "sip.reason": "\(reason)"])
        eventSink.yield(.ended(remote: remote, reason: reason))
        eventSink.finish()
        Task { await agent.forget(dialog.key) }
    }

    /// Session timers (RFC 4028): refresh at half the interval when we are the refresher; when the
    /// peer is, hang up if no refresh arrives before the interval runs out.
    func startSessionTimer() {
        guard let se = dialog.sessionExpires, se > 0 else { return }
        sessionTimer?.cancel()
        sessionTimer = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                if await self.dialog.weRefresh {
                    try? await Task.sleep(for: .seconds(Double(se) / 2))
                    if Task.isCancelled { return }
                    await self.refreshSession()
                } else {
                    try? await Task.sleep(for: .seconds(Double(se) - min(32, Double(se) / 3)))
                    if Task.isCancelled { return }
                    if await self.lastRefresh.duration(to: .now) >= .seconds(Double(se) - min(32, Double(se) / 3)) {
                        await self.hangup(reason: "session timer expired")
                        return
                    }
                }
            }
        }
    }

    private func refreshSession() async {
        var request = agent.dialogRequest("UPDATE", dialog: &dialog)
        if let se = dialog.sessionExpires { request.add("Session-Expires", "\(se);refresher=\(dialog.isCaller ? "uac" : "uas")") }
        if let response = try? await agent.sendInDialog(request, dialog: dialog), let s = response.status {
            if s == 481 || s == 408 { await hangup(reason: "session refresh failed (\(s))") } else { lastRefresh = .now }
        }
    }

    /// The state a new worker needs to take this call over.
    public func snapshot() -> SIPDialog { dialog }
}
