import Foundation
import Logging
import SiphonAgent
import SiphonAudio
import SiphonCluster
import SiphonCore
import SiphonRTP
import SiphonSIP

/// The `sip` transport: the worker is the SIP user agent towards the trunk and the agent talks
/// over RTP it sends and receives itself.
///
/// Outbound: INVITE (digest as needed) → ringing → answered → conversation → BYE. Inbound: answer
/// the INVITE the service registered. Takeover: the dialog snapshot from the call hash, a
/// re-INVITE with this worker's Contact and media address, and the conversation resumes with its
/// history. A call that was still ringing is not redialled unless the job says so.
public struct SIPCallRunner: CallRunner {
    let service: TelephonyService

    public func run(_ call: CallContext) async throws -> CallEnd {
        guard let agent = service.agents[call.job.agent] else {
            return CallEnd(.failed, "agent '\(call.job.agent)' is not served by this worker")
        }
        var tuned = agent
        if let max = call.job.maxDuration { tuned.turn.maxCallDuration = Double(max) }
        if call.isResume, [.active].contains(call.statusAtStart) {
            return try await resume(call, agent: tuned)
        }
        if call.isResume, [.dialing, .ringing].contains(call.statusAtStart), !call.job.retryDial {
            return CallEnd(.failed, "the worker placing this call was lost while it was \(call.statusAtStart.rawValue); not redialled (retry_dial is off)")
        }
        switch call.job.direction {
        case .inbound: return try await answer(call, agent: tuned)
        case .outbound: return try await dial(call, agent: tuned)
        }
    }

    // MARK: outbound

    private func dial(_ call: CallContext, agent: Agent) async throws -> CallEnd {
        guard let to = call.job.to else { return CallEnd(.failed, "an outbound SIP call needs 'to'") }
        let trunk: TelephonyService.ResolvedTrunk
        do {
            trunk = try service.resolveTrunk(call.job.trunk)
        } catch let e as SiphonError {
            return CallEnd(.failed, e.message)
        }
        let media = service.rtpSession()
        defer { media.stop() }
        let port = try await media.open()
        let policy = service.policy(overTLS: trunk.peer.transport == .tls)
        let offer = service.offer(port: port, policy: policy)
        // Synthesised while it rings, at the rate of the codec offered first (what most answers pick).
        agent.warmGreeting(rate: TelephonyService.pipelineRate(for: service.configuration.policy.codecs.first))
        let from = call.job.from ?? trunk.number
        let fromUser = from?.e164 ?? (trunk.credentials?.username ?? "siphon")
        try await call.transition(.dialing)
        let outbound = OutboundCall(
            target: trunk.uri(user: to.e164),
            from: NameAddress(uri: SIPURI(user: fromUser, host: trunk.host)), peer: trunk.peer, credentials: trunk.credentials,
            offer: offer, policy: policy, ringTimeout: .seconds(call.job.ringTimeout ?? 30))
        let sipCall: SIPCall
        do {
            sipCall = try await service.ua.invite(outbound) { progress in
                switch progress {
                case .ringing: try? await call.transition(.ringing)
                case .earlyMedia(let m):
                    try? await call.transition(.ringing)
                    try? media.configure(TelephonyService.parameters(m))
                }
            }
        } catch let f as SIPCallFailure {
            let status: CallStatus = switch f.kind {
            case .busy: .busy
            case .noAnswer, .canceled: .noAnswer
            case .rejected, .authentication: .rejected
            case .unreachable: .failed
            }
            return CallEnd(status, f.description)
        } catch let e as SIPMessageError {
            return CallEnd(e.status == 408 ? .noAnswer : .failed, "SIP: \(e)")
        }
        guard let negotiated = await sipCall.media else { return CallEnd(.failed, "answered without usable media") }
        try media.configure(TelephonyService.parameters(negotiated))
        try await call.transition(.active)
        try await saveDialog(sipCall, call)
        return try await converse(call, agent: agent, sipCall: sipCall, media: media, port: port, policy: policy, trunkHost: trunk.host, resume: false)
    }

    // MARK: inbound

