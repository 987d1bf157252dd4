import Foundation
import Logging
import SiphonAudio
import SiphonCore
import Synchronization

/// One call's conversation loop, clocked by the caller's audio: one iteration per 20 ms frame, so
/// every timing rule (endpointing, barge-in, false interruption, silence, duration) counts frames
/// and behaves the same under load and in tests.
///
/// Per frame: VAD (with the echo guard while the agent talks) → STT; barge-in when the caller
/// talks over the agent for `min_interruption` (outbound flushed at once, LLM/TTS cancelled, the
/// agent turn stored as far as it was heard, `interrupted`); endpointing when the caller stops
/// (VAD silence + final transcript, bounded by the endpointing delays); then the response: LLM
/// tokens → sentences → TTS → the paced sender, with tool calls in between. On an outbound call
/// with answering-machine detection, `AnswerGate` holds the first word until it is known who answered.
public final class Conversation: @unchecked Sendable {
    // Accessed from the `run` task only, except `shared` (Mutex) which child tasks write.
    public struct Outcome: Sendable, Equatable {
        public var status: CallStatus
        public var reason: String
        public init(status: CallStatus, reason: String) { (self.status, self.reason) = (status, reason) }
    }

    let agent: Agent
    let audio: any CallAudio
    let store: any ConversationStore
    let logger: Logger
    let pipelineRate: Int
    private let shared = Mutex(Shared())
    private let processed = Atomic<Int>(0)
    private let vad: VoiceActivityDetector
    private let echoGuard = EchoGuard()
    private var writer: TurnWriter!
    private var stt: (any STTStream)?
    private var sttResampler: Resampler?
    private var tick = 0
    private var userSpeaking = false
    private var speechEndTick = 0
    private var speechStartTick = 0
    private var speechEndWallMs: Int64 = 0
    /// Barge-in or backchannel, while the agent talks.
    private var interruption: InterruptionPolicy
    /// When the caller's turn is over.
    private let endpointing: EndpointingPolicy
    /// Frames of the VAD's hang-over: it says speech ended this long after the last voiced frame.
    private let vadHangover: Int
    /// Finals already there when the caller's current speech segment began (its words come after).
    private var segmentFinalsStart = 0
    /// Acknowledgements heard during the response being spoken (stored on its turn).
    private var backchannelsHeard: [String] = []
    /// Finals still to come for words already acted on.
    private var lateFinals = LateFinals()
    private var responseTask: Task<Void, Never>?
    private var response: ResponseState?
    private var falseInterruption: FalseInterruption?
    private var lastActivityTick = 0
    private var silencePrompts = 0
    private var pendingEnd: String?
    private var dtmfBuffer = ""
    private var dtmfTick = 0
    private var outboundPeaks: [Int32] = []
    private var lastSent = 0
    let answerDetection: AMDSettings?
    /// Answering-machine detection, while it holds the agent's first word (outbound calls with `amd`).
    private var gate: AnswerGate?
    /// How far detection has got, as last kept in the call's context.
    private var answerStage: AnswerStage?
    /// The transcript count detection last read the words at (`wordsForGate`).
    private var gateTranscripts = 0
    /// A person decided (since when, in frames): greeted once they are quiet — at once after a
    /// pause, or, decided from their first words while still talking ("Yes, this is Ann…"),
    /// `min_endpointing_delay` after they stop.
    private var greetWhenQuiet: Int?
    /// A voicemail message being left; a callee who talks back meanwhile was a person after all.
    private var message: MessageState?
    private enum MessageState { case playing, played(tick: Int) }
    /// The message's text (spoken again after a late beep), and the watch for one.
    private var messageText = ""
    private var lateBeep: LateBeep?
    /// The callee has started to speak since the message began: transcripts before that are the
    /// greeting's (or its beep's) late finals, not an answer.
    private var spokeDuringMessage = false
    /// After the message, this long of quiet line before the agent hangs up.
    static let messageRecoveryWindow = 2.0

    struct Shared {
        var finals: [String] = []
        var interim = ""
        /// Counts the recogniser's transcripts: detection reads the words only when it moved.
        var transcripts = 0
        var transcriptTick = 0
        var sttFinalWallMs: Int64?
        var plan = ResponsePlan()
        var responseDone = false
        var llmFirstTokenWallMs: Int64?
        var llmRequestWallMs: Int64?
        var ttsRequestWallMs: Int64?
        var ttsFirstAudioWallMs: Int64?
        /// The response's first audio was a line from `agent.phrases`, not the provider's.
        var firstAudioCached = false
        // wire marks of the response being spoken (shared so the response task can store them too)
        var speechEndWallMs: Int64 = 0
        var sttFinalForResponseWallMs: Int64?
        var firstFrameOutWallMs: Int64?
        var endRequested: String?
        var transferTo: String?
        var failure: String?
        var enqueuedPeaks: [Int32] = []
        /// The recogniser has sent an interim result: it streams them.
        var interimsSeen = false
        /// The response's own words have started to go out (a filler may no longer start).
        var contentStarted = false
        var fillerIndex = 0
        /// Filler frames queued before the response's first words (the answer's first frame comes after them).
        var leadingFillerFrames = 0
    }

    /// The agent turn being spoken.
    struct ResponseState {
        var startSent: Int
    }

    /// - Parameter answerDetection: on an outbound call, who answered is decided before the agent
    ///   speaks (`AMDSettings`); nil for inbound calls.
    public init(agent: Agent, audio: any CallAudio, store: any ConversationStore, pipelineRate: Int = 16000,
                answerDetection: AMDSettings? = nil, logger: Logger = Logger(label: "siphon.agent")) {
        self.agent = agent
        self.answerDetection = answerDetection.flatMap { $0.enabled ? $0 : nil }
        self.audio = audio
        self.store = store
        self.pipelineRate = pipelineRate
        self.logger = logger
        vad = VoiceActivityDetector(sampleRate: pipelineRate, configuration: agent.vad)
        interruption = InterruptionPolicy(turn: agent.turn)
        endpointing = EndpointingPolicy(turn: agent.turn)
        vadHangover = max(1, Int((agent.vad.minSilenceDuration * 50).rounded()))
    }

    /// Caller frames handled so far (the conversation's clock).
    public var processedFrames: Int { processed.load(ordering: .acquiring) }

    private func frames(_ seconds: Double) -> Int { max(1, Int((seconds * 50).rounded())) }

    private var agentSpeaking: Bool {
        responseTask != nil || audio.queuedFrames > 0
    }

    // MARK: run

