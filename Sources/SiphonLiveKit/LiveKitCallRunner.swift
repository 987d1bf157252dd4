import Foundation
import Synchronization
import Logging
import SiphonCluster
import SiphonCore

/// The `livekit` transport: LiveKit SIP places the call into a room of its own; the worker creates
/// the room, dials with CreateSIPParticipant, follows `sip.callStatus`, and hangs up by deleting
/// the room. The call leg lives in LiveKit, not in the worker, so a worker that dies loses nothing
/// of the line: the next one re-attaches to the room.
public struct LiveKitCallRunner: CallRunner {
    public struct Configuration: Sendable {
        /// The workers' default trunk (`SIP_TRUNK_*`), provisioned in LiveKit on first use.
        public var defaultTrunk: TrunkSpec?
        /// An outbound trunk that already exists in LiveKit (`LIVEKIT_SIP_TRUNK_ID`); used when the
        /// job names no trunk of its own.
        public var trunkID: String?
        /// Opens inline trunk passwords sealed by the dispatcher.
        public var secretBox: SecretBox?
        /// The WebSocket URL agents join rooms at (defaults to `LIVEKIT_URL`).
        public var roomURL: String
        /// How often the worker looks at the phone participant while it dials (to see it ring).
        public var pollInterval: Duration = .milliseconds(250)
        /// How often during the call: a hang-up is noticed within this, at one ListParticipants per
        /// call per interval against LiveKit (the room media connection will bring the event itself).
        public var watchInterval: Duration = .seconds(1)

        public init(roomURL: String, defaultTrunk: TrunkSpec? = nil, trunkID: String? = nil, secretBox: SecretBox? = nil) {
            (self.roomURL, self.defaultTrunk, self.trunkID, self.secretBox) = (roomURL, defaultTrunk, trunkID, secretBox)
        }
    }

    let api: LiveKitAPI
    let trunks: OutboundTrunkProvisioner
    let configuration: Configuration
    let agent: (any LiveKitRoomAgent)?

    public init(api: LiveKitAPI, trunks: OutboundTrunkProvisioner, configuration: Configuration, agent: (any LiveKitRoomAgent)? = nil) {
        (self.api, self.trunks, self.configuration, self.agent) = (api, trunks, configuration, agent)
    }

    public static func roomName(_ callID: String) -> String { "siphon-\(callID)" }
    public static func phoneIdentity(_ callID: String) -> String { "phone-\(callID)" }

    public func run(_ call: CallContext) async throws -> CallEnd {
        let room = Self.roomName(call.job.id)
        let phone = Self.phoneIdentity(call.job.id)
        let end: CallEnd
        do {
            if call.job.direction == .inbound, let dispatched = call.job.room {
                end = try await answer(call, room: dispatched, phone: call.job.metadata["livekit_phone"] ?? "")
            } else if call.isResume, [.dialing, .ringing, .active].contains(call.statusAtStart) {
                end = try await reattach(call, room: room, phone: phone)
            } else {
                end = try await dial(call, room: room, phone: phone)
            }
        } catch where Task.isCancelled || call.stopRequested {
            await finish(call, room: call.job.room ?? room)
            throw CancellationError()
        }
        let joined = call.job.room ?? room
        if Task.isCancelled || call.stopRequested {
            await finish(call, room: joined)
        } else {
            await hangUp(joined, call)
        }
        return end
    }

    // MARK: outbound