    private func answer(_ call: CallContext, agent: Agent) async throws -> CallEnd {
        guard let pending = service.takeIncoming(call.job.id) else {
            return CallEnd(.failed, "the inbound INVITE is not on this worker any more")
        }
        defer { pending.resolved.finish() }
        let incoming = pending.call
        let media = service.rtpSession()
        defer { media.stop() }
        let port = try await media.open()
        let sessionID = UInt64.random(in: 1...(1 << 40))
        // Over TLS our own offer (a delayed offer) is SRTP; an offer that comes is answered in kind
        // (an SRTP one with SRTP, a plain one plainly unless SIP_SRTP=required).
        let ours = service.policy(overTLS: incoming.source.transport == .tls)
        let policy = incoming.offer == nil || service.configuration.srtp == .required ? ours : service.configuration.policy
        let sipCall: SIPCall
        do {
            if let offer = incoming.offer {
                let answer: SessionDescription
                let negotiated: NegotiatedMedia
                do {
                    (answer, negotiated) = try SDPNegotiator.answer(offer, policy: policy, address: service.configuration.advertisedHost,
                                                                     port: port, sessionID: sessionID, version: 1)
                } catch let e as SIPMessageError {
                    await incoming.reject(status: e.status)
                    return CallEnd(.rejected, "the offer was refused (\(e.status)): \(e.reason)")
                }
                try media.configure(TelephonyService.parameters(negotiated))
                sipCall = try await incoming.answer(sdp: answer, media: negotiated, sessionID: sessionID)
            } else {
                // Delayed offer (PBXs and SBCs that send INVITE without SDP): we offer in the 200,
                // and media starts once the ACK has brought the answer.
                sipCall = try await incoming.answer(offering: service.offer(port: port, policy: policy, sessionID: sessionID), policy: policy)
                guard let negotiated = await sipCall.media else { return CallEnd(.failed, "answered without usable media") }
                try media.configure(TelephonyService.parameters(negotiated))
            }
        } catch let f as SIPCallFailure {
            return CallEnd(f.kind == .canceled ? .canceled : .failed, f.description)
        }
        pending.resolved.finish()
        try await call.transition(.active)
        try await saveDialog(sipCall, call)
        return try await converse(call, agent: agent, sipCall: sipCall, media: media, port: port, policy: policy, trunkHost: incoming.source.host, resume: false)
    }

    // MARK: takeover

    private func resume(_ call: CallContext, agent: Agent) async throws -> CallEnd {
        guard let json = try await call.fields(["sip_dialog"])["sip_dialog"], let dialog = try? SIPDialog.decode(json) else {
            return CallEnd(.failed, "no SIP dialog saved for this call; it cannot be taken over")
        }
        let media = service.rtpSession()
        defer { media.stop() }
        let port = try await media.open()
        // An SRTP call stays SRTP, with new keys (the saved dialog holds none).
        var policy = service.configuration.policy
        policy.srtp = dialog.localSDP.flatMap { try? SessionDescription(parsing: $0) }?.media.first { $0.type == "audio" }?.isSDESSRTP == true
        let offer = service.offer(port: port, policy: policy, sessionID: dialog.sdpSessionID, version: dialog.sdpVersion + 1)
        let credentials = try? service.resolveTrunk(call.job.trunk).credentials
        let sipCall: SIPCall
        let negotiated: NegotiatedMedia
        do {
            (sipCall, negotiated) = try await service.ua.resume(dialog, offer: offer, policy: policy, credentials: credentials ?? nil)
        } catch {
            return CallEnd(.ended, "the call leg was gone when this worker took over: \(error)")
        }
        try media.configure(TelephonyService.parameters(negotiated))
        try await saveDialog(sipCall, call)
        call.logger.info("SIP dialog taken over", metadata: ["sip.call_id": "\(dialog.callID)"])
        return try await converse(call, agent: agent, sipCall: sipCall, media: media, port: port, policy: policy, trunkHost: dialog.peer.host, resume: true)
    }

    // MARK: the conversation over RTP