    /// Runs until the call ends (hang-up by either side, end_call, timeouts). `resume`: a takeover —
    /// history comes from the store and is re-injected into the model.
    public func run(frames inbound: AsyncStream<AudioFrame>, dtmf: AsyncStream<Character>? = nil, resume: Bool) async -> Outcome {
        let history = (try? await store.history()) ?? []
        writer = TurnWriter(store: store, history: history)
        if agent.stt.sampleRate != pipelineRate { sttResampler = try? Resampler(from: pipelineRate, to: agent.stt.sampleRate) }
        // The recogniser connects while the caller's frames are already taken (VAD, barge-in,
        // the greeting): a handshake that takes seconds must not leave the caller's first words
        // to overflow the line's buffer. Its audio waits in `preroll` until it is open.
        let opening = Task { [agent] in
            let result: Result<any STTStream, any Error>
            do { result = .success(try await agent.stt.open()) } catch { result = .failure(error) }
            self.recogniser.withLock { $0 = result }
        }
        try? await store.setContext(["agent": agent.name, "stt": agent.stt.name, "llm": agent.llm.name, "tts": agent.tts.name])
        let digits = Task {
            guard let dtmf else { return }
            for await d in dtmf { self.pendingDigits.withLock { $0.append(d) } }
        }
        defer {
            opening.cancel()
            transcriptReader?.cancel()
            digits.cancel()
            responseTask?.cancel()
        }
        if resume {
            logger.info("resuming conversation", metadata: ["agent.history_turns": "\(history.count)"])
            if let outcome = await resumeAnswerDetection(nothingSaid: history.isEmpty) {
                await closeRecogniser(opening)
                return outcome
            }
            if gate == nil, message == nil {  // no detection going on: an ordinary resume
                if history.isEmpty {
                    // Lost before a word was said or stored (a greeting is stored once played): the
                    // callee has heard nothing whole, so the call opens as it would have.
                    open()
                } else if history.last?.role == .user {
                    // The caller spoke and the lost worker never answered: answer now, after the bridging line.
                    startResponse(history: true, prelude: agent.resumeLine)
                } else if let line = agent.resumeLine {
                    startResponse(speaking: line, persistAs: .agent)
                }
            }
        } else if let settings = answerDetection {
            gate = AnswerGate(settings: settings, sampleRate: pipelineRate)
            // Synthesised while detection listens: a person is greeted without a TTS round trip.
            if let greeting = agent.greeting { agent.phrases.warm(greeting, tts: agent.tts, rate: pipelineRate) }
            await advance(.detecting)
            logger.info("answering-machine detection: the agent waits for the decision")
        } else {
            open()
        }

        for await frame in inbound {
            tick += 1
            defer { processed.store(tick, ordering: .releasing) }
            if stt == nil, let failed = await takeRecogniser() { return failed }
            if let outcome = await step(frame) {
                await closeRecogniser(opening)
                return outcome
            }
        }
        await lineClosed(opening)
        return Outcome(status: .ended, reason: "the line closed")
    }

