import Foundation
import Synchronization
import Logging
import SiphonAgent
import SiphonAudio
import SiphonRTP
import SiphonSIP

/// A built-in caller for the demo and tests: a SIP user agent that answers, listens to the agent,
/// and says scripted lines with eSpeak NG when the agent has finished (or, for a line marked
/// `interrupt`, part-way through the agent's sentence, to show barge-in). Records both sides.
public final class SimulatedCaller: Sendable {
    public struct Line: Sendable {
        public var text: String
        /// Seconds into the agent's turn to start talking over it; nil waits for the agent to finish.
        public var interruptAfter: Double?
        public init(_ text: String, interruptAfter: Double? = nil) {
            self.text = text
            self.interruptAfter = interruptAfter
        }
    }

    public let transport: SIPTransport
    public let ua: SIPUserAgent
    let lines: [Line]
    /// The caller's voice; its frames must be at the RTP session's pipeline rate.
    let voice: any TextToSpeech
    let recording: String?
    let logger: Logger
    private let done = AsyncStream<String>.makeStream()
    private let busy = Mutex(false)

    public static func start(lines: [Line], voice: any TextToSpeech, recording: String?, port: Int = 0,
                             logger: Logger = Logger(label: "siphon.caller")) async throws -> SimulatedCaller {
        let transport = SIPTransport(configuration: .init(bindHost: "127.0.0.1", port: port, enableTCP: false))
        try await transport.start()
        var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
        config.inboundTrunks = [InboundTrunk(name: "loopback", allowedAddresses: ["127.0.0.1"])]
        config.contactUser = "caller"
        let ua = SIPUserAgent(configuration: config, transport: transport, logger: logger)
        let caller = SimulatedCaller(transport: transport, ua: ua, lines: lines, voice: voice, recording: recording, logger: logger)
        await ua.attach()
        await ua.onIncomingCall { [caller] incoming in await caller.answer(incoming) }
        return caller
    }

    private init(transport: SIPTransport, ua: SIPUserAgent, lines: [Line], voice: any TextToSpeech, recording: String?, logger: Logger) {
        self.voice = voice
        self.transport = transport
        self.ua = ua
        self.lines = lines
        self.recording = recording
        self.logger = logger
    }

    public var port: Int { transport.udpPort }

    /// Receives SIP until stopped.
    public func run() async { await ua.run() }

    /// Waits for the call to end; returns how it ended.
    public func finished() async -> String {
        for await reason in done.stream { return reason }
        return "stopped"
    }

    public func stop() async { await transport.stop() }

    /// Whether a call has been answered.
    public var answered: Bool { busy.withLock { $0 } }

    private func answer(_ incoming: IncomingCall) async {
        // One call at a time, like a person on a phone.
        guard busy.withLock({ (b: inout Bool) -> Bool in defer { b = true }; return !b }) else { return await incoming.reject(status: 486) }
        let media = RTPSession(configuration: { var c = RTPSession.Configuration(); c.bindHost = "127.0.0.1"; return c }(), logger: logger)
        guard let offer = incoming.offer, let port = try? await media.open(),
              let (sdp, negotiated) = try? SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: port, sessionID: 1, version: 1)
        else { return await incoming.reject(status: 488) }
        await incoming.ring()
        try? media.configure(RTPMediaParameters(
            codec: negotiated.codec.name, payloadType: UInt8(negotiated.codec.payloadType), dtmfPayloadType: negotiated.dtmfPayloadType.map(UInt8.init),
            remoteHost: negotiated.remoteHost, remotePort: negotiated.remotePort))
        if let recording {
            let logger = self.logger
            media.record(to: recording) { reason in logger.error("recording stopped", metadata: ["error": "\(reason)"]) }
        }
        guard let call = try? await incoming.answer(sdp: sdp, media: negotiated, sessionID: 1) else { return }
        Task { await self.converse(call: call, media: media) }
    }

    /// Speaks each line once the agent paused (VAD), or over it for interrupting lines.
    private func converse(call: SIPCall, media: RTPSession) async {
        let vad = VoiceActivityDetector(sampleRate: 16000)
        var next = 0
        var agentTalking = false
        var agentStartFrame = 0
        var quietFrames = 0
        var frame = 0
        var speakingUntil = 0
        let clock = Task { await media.run() }
        // The end of the dialog stops the media, which ends the loop below.
        let ended = Task { () -> String in
            defer { media.stop() }
            for await e in call.events { if case .ended(let remote, let reason) = e { return remote ? "agent hung up (\(reason))" : reason } }
            return "ended"
        }
        for await f in media.incoming {
            frame += 1
            let d = vad.process(f.samples)
            if d.event.map({ if case .speechStarted = $0 { return true } else { return false } }) == true {
                if !agentTalking { agentStartFrame = frame }
                agentTalking = true
            }
            quietFrames = d.isSpeech ? 0 : quietFrames + 1
            if agentTalking, quietFrames >= 35 { agentTalking = false }  // the agent paused for 0.7 s
            guard next < lines.count, frame > speakingUntil else { continue }
            // Each line answers an agent turn that started after the previous line was said.
            let replied = agentStartFrame > speakingUntil
            let line = lines[next]
            let interrupt = line.interruptAfter.map { replied && agentTalking && frame - agentStartFrame >= Int($0 * 50) } ?? false
            let afterAgent = line.interruptAfter == nil && replied && !agentTalking && quietFrames == 35
            if interrupt || afterAgent {
                next += 1
                var frames = 0
                do {
                    for try await chunk in try await voice.synthesize(line.text) {
                        media.enqueue(chunk)
                        frames += 1
                    }
                } catch {
                    logger.warning("caller could not speak: \(error)")
                }
                speakingUntil = frame + frames + 10
            }
        }
        clock.cancel()
        let reason = await ended.value
        await media.finishRecording()
        done.continuation.yield(reason)
    }
}