    private func converse(_ call: CallContext, agent: Agent, sipCall: SIPCall, media: RTPSession, port: Int, policy: MediaPolicy, trunkHost: String,
                          resume: Bool) async throws -> CallEnd {
        let service = self.service
        // Narrowband calls run the whole pipeline at the line's 8 kHz (see TelephonyService.pipelineRate(for:)).
        try media.setPipelineRate(TelephonyService.pipelineRate(for: await sipCall.media?.codec))
        let pipelineRate = media.pipelineRate
        await sipCall.setOfferHandler { offer in
            let (answer, negotiated) = try SDPNegotiator.answer(offer, policy: policy, address: service.configuration.advertisedHost, port: port,
                                                                 sessionID: UInt64.random(in: 1...(1 << 40)), version: 2)
            try media.configure(TelephonyService.parameters(negotiated))
            return (answer, negotiated)
        }
        await sipCall.setAnswerHandler { answer, offer in
            let negotiated = try SDPNegotiator.accept(answer: answer, offer: offer, policy: policy)
            try media.configure(TelephonyService.parameters(negotiated))
            return negotiated
        }
        if let dir = service.configuration.recordingsDirectory {
            // The directory is created at start-up (Siphon.services); the file is created and
            // written off the media clock.
            media.record(to: CallRecordingFile.path(in: dir, for: call), onFailure: CallRecordingFile.onFailure(call.logger))
        }
        let audio = RTPCallAudio(session: media, call: sipCall, trunkHost: trunkHost)
        let conversation = Conversation(agent: agent, audio: audio, store: ClusterConversationStore(call: call),
                                        pipelineRate: pipelineRate, answerDetection: call.answerDetection(agent), logger: call.logger)
        let (digits, digitSink) = AsyncStream<Character>.makeStream()
        let remoteEnd = RemoteEnd()
        let outcome = await withTaskGroup(of: Conversation.Outcome?.self) { group in
            group.addTask { await media.run(); return nil }
            group.addTask {
                for await d in media.dtmf { digitSink.yield(d) }
                return nil
            }
            group.addTask {
                for await event in sipCall.events {
                    switch event {
                    case .ended(let remote, let reason):
                        if remote { await remoteEnd.set(reason) }
                        media.stop()  // ends the conversation's frame stream
                    case .dtmf(let d): digitSink.yield(d)
                    case .mediaChanged(let m):
                        // Hold, unhold, a new address or codec: what the far end asked, for the record.
                        try? await call.record(event: "media_changed", detail: "\(m.codec.name) \(m.direction.rawValue) \(m.remoteHost):\(m.remotePort)")
                        try? await saveDialog(sipCall, call)
                    case .transferProgress: break
                    }
                }
                return nil
            }
            group.addTask { await conversation.run(frames: media.incoming, dtmf: digits, resume: resume) }
            var result: Conversation.Outcome?
            while let next = await group.next() {
                if let next {
                    result = next
                    break
                }
            }
            media.stop()
            digitSink.finish()
            group.cancelAll()
            return result
        }
        let stats = media.statistics
        await call.setClosingContext([
            "rtp.packets_sent": String(stats.packetsSent), "rtp.packets_received": String(stats.packetsReceived),
            "rtp.lost": String(stats.jitter.lost), "rtp.frames_dropped": String(stats.framesDropped), "rtp.jitter_ms": String(format: "%.1f", stats.jitter.jitter / 8),
            "rtp.barge_in_reaction_frames": stats.flushReactionFrames.map(String.init).joined(separator: ","),
        ])
        if let reason = await remoteEnd.reason { return CallEnd(.ended, reason) }
        if let stop = call.stopReason, !stop.hangsUp {
            // Fenced, handed off or silenced: the dialog is (or may be) another worker's now. No BYE.
            await sipCall.abandon(reason: "\(stop)")
            throw CancellationError()
        }
        if await !sipCall.isEnded { await sipCall.hangup(reason: outcome?.reason ?? "hangup") }
        guard let o = outcome else { return CallEnd(.ended, "the line closed") }
        return CallEnd(o.status.isTerminal ? o.status : .ended, o.reason)
    }

    private func saveDialog(_ sipCall: SIPCall, _ call: CallContext) async throws {
        let dialog = await sipCall.snapshot()
        try await call.setFields(["sip_dialog": dialog.json(), "sip_call_id": dialog.callID])
    }
}

/// Set when the far end hung up.
actor RemoteEnd {
    private(set) var reason: String?
    func set(_ r: String) { if reason == nil { reason = r } }
}