    /// The line closed: the far end hung up, or the call was canceled through the API (a browser
    /// call's page hanging up), or a browser's connection dropped. What the agent was saying is
    /// stored as far as it was heard, as a barge-in stores it, and what the caller said last (a
    /// "thanks, bye" hung up on at once, before the turn could end) is stored too, once the
    /// recogniser has finished it: a transcript ends where the call did. A dropped browser keeps
    /// only the caller's words: if it offers again, the resumed conversation answers them, and
    /// an answer the drop cut short is given again (stored as heard, it would end the history
    /// and the resumption would be the resume line alone); if it never does, the call ends with
    /// them.
    /// Not when its worker stopped the conversation for another to carry on (a takeover, a drain,
    /// a partition: the turns stored are where it picks up).
    private func lineClosed(_ opening: Task<Void, Never>) async {
        let stopped = Task.isCancelled
        // Canceled, the call ends here however its line closed (a browser page's cancel may close
        // the connection before the cancel reaches the conversation).
        guard store.stopEndsTheCall || !stopped else { return await closeRecogniser(opening) }
        guard stopped else { return await keepLastWords(opening, dropped: audio.framesMayResume) }
        // The cancel would cut the recogniser's last words and the writes short: they go on as a
        // task of their own, for a few seconds at most.
        await Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.keepLastWords(opening) }
                group.addTask { try? await Task.sleep(for: Self.lastWordsWait * 2) }
                await group.next()
                group.cancelAll()
            }
        }.value
    }

    /// `dropped`: the line went away and may come back (a browser's connection), not hung up.
    private func keepLastWords(_ opening: Task<Void, Never>, dropped: Bool = false) async {
        if !dropped, let r = response, let role = persistAs {
            let (_, plan) = stopResponse()
            let (heard, remaining) = plan.split(heardFrames: audio.sentFrames - r.startSent)
            if !heard.isEmpty {
                let whole = remaining.isEmpty && shared.withLock { $0.responseDone }
                _ = try? await writer.append(role, heard, interrupted: !whole, extra: agentTurnExtra().merging(persistExtra) { $1 }
                    .merging(backchannelExtra()) { $1 }.merging(["hung_up_during_turn": "true"]) { $1 })
            }
            (response, persistAs, persistExtra) = (nil, nil, [:])
        }
        let listening = gate?.isActive != true && greetWhenQuiet == nil
        if listening, userSpeaking || shared.withLock({ !$0.finals.isEmpty }) {
            try? await stt?.flush()  // the words of a segment the VAD had not ended
        }
        await closeRecogniser(opening)
        // The recogniser's last finals (a closed stream sends what it still has), for a moment at most.
        if let reader = transcriptReader {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await reader.value }
                group.addTask { try? await Task.sleep(for: Self.lastWordsWait) }
                await group.next()
                group.cancelAll()
            }
            reader.cancel()
        }
        let words = shared.withLock { s -> String in
            defer { s.finals = [] }
            return s.finals.joined(separator: " ")
        }
        if listening, !words.isEmpty {
            _ = try? await writer.append(.user, words, extra: [dropped ? "said_as_the_line_dropped" : "said_as_the_line_closed": "true"])
        }
    }

    /// How long a hung-up call waits for the recogniser's last words.
    static let lastWordsWait = Duration.seconds(2)

    /// The agent's first words: the greeting, or the model's opening. `speechEnd`: when the person
    /// who answered stopped saying hello (their voice-to-voice wait is measured from it).
    private func open(speechEnd: Int64 = 0) {
        if let greeting = agent.greeting {
            startResponse(speaking: greeting, persistAs: .agent, speechEnd: speechEnd)
        } else {
            startResponse(history: true, speechEnd: speechEnd)
        }
    }

    /// The recogniser, open or still connecting, is done with (a call can end before it connected).
    private func closeRecogniser(_ opening: Task<Void, Never>) async {
        opening.cancel()
        if stt == nil, case .success(let stream)? = recogniser.withLock({ $0 }) { stt = stream }
        await stt?.close()
    }

    /// The recogniser's connection, once it is made (set by the opening task, taken by `run`).
    private let recogniser = Mutex<Result<any STTStream, any Error>?>(nil)
    /// Caller audio (and its VAD verdict) for the recogniser while it connects: up to 5 s.
    private var preroll: [(frame: AudioFrame, speech: Bool)] = []
    private var prerollFlush = false
    private var transcriptReader: Task<Void, Never>?
    static let prerollFrames = 250

    /// Takes the recogniser once it is open: sends what waited, starts reading its transcripts.
    /// Returns the call's outcome when it could not be opened.
    private func takeRecogniser() async -> Outcome? {
        guard let result = recogniser.withLock({ $0 }) else { return nil }
        switch result {
        case .failure(let error):
            logger.error("STT failed to start", metadata: ["error": "\(error)"])
            AgentMetrics.providerError("stt", provider: agent.stt.name)
            return Outcome(status: .failed, reason: "speech recognition unavailable: \(Redaction.redact("\(error)"))")
        case .success(let stream):
            stt = stream
            transcriptReader = Task { await self.collectTranscripts(stream) }
            for (frame, speech) in preroll { try? await stream.send(frame, speech: speech) }
            preroll = []
            if prerollFlush { try? await stream.flush() }
            prerollFlush = false
            return nil
        }
    }

    /// Digits received since the last frame (RFC 4733 or SIP INFO), picked up by `step`.
    private let pendingDigits = Mutex("")

    /// One 20 ms frame. Returns an outcome when the call is over.
    private func step(_ frame: AudioFrame) async -> Outcome? {
        // Which outbound frames went out since the last frame (echo reference, first-audio mark).
        let sent = audio.sentFrames
        if sent > lastSent {
            let peaks = shared.withLock { s -> [Int32] in
                let n = min(sent - lastSent, s.enqueuedPeaks.count)
                defer { s.enqueuedPeaks.removeFirst(n) }
                return Array(s.enqueuedPeaks.prefix(n))
            }
            for p in peaks { echoGuard.outboundPeak(p) }
            if let r = response {
                // The first frame of the answer itself: a filler before it is not the answer's latency.
                shared.withLock { if sent > r.startSent + $0.leadingFillerFrames { $0.firstFrameOutWallMs = $0.firstFrameOutWallMs ?? Timestamp.nowMs() } }
            }
        } else {
            echoGuard.outboundPeak(0)
        }
        lastSent = sent

        let decision = frame.samples.withUnsafeBufferPointer { vad.process($0) }
        // The guard sees every frame (it measures the line while the agent talks).
        let admitted = frame.samples.withUnsafeBufferPointer { echoGuard.admits($0) }
        let callerHeard = decision.isSpeech && admitted
        let toSTT = sttResampler.map { AudioFrame(sampleRate: agent.stt.sampleRate, samples: $0.process(frame.samples)) } ?? frame
        if let stt {
            try? await stt.send(toSTT, speech: decision.isSpeech)
        } else {
            if preroll.count == Self.prerollFrames { preroll.removeFirst() }
            preroll.append((toSTT, decision.isSpeech))
        }
        switch decision.event {
        case .speechStarted:
            if message != nil { spokeDuringMessage = true }
            segmentFinalsStart = shared.withLock { $0.finals.count }
            userSpeaking = true
            speechStartTick = tick
            lastActivityTick = tick
            logger.debug("caller speech started", metadata: ["agent.frame": "\(tick)", "agent.speaking": "\(agentSpeaking)"])
        case .speechEnded:
            logger.debug("caller speech ended", metadata: ["agent.frame": "\(tick)", "agent.barge_in_frames": "\(interruption.voiced)"])
            userSpeaking = false
            speechEndTick = tick
            speechEndWallMs = Timestamp.nowMs()
            if let stt { try? await stt.flush() } else { prerollFlush = true }
        case nil:
            break
        }
        if userSpeaking { lastActivityTick = tick }

        if let gate, gate.isActive, let outcome = await stepGate(gate, frame) { return outcome }
        if let gate, gate.isWatching, let outcome = await stepWatch(gate, frame) { return outcome }
        if let since = greetWhenQuiet, !userSpeaking && tick - speechEndTick + vadHangover >= frames(agent.turn.minEndpointingDelay)
            || tick - since >= frames(Self.greetingWaitLimit) {
            greetWhenQuiet = nil
            greet()
        }
        let gating = gate?.isActive == true || greetWhenQuiet != nil
        if let outcome = await stepMessage(frame) { return outcome }

        // DTMF digits collect for a second, then become a user turn.
        let newDigits = pendingDigits.withLock { d -> String in defer { d = "" }; return d }
        if !newDigits.isEmpty {
            dtmfBuffer += newDigits
            dtmfTick = tick
            lastActivityTick = tick
        }
        if !dtmfBuffer.isEmpty, tick - dtmfTick >= frames(1.0), !agentSpeaking, !gating {
            let digits = dtmfBuffer
            dtmfBuffer = ""
            _ = try? await writer.append(.user, "(keypad: \(digits.map(String.init).joined(separator: " ")))", extra: ["dtmf": digits])
            startResponse(history: true)
        }

        dropLateFinal()

        // Barge-in, or a backchannel. Frames the echo guard admits are counted over the caller's
        // speech segment: a voice over the agent's has frames quieter than the agent's loudest
        // (which the guard holds back), and those must not restart the count; pure echo never gets
        // a frame admitted.
        if agentSpeaking, agent.turn.allowInterruptions, pendingEnd == nil, !gating {
            // Words are read (a string built) only once the segment could be decided, not every frame the agent talks.
            let streaming = agent.stt.streamsInterimResults
            switch interruption.frame(heard: callerHeard, speech: decision.isSpeech, words: { self.segmentWords() },
                                      wordsExpected: { streaming || self.shared.withLock { $0.interimsSeen } }) {
            case .interrupt: await interrupt()
            case .backchannel(let words): backchannel(words)
            case .none:
                if decision.event == .speechEnded, !interruption.lexicon.isEmpty, lateFinals.isEmpty { lateFinals.expect(.overTheAgent, words: "", at: tick) }
            }
        } else {
            interruption.reset()
        }

        // A false interruption (no words came, or only an acknowledgement): the agent picks up where
        // it was cut off.
        if let fi = falseInterruption {
            let (finals, interim) = shared.withLock { ($0.finals.joined(separator: " "), $0.interim) }
            switch fi.step(tick: tick, userSpeaking: userSpeaking, quietFrames: tick - speechEndTick, finals: finals, interim: interim,
                           lexicon: interruption.lexicon, timeoutFrames: frames(agent.turn.falseInterruptionTimeout),
                           finalGraceFrames: frames(agent.turn.maxEndpointingDelay)) {
            case .wait:
                break
            case .wordsCame:
                falseInterruption = nil
            case .acknowledged(let words):
                falseInterruption = nil
                clearWords()
                startResponse(speaking: fi.remaining, persistAs: .agent, extra: ["resumed_after_false_interruption": "true"], fixed: false)
                recordBackchannel(words, "the interruption was one: resuming")  // on the resumed turn
            case .silent:
                falseInterruption = nil
                echoGuard.remeasure()  // what got through may have been echo: back to the safe margin
                logger.info("false interruption: resuming")
                startResponse(speaking: fi.remaining, persistAs: .agent, extra: ["resumed_after_false_interruption": "true"], fixed: false)
            }
        }

        // The response finished playing: store the agent turn; act on end_call / transfer.
        if let outcome = await finishResponseIfPlayed() { return outcome }

        // Endpointing.
        if !agentSpeaking, !userSpeaking, falseInterruption == nil, !gating {
            let (finals, interim) = shared.withLock { ($0.finals.joined(separator: " "), $0.interim) }
            if let end = endpointing.decide(sinceSpeechEnd: tick - speechEndTick, vadHangover: vadHangover, finals: finals, interim: interim) {
                if end.fromInterim { lateFinals.expect(.turn, words: interim, at: tick) }
                await endUserTurn(end.text)
            }
        }

        // Silence and duration limits.
        if !agentSpeaking, !userSpeaking, !gating, message == nil, tick - lastActivityTick >= frames(agent.turn.silenceTimeout) {
            silencePrompts += 1
            lastActivityTick = tick
            if silencePrompts >= 2 {
                pendingEnd = "caller silent"
                startResponse(speaking: "I haven't heard anything, so I'll hang up now. Goodbye.", persistAs: .agent)
            } else {
                startResponse(speaking: "Are you still there?", persistAs: .agent)
            }
        }
        if tick >= frames(agent.turn.maxCallDuration), pendingEnd == nil {
            pendingEnd = "maximum call duration"
            _ = audio.flush()
            responseTask?.cancel()
            responseTask = nil
            startResponse(speaking: "I'm sorry, we've reached the time limit for this call. Goodbye.", persistAs: .agent)
        }
        return nil
    }

    // MARK: turns

    private func endUserTurn(_ text: String) async {
        let sttFinal = shared.withLock { s -> Int64? in
            defer {
                s.finals = []
                s.interim = ""
                s.sttFinalWallMs = nil
            }
            return s.sttFinalWallMs
        }
        segmentFinalsStart = 0
        silencePrompts = 0
        lastActivityTick = tick
        if message != nil {
            // The callee talked back to the voicemail message: a person after all.
            message = nil
            logger.info("answering-machine detection: the callee talked back; the conversation goes on")
            try? await store.event("amd_recovered", detail: "the callee talked back", fields: [:])
            await advance(.conversation)
            AgentMetrics.amdRecovered()
        }
        var extra = ["speech_end_ms": String(speechEndWallMs)]
        if let sttFinal { extra["stt_final_ms"] = String(sttFinal) }
        _ = try? await writer.append(.user, text, extra: extra)
        try? await store.setContext(["last_user_text": text])
        startResponse(history: true, speechEnd: speechEndWallMs, sttFinal: sttFinal)
    }

    /// Barge-in: silence the line now, cancel the response, store what was heard.
    private func interrupt() async {
        interruption.reset()
        let (dropped, plan) = stopResponse()
        let heardFrames = audio.sentFrames - (response?.startSent ?? audio.sentFrames)
        let (heard, remaining) = plan.split(heardFrames: heardFrames)
        AgentMetrics.bargeIn()
        logger.info("barge-in", metadata: ["agent.frames_dropped": "\(dropped)", "agent.frames_heard": "\(heardFrames)"])
        if !heard.isEmpty || !remaining.isEmpty {
            _ = try? await writer.append(.agent, heard, interrupted: true,
                                         extra: agentTurnExtra().merging(backchannelExtra()) { $1 }.merging([
                                             "barge_in.frames_dropped": String(dropped),
                                             // From the VAD's speech onset to the line going quiet (frames are 20 ms).
                                             "barge_in.detect_ms": String((tick - speechStartTick) * 20),
                                         ]) { $1 })
        }
        response = nil
        falseInterruption = remaining.isEmpty ? nil : FalseInterruption(tick: tick, remaining: remaining)
        lastActivityTick = tick
    }

    /// Silences the line and forgets the response: nothing of it is stored as a turn.
    private func dropResponse() {
        _ = stopResponse()
        (response, persistAs, persistExtra) = (nil, nil, [:])
    }

    /// Silences the line and cancels the response: the frames dropped, and what it was made of.
    private func stopResponse() -> (dropped: Int, plan: ResponsePlan) {
        let dropped = audio.flush()
        responseTask?.cancel()
        responseTask = nil
        let plan = shared.withLock { s -> ResponsePlan in
            defer {
                s.plan = ResponsePlan()
                s.enqueuedPeaks = []
                s.responseDone = false
            }
            return s.plan
        }
        return (dropped, plan)
    }

    /// `latencyExtra()` for a stored agent turn, also recorded as metrics.
    private func agentTurnExtra() -> [String: String] {
        let e = latencyExtra()
        AgentMetrics.turn(e)
        return e
    }

    /// The response's wire marks and provider times (safe from either task).
    private func latencyExtra() -> [String: String] {
        var e: [String: String] = [:]
        let s = shared.withLock { $0 }
        let (llmReq, llmFirst, ttsReq, ttsFirst) = (s.llmRequestWallMs, s.llmFirstTokenWallMs, s.ttsRequestWallMs, s.ttsFirstAudioWallMs)
        let speechEnd = s.speechEndWallMs, sttFinal = s.sttFinalForResponseWallMs, firstOut = s.firstFrameOutWallMs
        if speechEnd > 0 { e["latency.speech_end_ms"] = String(speechEnd) }
        if let t = sttFinal { e["latency.stt_final_ms"] = String(t) }
        if let t = llmFirst { e["latency.llm_first_token_ms"] = String(t) }
        if let t = ttsFirst { e["latency.tts_first_audio_ms"] = String(t) }
        if let t = firstOut { e["latency.first_rtp_ms"] = String(t) }
        if s.firstAudioCached { e["tts.cached"] = "true" }
        // Durations: inside each provider, and voice-to-voice at the wire.
        if speechEnd > 0, let out = firstOut {
            let v2v = out - speechEnd
            e["latency.voice_to_voice_ms"] = String(v2v)
            let stt = sttFinal.map { max(0, $0 - speechEnd) } ?? 0
            // The endpointing wait is turn-taking policy (min/max endpointing delay; for the greeting
            // after a person answered, detection's decision), not overhead.
            let endpointing = (llmReq ?? ttsReq).map { max(0, $0 - max(speechEnd, sttFinal ?? speechEnd)) } ?? 0
            let llm = zip2(llmReq, llmFirst).map { $1 - $0 } ?? 0
            let tts = zip2(ttsReq, ttsFirst).map { $1 - $0 } ?? 0
            e["latency.stt_ms"] = String(stt)
            e["latency.endpointing_ms"] = String(endpointing)
            e["latency.llm_ms"] = String(llm)
            e["latency.tts_ms"] = String(tts)
            e["latency.framework_ms"] = String(max(0, v2v - stt - endpointing - llm - tts))
        }
        return e
    }

    private func finishResponseIfPlayed() async -> Outcome? {
        guard responseTask == nil || shared.withLock({ $0.responseDone }) else { return nil }
        guard response != nil || responseTask != nil else {
            if let end = pendingEnd, audio.queuedFrames == 0 {
                await audio.hangup(reason: end)
                return Outcome(status: .ended, reason: end)
            }
            return nil
        }
        guard audio.queuedFrames == 0 else { return nil }
        // Everything queued has been sent.
        let (plan, failure, endRequested, transferTo) = shared.withLock { s -> (ResponsePlan, String?, String?, String?) in
            defer {
                s.plan = ResponsePlan()
                s.responseDone = false
                s.failure = nil
                s.endRequested = nil
                s.transferTo = nil
            }
            return (s.plan, s.failure, s.endRequested, s.transferTo)
        }
        let text = plan.text
        if !text.isEmpty, let persist = persistAs {
            _ = try? await writer.append(persist, text, extra: agentTurnExtra().merging(persistExtra) { $1 }.merging(backchannelExtra()) { $1 })
        }
        responseTask = nil
        response = nil
        persistAs = nil
        persistExtra = [:]
        lastActivityTick = tick
        if let failure { logger.error("response failed", metadata: ["error": "\(failure)"]) }
        if let transferTo {
            let status = (try? await audio.transfer(to: transferTo)) ?? 500
            _ = try? await writer.append(.tool, "transfer to \(transferTo): \(status)", extra: ["name": "transfer_call", "status": String(status)])
            if (200..<300).contains(status) { return Outcome(status: .ended, reason: "transferred to \(transferTo)") }
        }
        if let end = endRequested ?? pendingEnd {
            await audio.hangup(reason: end)
            return Outcome(status: .ended, reason: end)
        }
        return nil
    }

    // MARK: responses

    private var persistAs: Turn.Role?
    private var persistExtra: [String: String] = [:]

    /// Speaks given text: a fixed line (greeting, resume line, prompts), or with `fixed` false the
    /// rest of a response that was cut short.
    private func startResponse(speaking text: String, persistAs role: Turn.Role, extra: [String: String] = [:], fixed: Bool = true,
                               speechEnd: Int64 = 0) {
        begin(role: role, extra: extra, speechEnd: speechEnd, sttFinal: nil)
        let tts = agent.tts
        responseTask = Task { [weak self] in
            guard let self else { return }
            await self.speak(text, tts: tts, fixed: fixed)
            self.shared.withLock { $0.responseDone = true }
        }
    }

    /// Asks the model for the next agent turn (with the conversation so far) and speaks it.
    private func startResponse(history: Bool, speechEnd: Int64 = 0, sttFinal: Int64? = nil, prelude: String? = nil) {
        begin(role: .agent, extra: [:], speechEnd: speechEnd, sttFinal: sttFinal)
        responseTask = Task { [weak self] in
            guard let self else { return }
            if let prelude { await self.speak(prelude, tts: self.agent.tts, fixed: true) }
            await self.generate()
            self.shared.withLock { $0.responseDone = true }
        }
    }

    private func begin(role: Turn.Role, extra: [String: String], speechEnd: Int64, sttFinal: Int64?) {
        responseTask?.cancel()
        persistAs = role
        persistExtra = extra
        backchannelsHeard = []
        response = ResponseState(startSent: audio.sentFrames + audio.queuedFrames)
        shared.withLock { s in
            s.speechEndWallMs = speechEnd
            s.sttFinalForResponseWallMs = sttFinal
            s.firstFrameOutWallMs = nil
            s.plan = ResponsePlan()
            s.responseDone = false
            s.llmRequestWallMs = nil
            s.llmFirstTokenWallMs = nil
            s.ttsRequestWallMs = nil
            s.ttsFirstAudioWallMs = nil
            s.firstAudioCached = false
            s.contentStarted = false
            s.leadingFillerFrames = 0
        }
    }

    private func generate() async {
        let tools = BuiltinTools.all + agent.tools.map(\.spec)
        for _ in 0..<5 {  // tool rounds
            let messages = await writer.messages(instructions: agent.instructions, window: agent.contextWindow)
            let request = LLMRequest(messages: messages, tools: tools, temperature: agent.temperature)
            var splitter = SentenceSplitter()
            var calls: [ToolCall] = []
            var text = ""
            let answered = Flag()
            async let filler: Void = fillerIfSlow("llm", done: answered)
            do {
                shared.withLock { $0.llmRequestWallMs = $0.llmRequestWallMs ?? Timestamp.nowMs() }
                for try await event in try await agent.llm.stream(request) {
                    try Task.checkCancellation()
                    answered.set()
                    switch event {
                    case .text(let t):
                        shared.withLock { $0.llmFirstTokenWallMs = $0.llmFirstTokenWallMs ?? Timestamp.nowMs() }
                        text += t
                        for sentence in splitter.push(t) { await speak(sentence, tts: agent.tts) }
                    case .toolCall(let c):
                        calls.append(c)
                    case .usage:
                        break
                    }
                }
                if let rest = splitter.finish() { await speak(rest, tts: agent.tts) }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                AgentMetrics.providerError("llm", provider: agent.llm.name)
                shared.withLock { $0.failure = Redaction.redact("\(error)") }
                await speak("I'm sorry, I'm having trouble right now. Could you say that again?", tts: agent.tts, fixed: true)
                return
            }
            answered.set()
            await filler
            if Task.isCancelled || calls.isEmpty { return }
            // The model asked for tools: store the call and the results, then let it continue.
            await waitForPlayout()
            shared.withLock { $0.contentStarted = false }  // what was said has played: a slow tool may get a filler
            let spoken = shared.withLock { s -> String in
                defer { s.plan = ResponsePlan() }
                return s.plan.text
            }
            let callsJSON = String(decoding: (try? JSONEncoder().encode(calls)) ?? Data(), as: UTF8.self)
            _ = try? await writer.append(.agent, spoken.isEmpty ? text : spoken, extra: agentTurnExtra().merging(["tool_calls": callsJSON]) { $1 })
            var continueModel = false
            for call in calls {
                let result = await runTool(call)
                _ = try? await writer.append(.tool, result.text, extra: ["tool_call_id": call.id, "name": call.name, "arguments": call.arguments])
                continueModel = continueModel || result.continueModel
            }
            if !continueModel { return }
        }
    }

    private func waitForPlayout() async {
        while audio.queuedFrames > 0, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Runs one tool call. Built-ins act on the call; the others run the user's handler.
    private func runTool(_ call: ToolCall) async -> (text: String, continueModel: Bool) {
        switch call.name {
        case "end_call":
            let reason = BuiltinTools.argument("reason", in: call.arguments) ?? "agent ended the call"
            shared.withLock { $0.endRequested = reason }
            return ("ending the call", false)
        case "transfer_call":
            guard let to = BuiltinTools.argument("to", in: call.arguments), !to.isEmpty else { return ("error: 'to' is required", true) }
            shared.withLock { $0.transferTo = to }
            return ("transferring to \(to)", false)
        case "send_dtmf":
            guard let digits = BuiltinTools.argument("digits", in: call.arguments),
                  !digits.isEmpty, digits.allSatisfy({ TelephoneEvent.event(for: $0) != nil }) else { return ("error: digits must be 0-9, *, #, A-D", true) }
            await audio.sendDigits(digits)
            return ("sent \(digits)", true)
        default:
            guard let tool = agent.tools.first(where: { $0.spec.name == call.name }) else { return ("error: unknown tool \(call.name)", true) }
            let finished = Flag()
            async let filler: Void = fillerIfSlow("tool", done: finished)
            let result: (String, Bool)
            do {
                result = (try await tool.handler(call.arguments), true)
            } catch {
                result = ("error: \(Redaction.redact("\(error)"))", true)
            }
            finished.set()
            await filler
            return result
        }
    }

    /// Synthesises one sentence and queues its frames (resampled to the pipeline rate).
    /// `fixed`: a line the agent says as written (not the model's), kept in `agent.phrases` once said
    /// whole and said from there after.
    private func speak(_ sentence: String, tts: any TextToSpeech, fixed: Bool = false) async {
        guard !Task.isCancelled else { return }
        shared.withLock { $0.ttsRequestWallMs = $0.ttsRequestWallMs ?? Timestamp.nowMs() }
        var count = 0
        // A line being warmed (the greeting while detection listened) is waited for: it started
        // before this one could, and a second synthesis would be paid for twice.
        if fixed, let said = try? await agent.phrases.ready(sentence, rate: pipelineRate) {
            AgentMetrics.phrase(cached: true)
            shared.withLock { s in if s.ttsFirstAudioWallMs == nil { s.firstAudioCached = true } }
            for chunk in Self.frames(of: said, size: pipelineRate / 50) {
                guard !Task.isCancelled else { return }
                enqueueSpeech(chunk)
                count += 1
            }
            shared.withLock { $0.plan.sentence(sentence, frames: count) }
            return
        }
        guard !Task.isCancelled else { return }  // cancelled while it waited for a warm-up
        if fixed { AgentMetrics.phrase(cached: false) }
        var resampler: Resampler?
        var whole: [Int16] = []
        do {
            for try await frame in try await tts.synthesize(sentence) {
                if Task.isCancelled { return }
                var samples = frame.samples
                if frame.sampleRate != pipelineRate {
                    if resampler == nil { resampler = try Resampler(from: frame.sampleRate, to: pipelineRate) }
                    samples = resampler!.process(samples)
                }
                if fixed { whole += samples }
                for chunk in Self.frames(of: samples, size: pipelineRate / 50) {
                    if Task.isCancelled { return }
                    enqueueSpeech(chunk)
                    count += 1
                }
            }
            if fixed { agent.phrases.store(sentence, rate: pipelineRate, samples: whole) }
        } catch {
            if !Task.isCancelled {
                AgentMetrics.providerError("tts", provider: agent.tts.name)
                shared.withLock { $0.failure = Redaction.redact("TTS: \(error)") }
            }
        }
        if !Task.isCancelled { shared.withLock { $0.plan.sentence(sentence, frames: count) } }
    }

    /// One 20 ms frame of the response's speech onto the line.
    private func enqueueSpeech(_ chunk: [Int16]) {
        var peak: Int32 = 0
        for s in chunk { peak = max(peak, abs(Int32(s))) }
        shared.withLock {
            $0.ttsFirstAudioWallMs = $0.ttsFirstAudioWallMs ?? Timestamp.nowMs()
            $0.enqueuedPeaks.append(peak)
            $0.contentStarted = true
        }
        audio.enqueue(AudioFrame(sampleRate: pipelineRate, samples: chunk))
    }

    /// After `filler_delay` without `done` (the model's first event, a tool's result), says the next
    /// filler — synthesised whole, then queued at once, and only if the response's own words have
    /// not started (never interleaved with them). Its plan entry has no text: never part of a turn.
    private func fillerIfSlow(_ reason: String, done: Flag) async {
        let delay = agent.turn.fillerDelay
        let phrases = agent.turn.fillers.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard delay > 0, !phrases.isEmpty || agent.turn.fillerSound != nil else { return }
        // Wakes every 20 ms, so a `done` caller awaiting this returns at once rather than after the delay.
        for _ in 0..<Int((delay * 50).rounded(.up)) {
            try? await Task.sleep(for: .milliseconds(20))
            if Task.isCancelled || done.value { return }
        }
        var frames: [[Int16]] = []
        let phrase: String
        do {
            let samples: [Int16]
            if let sound = agent.turn.fillerSound {
                phrase = "(\(sound.path))"
                samples = sound.sampleRate == pipelineRate ? sound.samples
                    : try Resampler(from: sound.sampleRate, to: pipelineRate).process(sound.samples)
            } else {
                phrase = shared.withLock { s -> String in
                    defer { s.fillerIndex += 1 }
                    return phrases[s.fillerIndex % phrases.count]
                }
                // Said whole even if the model answers meanwhile: kept, the next call's filler is on time.
                let line = try await agent.phrases.line(phrase, tts: agent.tts, rate: pipelineRate)
                AgentMetrics.phrase(cached: line.cached)
                samples = line.samples
            }
            frames = Self.frames(of: samples, size: pipelineRate / 50)
        } catch {
            return  // a filler is a nicety: a TTS failure here is the answer's to report
        }
        guard !Task.isCancelled, !done.value, !frames.isEmpty else { return }
        let played = shared.withLock { s -> Bool in
            guard !s.contentStarted else { return false }
            for chunk in frames {
                var peak: Int32 = 0
                for x in chunk { peak = max(peak, abs(Int32(x))) }
                s.enqueuedPeaks.append(peak)
                audio.enqueue(AudioFrame(sampleRate: pipelineRate, samples: chunk))
            }
            s.plan.filler(frames: frames.count)
            if s.firstFrameOutWallMs == nil { s.leadingFillerFrames += frames.count }
            return true
        }
        if played {
            AgentMetrics.filler(reason)
            logger.info("filler while the \(reason == "llm" ? "model" : "tool") is slow", metadata: ["agent.filler": "\(phrase)"])
        }
    }

    /// A flag one task sets and another reads.
    final class Flag: Sendable {
        private let state = Mutex(false)
        func set() { state.withLock { $0 = true } }
        var value: Bool { state.withLock { $0 } }
    }

    /// Cuts samples into whole frames, padding the last with silence.
    static func frames(of samples: [Int16], size: Int) -> [[Int16]] {
        stride(from: 0, to: samples.count, by: size).map { start in
            let end = min(samples.count, start + size)
            var f = Array(samples[start..<end])
            if f.count < size { f += [Int16](repeating: 0, count: size - f.count) }
            return f
        }
    }

    private func collectTranscripts(_ stream: any STTStream) async {
        do {
            for try await t in stream.transcripts {
                let text = t.text.trimmingCharacters(in: .whitespaces)
                logger.debug("transcript", metadata: ["stt.final": "\(t.isFinal)", "stt.text": "\(text)"])
                shared.withLock { s in
                    s.transcripts += 1
                    if t.isFinal {
                        if !text.isEmpty { s.finals.append(text) }
                        s.interim = ""
                        s.sttFinalWallMs = Timestamp.nowMs()
                    } else {
                        s.interim = text
                        s.interimsSeen = true
                    }
                }
            }
        } catch {
            logger.error("STT stream failed", metadata: ["error": "\(Redaction.redact("\(error)"))"])
            AgentMetrics.providerError("stt", provider: agent.stt.name)
        }
    }
}