    private func dial(_ call: CallContext, room: String, phone: String) async throws -> CallEnd {
        let trunk: (id: String, setup: OutboundTrunkSetup?)
        do {
            trunk = try await resolveTrunk(call.job)
        } catch let e as SiphonError {
            return CallEnd(.failed, e.message)
        } catch let e as TwirpError {
            return CallEnd(.failed, "LiveKit trunk: \(e)")
        }
        var metadata = JSONWriter()
        metadata.field("siphon_call_id", call.job.id)
        metadata.field("agent", call.job.agent)
        _ = try await api.createRoom(CreateRoomRequest(name: room, emptyTimeout: 60, departureTimeout: 10, maxParticipants: 8, metadata: metadata.finished()))
        try await call.setFields(["livekit_room": room, "livekit_phone": phone, "livekit_trunk_id": trunk.id])
        try await call.transition(.dialing)
        var request = CreateSIPParticipantRequest(sipTrunkId: trunk.id, sipCallTo: call.job.to?.e164 ?? "", roomName: room,
                                                  participantIdentity: phone, sipNumber: call.job.from?.e164)
        request.participantName = "phone"
        request.participantAttributes = ["siphon.call_id": call.job.id]
        request.waitUntilAnswered = true
        request.ringingTimeoutSeconds = Double(call.job.ringTimeout ?? 30)
        request.maxCallDurationSeconds = call.job.maxDuration.map(Double.init)
        request.playDialtone = false
        let dialRequest = request
        // The agent joins the room while the phone rings (once LiveKit has put the phone in it), so
        // it hears the callee from the answer on; joining after the answer lost the first words.
        let answer = AnswerLatch()
        let early = EarlyJoin()
        let agent = self.agent
        let ticket = try self.ticket(call, room: room, phone: phone)
        defer { answer.resolve(false) }
        let outcome = await withTaskGroup(of: DialOutcome?.self) { group -> DialOutcome in
            group.addTask {
                do {
                    return .answered(try await api.createSIPParticipant(dialRequest))
                } catch let e as TwirpError {
                    return .refused(e)
                } catch {
                    return .error(error)
                }
            }
            group.addTask {
                // CreateSIPParticipant answers only at the end; the phone's attributes say when it rings.
                var ringing = false
                while !Task.isCancelled, !ringing {
                    try? await Task.sleep(for: configuration.pollInterval)
                    let participant = (try? await phoneParticipant(room: room, phone: phone)) ?? nil
                    if let agent, participant != nil {
                        early.start { try await agent.converse(call, ticket: ticket, answered: { await answer.wait() }) }
                    }
                    if participant?.sipCallStatus == "ringing" {
                        ringing = true
                        try? await call.transition(.ringing)
                    }
                }
                return nil
            }
            var result = DialOutcome.error(CancellationError())
            while let next = await group.next() {
                if let next {
                    result = next
                    break
                }
            }
            group.cancelAll()
            return result
        }
        let joining = early.task
        switch outcome {
        case .answered(let info):
            try await call.setFields(["livekit_sip_call_id": info.sipCallId ?? ""])
            try await call.transition(.active)
            call.logger.info("LiveKit call answered", metadata: ["livekit.room": "\(room)", "livekit.sip_call_id": "\(info.sipCallId ?? "")",
                                                                 "livekit.agent_joined_before_answer": "\(joining != nil)"])
            guard let joining else { return try await converse(call, room: room, phone: phone, resume: false) }
            answer.resolve(true)
            let end = try await withTaskCancellationHandler { try await joining.value } onCancel: { joining.cancel() }
            return end ?? CallEnd(.ended, "the room closed")
        case .refused(let e):
            answer.resolve(false)
            _ = try? await joining?.value
            if e.code == "not_found", e.sipStatus == nil, let setup = trunk.setup {
                await trunks.invalidate(setup)  // the trunk was deleted behind our back: next call re-creates it
            }
            let (status, reason) = e.callEnd
            return CallEnd(status, reason)
        case .error(let error):
            answer.resolve(false)
            _ = try? await joining?.value
            throw error
        }
    }

    /// The agent's part of a call it joined while the phone rang: started once.
    private final class EarlyJoin: Sendable {
        private let started = Mutex<Task<CallEnd?, any Error>?>(nil)
        func start(_ body: @escaping @Sendable () async throws -> CallEnd?) {
            started.withLock { task in if task == nil { task = Task(operation: body) } }
        }
        var task: Task<CallEnd?, any Error>? { started.withLock { $0 } }
    }

    private enum DialOutcome: Sendable {
        case answered(SIPParticipantInfo)
        case refused(TwirpError)
        case error(any Error)
    }

    /// The job's trunk, the configured trunk id, or the workers' default trunk, in that order.
    func resolveTrunk(_ job: CallJob) async throws -> (id: String, setup: OutboundTrunkSetup?) {
        var spec = job.trunk
        if spec == nil || (spec?.address == nil && spec?.name == "default") {
            if let id = configuration.trunkID { return (id, nil) }
            spec = configuration.defaultTrunk
        }
        guard let spec, let address = spec.address else {
            throw SiphonError(.configuration, "no LiveKit outbound trunk: the job names none; set LIVEKIT_SIP_TRUNK_ID or SIP_TRUNK_ADDRESS")
        }
        guard let number = job.from ?? spec.number else {
            throw SiphonError(.configuration, "a LiveKit trunk needs the caller ID number: set SIP_TRUNK_NUMBER or the job's from")
        }
        var password = spec.password
        if let sealed = spec.passwordSealed {
            guard let box = configuration.secretBox else {
                throw SiphonError(.configuration, "the job's trunk password is sealed but this worker has no SIPHON_SECRET_KEY")
            }
            password = try box.open(sealed)
        }
        let setup = try OutboundTrunkSetup(name: spec.name == "default" ? nil : spec.name, address: address, transport: spec.transport,
                                           number: number, username: spec.username, password: password)
        return (try await trunks.ensure(setup).trunkID, setup)
    }

    // MARK: inbound

    /// A call LiveKit's agent dispatch sent us: the phone is in the room already (answered by
    /// LiveKit SIP); join and talk. A takeover joins the same way, with the history.
    private func answer(_ call: CallContext, room: String, phone: String) async throws -> CallEnd {
        if call.statusAtStart != .active { try await call.transition(.active) }
        try await call.setFields(["livekit_room": room, "livekit_phone": phone])
        return try await converse(call, room: room, phone: phone, resume: call.isResume)
    }