private func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

// MARK: backchannels and late finals

extension Conversation {
    /// What the recogniser has of the caller's current speech segment.
    private func segmentWords() -> String {
        shared.withLock { s in (s.finals.dropFirst(min(segmentFinalsStart, s.finals.count)) + [s.interim]).joined(separator: " ") }
    }

    /// The caller acknowledged: the agent goes on; the words are kept off the next turn and stored
    /// on the agent's.
    private func backchannel(_ words: String) {
        let hadFinal = shared.withLock { s -> Bool in
            let start = min(segmentFinalsStart, s.finals.count)
            defer {
                s.finals.removeSubrange(start...)
                s.interim = ""
            }
            return s.finals.count > start
        }
        if !hadFinal { lateFinals.expect(.backchannel, words: words, at: tick) }
        recordBackchannel(words, "the agent goes on")
    }

    /// An acknowledgement, stored on the agent's turn being spoken (never a user turn), counted and logged.
    private func recordBackchannel(_ words: String, _ what: String) {
        backchannelsHeard.append(words)
        AgentMetrics.backchannel()
        logger.info("backchannel: \(what)", metadata: ["agent.words": "\(words)"])
    }

    private func backchannelExtra() -> [String: String] {
        backchannelsHeard.isEmpty ? [:] : ["backchannels": backchannelsHeard.joined(separator: " | ")]
    }

    /// The final of words already acted on arrives: not a turn (`LateFinals`).
    private func dropLateFinal() {
        guard !lateFinals.isEmpty else { return }
        let (now, lexicon) = (tick, interruption.lexicon)
        let (acknowledged, count) = shared.withLock { s in (lateFinals.take(from: &s.finals, tick: now, lexicon: lexicon), s.finals.count) }
        segmentFinalsStart = min(segmentFinalsStart, count)
        if let words = acknowledged { recordBackchannel(words, "under the barge-in threshold") }
    }
}

// MARK: answering-machine detection

extension Conversation {
    /// One frame of detection (`AnswerGate`): the decision recorded, then acted on.
    private func stepGate(_ gate: AnswerGate, _ frame: AudioFrame) async -> Outcome? {
        if gate.phase == .announcing {
            guard !agentSpeaking, response == nil else { return nil }
            gate.announced()  // played: listen for the person, not for what the screener said before
            clearWords()
        }
        let (decided, revised) = (gate.decision != nil, gate.revision != nil)
        var action = gate.process(frame.samples)
        if action == nil, gate.isActive, let words = wordsForGate() { action = gate.heard(words) }
        if !decided, let d = gate.decision { await record(d, plan: gate.plan) }
        if !revised, let d = gate.revision { await record(d, plan: gate.plan, revised: true) }
        if let stage = gate.stage { await advance(stage) }
        guard let action else { return nil }
        return await perform(action, gate)
    }