    // MARK: takeover

    /// The room and the SIP leg outlived the worker that dialled: adopt them.
    private func reattach(_ call: CallContext, room: String, phone: String) async throws -> CallEnd {
        let participant: ParticipantInfo?
        do {
            participant = try await phoneParticipant(room: room, phone: phone)
        } catch let e as TwirpError where e.code == "not_found" {
            participant = nil
        }
        guard let participant, participant.state != "DISCONNECTED", participant.sipCallStatus != "hangup" else {
            return call.statusAtStart == .active
                ? CallEnd(.ended, "the phone left the room while no worker held the call")
                : CallEnd(.failed, "the worker placing this call was lost while it was \(call.statusAtStart.rawValue), and LiveKit no longer has the call")
        }
        call.logger.info("re-attached to the LiveKit room", metadata: ["livekit.room": "\(room)", "sip.callStatus": "\(participant.sipCallStatus ?? "")"])
        if participant.sipCallStatus != "active" {
            // Still ringing: wait for the answer the dialling worker no longer can.
            while true {
                try await Task.sleep(for: configuration.pollInterval)
                let now = try await phoneParticipant(room: room, phone: phone)
                guard let now, now.state != "DISCONNECTED" else { return CallEnd(.noAnswer, "the phone stopped ringing") }
                if now.sipCallStatus == "active" { break }
            }
        }
        if call.statusAtStart != .active { try await call.transition(.active) }
        return try await converse(call, room: room, phone: phone, resume: true)
    }

    /// The phone's participant in the room, nil when it is not (or no longer) there.
    private func phoneParticipant(room: String, phone: String) async throws -> ParticipantInfo? {
        try await api.listParticipants(room: room).first { $0.identity == phone }
    }

    // MARK: the call

    /// What the agent joins the call's room with: a token for this room only, as `agent-<call id>`.
    private func ticket(_ call: CallContext, room: String, phone: String) throws -> LiveKitRoomTicket {
        try LiveKitRoomTicket(
            url: configuration.roomURL, room: room,
            token: api.twirp.credentials.token(
                identity: "agent-\(call.job.id)",
                claims: LiveKitClaims(name: call.job.agent, kind: "agent", attributes: ["siphon.call_id": call.job.id],
                                      video: VideoGrant(roomJoin: true, room: room, canPublish: true, canSubscribe: true, canPublishData: true, agent: true)),
                ttl: Double(call.job.maxDuration ?? 86_400) + 600),
            callerIdentity: phone)
    }

    /// Runs the agent in the room (when one is wired) and watches the phone; the first to end ends the call.
    private func converse(_ call: CallContext, room: String, phone: String, resume: Bool) async throws -> CallEnd {
        let ticket = try ticket(call, room: room, phone: phone)
        let agent = self.agent
        return try await withThrowingTaskGroup(of: CallEnd?.self) { group in
            if let agent {
                // The agent hears the phone leave through room events; no polling.
                group.addTask { try await agent.converse(call, ticket: ticket, resume: resume) }
            } else {
                group.addTask { try await watchPhone(room: room, phone: phone) }
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let end = next { return end }
            }
            return CallEnd(.ended, "the room closed")
        }
    }

    /// Returns when the phone has left the room (hung up) or the room is gone.
    private func watchPhone(room: String, phone: String) async throws -> CallEnd {
        var misses = 0
        while true {
            try await Task.sleep(for: configuration.watchInterval)
            let participants: [ParticipantInfo]
            do {
                participants = try await api.listParticipants(room: room)
                misses = 0
            } catch let e as TwirpError where e.code == "not_found" {
                return CallEnd(.ended, "the room was closed")
            } catch let e as TwirpError where e.isTransient {
                misses += 1  // LiveKit restarting: keep the call, the SIP leg is not ours to judge
                if misses > 30 { throw e }
                continue
            }
            guard let p = participants.first(where: { $0.identity == phone }), p.state != "DISCONNECTED", p.sipCallStatus != "hangup" else {
                return CallEnd(.ended, "the phone hung up")
            }
        }
    }

    // MARK: hanging up

    /// After a stop: hang up when the call was canceled; leave the room to the next worker on a
    /// handoff or when fenced.
    private func finish(_ call: CallContext, room: String) async {
        if call.stopReason?.hangsUp == true { await hangUp(room, call) }
    }

    /// Deleting the room removes the phone participant: LiveKit SIP sends the BYE.
    private func hangUp(_ room: String, _ call: CallContext) async {
        let api = self.api
        // Runs outside the (possibly cancelled) caller, so the request is not cancelled with it.
        let result = await Task { () -> (any Error)? in
            do {
                try await api.deleteRoom(room)
                return nil
            } catch let e as TwirpError where e.code == "not_found" {
                return nil
            } catch {
                return error
            }
        }.value
        if let result { call.logger.warning("could not delete the LiveKit room", metadata: ["livekit.room": "\(room)", "error": "\(result)"]) }
    }
}