    /// A person decided by cadence alone, whose words may still show a recording: when they do,
    /// the agent stops (what it said was said to a recording, and is not a turn) and the call
    /// goes on as with that recording — its message after the beep, the menu, the screener.
    private func stepWatch(_ gate: AnswerGate, _ frame: AudioFrame) async -> Outcome? {
        guard let (revised, action) = gate.watch(frame.samples, words: wordsForGate()) else { return nil }
        logger.info("answering-machine detection: a recording after all", metadata: ["amd.result": "\(revised.kind.rawValue)"])
        dropResponse()
        falseInterruption = nil
        greetWhenQuiet = nil
        await record(revised, plan: gate.plan, revised: true)
        if let stage = gate.stage { await advance(stage) }
        if action != .navigate { clearWords() }  // a menu's words stay: they are the first turn
        guard let action else { return nil }  // following the greeting to its end (`stepGate`)
        return await perform(action, gate)
    }

    /// Everything the recogniser has said, when it has said more since detection last looked (not
    /// joined every frame).
    private func wordsForGate() -> String? {
        let (count, words) = shared.withLock { s -> (Int, String?) in
            (s.transcripts, s.transcripts == gateTranscripts ? nil : (s.finals + [s.interim]).joined(separator: " "))
        }
        gateTranscripts = count
        return words
    }

    /// What the gate decided to do, done.
    private func perform(_ action: AnswerGate.Action, _ gate: AnswerGate) async -> Outcome? {
        switch action {
        case .converse:
            greetWhenQuiet = tick  // greeted in this frame unless they are still talking (`step`)
            await advance(.conversation)
        case .navigate:
            lastActivityTick = tick  // the menu's words stay: endpointing makes them the first turn
            await advance(.conversation)
        case .leaveMessage(let text):
            clearWords()
            try? await store.event("amd_message", detail: gate.greetingEnd ?? "", fields: ["at_ms": String(gate.elapsedMs)])
            await leaveMessage(text, lateBeepPossible: !gate.endedOnBeep)
        case .announce(let text):
            clearWords()
            announce(text)
        case .hangup(let reason):
            await audio.hangup(reason: reason)
            return Outcome(status: .ended, reason: reason)
        }
        return nil
    }

    private func leaveMessage(_ text: String, lateBeepPossible: Bool) async {
        message = .playing
        messageText = text
        lateBeep = lateBeepPossible ? LateBeep(sampleRate: pipelineRate) : nil
        spokeDuringMessage = false  // the beep may still count as "speech" for a frame or two
        logger.info("answering-machine detection: leaving the message")
        await advance(.message)
        startResponse(speaking: text, persistAs: .agent, extra: ["amd": "voicemail_message"])
    }

    private func announce(_ text: String) {
        startResponse(speaking: text, persistAs: .agent, extra: ["amd": "screener_announcement"])
    }

    /// Keeps how far detection has got in the call's context (`AnswerStage`).
    private func advance(_ stage: AnswerStage) async {
        guard stage != answerStage else { return }
        answerStage = stage
        try? await store.setContext([AnswerStage.contextKey: stage.rawValue])
    }

    /// A resumed outbound call with detection picks up where the lost worker was: listening
    /// again (still detecting, or for the greeting's end, the screener's pause, the person),
    /// saying the message or the announcement again whole (how much of it the callee heard is
    /// not known, and a recording keeps both), or hanging up after a message already left.
    /// Nil (and no gate): an ordinary conversation from here. A call lost before its first
    /// stage was stored, with nothing said, detects afresh.
    private func resumeAnswerDetection(nothingSaid: Bool) async -> Outcome? {
        guard let settings = answerDetection else { return nil }
        let stored = AnswerStage(context: (try? await store.context()) ?? [:])
        guard let stage = stored ?? (nothingSaid ? .detecting : nil) else { return nil }
        answerStage = stored
        await advance(stage)  // stored now if it was not
        logger.info("answering-machine detection resumed", metadata: ["amd.stage": "\(stage.rawValue)"])
        switch stage {
        case .conversation:
            return nil
        case .detecting, .awaitingGreetingEnd, .awaitingScreenerPause, .awaitingPerson:
            gate = AnswerGate(settings: settings, sampleRate: pipelineRate, resuming: stage)
        case .announcing:
            gate = AnswerGate(settings: settings, sampleRate: pipelineRate, resuming: stage)
            announce(settings.announcement ?? "")
        case .message:
            await leaveMessage(settings.message ?? "", lateBeepPossible: false)
        case .messageLeft:
            let reason = "left a message on an answering machine"
            await audio.hangup(reason: reason)
            return Outcome(status: .ended, reason: reason)
        }
        return nil
    }

    /// After the voicemail message: hang up once the line has stayed quiet for the recovery window.
    private func stepMessage(_ frame: AudioFrame) async -> Outcome? {
        if message != nil, !spokeDuringMessage { clearWords() }
        if message != nil { await watchForLateBeep(frame) } else { lateBeep = nil }
        switch message {
        case nil:
            return nil
        case .playing?:
            if !agentSpeaking, response == nil, falseInterruption == nil, lateBeep?.sounding == nil {
                message = .played(tick: tick)
                await advance(.messageLeft)
            }
            return nil
        case .played(let played)?:
            let words = shared.withLock { !$0.finals.isEmpty || !$0.interim.isEmpty }
            if agentSpeaking || userSpeaking || falseInterruption != nil || words {
                message = .played(tick: tick)  // something is going on: the window starts again after it
                return nil
            }
            guard tick - played >= frames(Self.messageRecoveryWindow) else { return nil }
            let reason = "left a message on an answering machine"
            await audio.hangup(reason: reason)
            return Outcome(status: .ended, reason: reason)
        }
    }

    /// A person answered: the agent's first words (what they said on picking up is not a turn).
    private func greet() {
        // Words heard only as an interim still have their final to come: it is not a turn either.
        if shared.withLock({ !$0.interim.isEmpty }) { lateFinals.expect(.answer, words: "", at: tick) }
        clearWords()
        lastActivityTick = tick
        open(speechEnd: userSpeaking ? 0 : speechEndWallMs)
    }

    /// How long a person decided while talking may go on before the agent greets them anyway
    /// (a voice that never pauses is more likely a busy room than one sentence).
    static let greetingWaitLimit = 3.0

    /// A beep in the first seconds of a message that began after a silent greeting end: the
    /// recording starts at its end, so the message stops and is said again from the start.
    private func watchForLateBeep(_ frame: AudioFrame) async {
        guard var watch = lateBeep else { return }
        let step = watch.step(frame.samples)
        lateBeep = watch
        switch step {
        case .none:
            break
        case .expired:
            lateBeep = nil
        case .beepStarted:
            dropResponse()  // not a turn: it is said again in full
            logger.info("answering-machine detection: a beep during the message; it starts again after the beep")
            try? await store.event("amd_late_beep", detail: "the message starts again after the beep", fields: [:])
        case .beepEnded:
            lateBeep = nil
            message = .playing
            spokeDuringMessage = false
            startResponse(speaking: messageText, persistAs: .agent, extra: ["amd": "voicemail_message", "amd_restarted": "after a late beep"])
        }
    }

    private func clearWords() {
        shared.withLock {
            $0.finals = []
            $0.interim = ""
        }
    }

    /// The decision on the call's timeline and record, and in the metrics.
    private func record(_ d: AnswerClassifier.Decision, plan: String, revised: Bool = false) async {
        let words = shared.withLock { ($0.finals + [$0.interim]).joined(separator: " ") }.trimmingCharacters(in: .whitespaces)
        var fields = ["result": d.kind.rawValue, "cause": d.cause, "confidence": String(format: "%.2f", d.confidence),
                      "decided_ms": String(d.atMs), "action": plan]
        if !words.isEmpty { fields["words"] = String(words.prefix(200)) }
        logger.info("answering-machine detection decided", metadata: ["amd.result": "\(d.kind.rawValue)", "amd.cause": "\(d.cause)", "amd.decided_ms": "\(d.atMs)"])
        if revised {
            fields["revised"] = "true"
            AgentMetrics.amdRevision(d.kind.rawValue)
        } else {
            AgentMetrics.amdDecision(d.kind.rawValue, milliseconds: d.atMs)
        }
        try? await store.event(revised ? "amd_revised" : "amd", detail: "\(d.kind.rawValue): \(d.cause)", fields: fields)
        try? await store.setContext(Dictionary(uniqueKeysWithValues: fields.map { ("amd.\($0.key)", $0.value) }))
    }
}

