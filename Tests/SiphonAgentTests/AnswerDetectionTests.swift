import Foundation
import Testing
@testable import SiphonAgent
import SiphonAudio
import SiphonCore

/// Answering-machine detection inside the conversation: the agent says nothing until it is known
/// who answered, then talks, leaves its message after the beep, announces itself to a screener,
/// navigates a menu or hangs up. Frames are fed in lock-step, so every check is a frame count.
@Suite(.timeLimit(.minutes(1)))
struct AnswerDetectionTests {
    typealias Run = ConversationTests.Run

    func agent(stt: [String], llm: [[LLMEvent]] = []) -> Agent { agent(stt: ScriptedSTT(stt), llm: llm) }

    func agent(stt: any SpeechToText, llm: [[LLMEvent]] = []) -> Agent {
        Agent(name: "Test", llm: ScriptedLLM(llm), tts: ToneTTS(), stt: stt, instructions: "Be brief.", greeting: "Hi, this is Bright Smile Dental.")
    }

    func settings(_ change: (inout AMDSettings) -> Void = { _ in }) -> AMDSettings {
        var s = AMDSettings()
        change(&s)
        return s
    }

    @Test func aPersonIsGreetedOnlyOnceTheyHaveSpokenAndPaused() async throws {
        let run = Run(agent: agent(stt: ["hi who's calling"]), answerDetection: settings())
        await run.feed(Caller.silence(15) + Caller.speech(30))
        #expect(run.line.sentFrames == 0 && run.line.queuedFrames == 0, "the agent spoke before the decision")
        let waited = await run.feedSilence(until: { !run.store.events("amd").isEmpty })
        let amd = try #require(run.store.events("amd").first)
        #expect(amd["result"] == "human" && amd["action"] == "converse", "\(amd)")
        // A person's phrase ("who's calling") decides when the recogniser has it: here its final, at
        // the VAD's end of speech — not 200 ms of pause later, as when the phrase waited for one.
        #expect(waited <= 8, "decided \(waited) frames after the speech")
        await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(run.store.all.map(\.text) == ["Hi, this is Bright Smile Dental."], "the callee's hello is not a turn")
        #expect(run.store.context.withLock { $0["amd.result"] } == "human")
        _ = await run.finish()
    }

    /// The greeting is synthesised while detection listens: the person who said hello hears it with
    /// no TTS round trip, and the wait from their hello to it is the greeting turn's voice-to-voice.
    @Test func theGreetingIsReadyWhenThePersonHasSpoken() async throws {
        let tts = CountingTTS()
        let a = Agent(name: "Test", llm: ScriptedLLM([]), tts: tts, stt: ScriptedSTT(["hello"]), instructions: "Be brief.",
                      greeting: "Hi, this is Bright Smile Dental.")
        let run = Run(agent: a, answerDetection: settings())
        await run.feed(Caller.silence(5))
        for _ in 0..<500 where a.phrases.audio("Hi, this is Bright Smile Dental.", rate: 16000) == nil {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(tts.requests == ["Hi, this is Bright Smile Dental."], "warmed before anyone spoke")
        #expect(run.line.sentFrames == 0 && run.line.queuedFrames == 0, "warming says nothing")
        await run.feed(try Caller.spoken("Hello?"))
        await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(tts.requests.count == 1, "said from the cache: \(tts.requests)")
        let greeting = try #require(run.store.all.first)
        #expect(greeting.text == "Hi, this is Bright Smile Dental." && greeting.extra["tts.cached"] == "true", "\(greeting.extra)")
        let v2v = try #require(Int(greeting.extra["latency.voice_to_voice_ms"] ?? ""), "no wait measured: \(greeting.extra)")
        #expect(v2v > 0, "\(greeting.extra)")
        _ = await run.finish()
    }

    /// A person decided before the greeting's warm-up is synthesised (a slow TTS) hears the warm-up
    /// once it is ready: one synthesis, not a second one paid for and waited for from the start.
    @Test func aPersonDecidedBeforeTheWarmUpEndsIsGreetedFromIt() async throws {
        let synthesis = Gate()  // the warm-up's synthesis ends when the test says
        let tts = CountingTTS(gate: synthesis)
        let a = Agent(name: "Test", llm: ScriptedLLM([]), tts: tts, stt: ScriptedSTT(["hello"]), instructions: "Be brief.",
                      greeting: "Hi, this is Bright Smile Dental.")
        let run = Run(agent: a, answerDetection: settings())
        await run.feed(try Caller.spoken("Hello?"))
        _ = await run.feedSilence(until: { !run.store.events("amd").isEmpty })
        #expect(run.store.events("amd").first?["result"] == "human")
        await run.feed(Caller.silence(20))  // the greeting is asked for while its warm-up is on its way
        synthesis.open()
        await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(tts.requests == ["Hi, this is Bright Smile Dental."], "synthesised again: \(tts.requests)")
        #expect(run.store.all.first?.extra["tts.cached"] == "true", "\(run.store.all.first?.extra ?? [:])")
        _ = await run.finish()
    }

    /// "Yes, this is Ann…" decides "person" on the recogniser's first interim, while she is still
    /// talking; the greeting waits for her to finish (turn-taking's delay, not the cadence's pause).
    @Test func aPersonDecidedWhileTalkingIsGreetedWhenTheyStop() async throws {
        let stt = TimelineSTT()
        stt.schedule("yes this is ann speaking from the front desk", start: 10, end: 70)
        let run = Run(agent: agent(stt: stt), answerDetection: settings())
        await run.feed(Caller.silence(10) + Caller.speech(30))
        let amd = try #require(run.store.events("amd").first, "not decided while she talked")
        #expect(amd["result"] == "human" && amd["cause"] == "words: a person's answer", "\(amd)")
        await run.feed(Caller.speech(30))
        #expect(run.line.sentFrames == 0 && run.line.queuedFrames == 0, "the agent spoke over her")
        let waited = await run.feedSilence(until: { run.line.sentFrames > 0 })
        // min_endpointing_delay (200 ms) from her last voiced frame, and a few frames for the voice's
        // first frame to be queued (the response task; more on a loaded machine).
        #expect(waited >= 9 && waited <= 16, "greeted \(waited) frames after she stopped")
        await run.feedSilence(until: { run.store.all.count == 1 })
        #expect(run.store.all.map(\.text) == ["Hi, this is Bright Smile Dental."], "what she said on picking up is not a turn")
        _ = await run.finish()
    }

    @Test func aMachineIsHungUpOnAtTheEndOfItsGreetingWithoutAWord() async throws {
        let run = Run(agent: agent(stt: ["you have reached the office of doctor smith"]), answerDetection: settings())
        await run.feed(try Caller.spoken("Hi there, you have reached the office of Doctor Smith at Main Street") + Caller.silence(10))
        let amd = try #require(run.store.events("amd").first)
        #expect(amd["result"] == "machine" && (amd["cause"] == "long greeting" || amd["cause"]?.hasPrefix("words") == true), "\(amd)")
        await run.feedSilence(until: { run.line.hungUp != nil })
        #expect(run.line.hungUp == "answering machine")
        #expect(run.line.sentFrames == 0 && run.store.all.isEmpty)
        #expect(await run.finish() == Conversation.Outcome(status: .ended, reason: "answering machine"))
    }

    @Test func theMessageStartsAfterTheBeepAndTheAgentHangsUp() async throws {
        let message = "This is Bright Smile Dental calling about your appointment tomorrow at nine"
        let run = Run(agent: agent(stt: ["please leave a message after the tone"]),
                      answerDetection: settings { $0.onMachine = .leaveMessage; $0.message = message })
        await run.feed(try Caller.spoken("Hi there, you have reached Ann, please leave a message after the tone") + Caller.silence(20))
        #expect(run.line.sentFrames == 0 && run.line.queuedFrames == 0, "spoke over the greeting")
        await run.feed(Caller.tone(1000, frames: 25))  // the beep
        #expect(run.line.sentFrames == 0 && run.line.queuedFrames == 0, "spoke over the beep")
        let after = await run.feedSilence(until: { run.line.sentFrames > 0 })
        // Decided on the frame after the beep (the tone detector's 40 ms window); the rest is the
        // response task and the test TTS getting their first frame queued.
        #expect(after <= 15, "the message started \(after) frames after the beep")
        #expect(run.store.events("amd_message").first != nil)
        await run.feedSilence(until: { run.line.hungUp != nil }, limit: 400)
        #expect(run.line.hungUp == "left a message on an answering machine")
        let turn = try #require(run.store.all.first)
        #expect(turn.text == message && turn.extra["amd"] == "voicemail_message" && run.store.all.count == 1)
        _ = await run.finish()
    }

    /// A greeting that ends in silence, then beeps once the message has begun: the message stops at
    /// the beep and is said again, whole, after it — one stored turn, what the recording keeps.
    @Test func aLateBeepStartsTheMessageAgainAfterIt() async throws {
        let message = "This is Bright Smile Dental calling about your appointment tomorrow at nine"
        let run = Run(agent: agent(stt: ["you have reached ann"]),
                      answerDetection: settings { $0.onMachine = .leaveMessage; $0.message = message })
        await run.feed(try Caller.spoken("Hi there, you have reached Ann, I am not at my desk at the moment"))
        await run.feedSilence(until: { run.line.sentFrames > 0 })  // no beep yet: the message after 1.5 s of silence
        #expect(run.store.events("amd_message").first?["detail"]?.hasPrefix("after the greeting and its silence") == true)
        await run.feed(Caller.silence(30))
        let before = run.line.sentFrames
        await run.feed(Caller.tone(850, frames: 25))  // the late beep: the recording starts at its end
        #expect(run.store.events("amd_late_beep").count == 1)
        // Cut once the beep is known (150 ms of it): nothing more while it sounds.
        let cut = run.line.sentFrames
        #expect(run.line.queuedFrames == 0 && cut - before <= 10, "spoke over the beep: \(cut - before) frames")
        let after = await run.feedSilence(until: { run.line.sentFrames > cut })
        #expect(after <= 15, "the message started again \(after) frames after the beep")
        await run.feedSilence(until: { run.line.hungUp != nil }, limit: 400)
        #expect(run.line.hungUp == "left a message on an answering machine")
        #expect(run.store.all.map(\.text) == [message], "the cut start is not a turn: \(run.store.all.map(\.text))")
        #expect(run.store.all.first?.extra["amd_restarted"] == "after a late beep")
        // After a greeting that ended with its beep, a later tone is not watched for.
        let onBeep = Run(agent: agent(stt: ["please leave a message after the tone"]),
                         answerDetection: settings { $0.onMachine = .leaveMessage; $0.message = message })
        await onBeep.feed(try Caller.spoken("Hi there, you have reached Ann, please leave a message after the tone") + Caller.silence(20))
        await onBeep.feed(Caller.tone(1000, frames: 25))
        await onBeep.feedSilence(until: { onBeep.line.sentFrames > 0 })
        await onBeep.feed(Caller.silence(20) + Caller.tone(850, frames: 25))
        #expect(onBeep.store.events("amd_late_beep").isEmpty && onBeep.line.sentFrames > 40)
        _ = await run.finish()
        _ = await onBeep.finish()
    }

    /// A call resumed after its worker was lost (or cut off from Redis and silenced) carries on
    /// from how far detection had got, kept in its context: the message is said again whole (not
    /// the bridging line to a voicemail), a message already left ends the call, and a greeting
    /// still going is waited out.
    @Test func aResumedCallCarriesOnFromItsDetectionStage() async throws {
        let message = "This is Bright Smile Dental calling about your appointment tomorrow at nine"
        let amd = settings { $0.onMachine = .leaveMessage; $0.message = message }
        let first = Run(agent: agent(stt: ["you have reached ann please leave a message"]), answerDetection: amd)
        await first.feed(Caller.silence(1))
        #expect(first.store.context.withLock { $0["amd.stage"] } == "detecting")
        await first.feed(try Caller.spoken("Hi there, you have reached Ann, please leave a message after the tone") + Caller.silence(20))
        #expect(first.store.context.withLock { $0["amd.stage"] } == "awaiting_greeting_end")
        await first.feed(Caller.tone(1000, frames: 25))
        await first.feedSilence(until: { first.line.sentFrames > 10 })
        #expect(first.store.context.withLock { $0["amd.stage"] } == "message")
        _ = await first.finish()  // the worker is lost a few words into the message

        let resumed = Run(agent: agent(stt: []), store: first.store, resume: true, answerDetection: amd)
        let waited = await resumed.feedSilence(until: { resumed.line.sentFrames > 0 })
        // At once: not after a greeting's end listened for afresh (1.5 s of quiet, 75 frames).
        #expect(waited <= 25, "the message started again \(waited) frames after the resume")
        await resumed.feedSilence(until: { resumed.line.hungUp != nil }, limit: 400)
        #expect(resumed.line.hungUp == "left a message on an answering machine")
        #expect(resumed.store.all.last?.text == message && !resumed.store.all.contains { $0.text.hasPrefix("Sorry about that") },
                "\(resumed.store.all.map(\.text))")
        #expect(resumed.store.context.withLock { $0["amd.stage"] } == "message_left")
        _ = await resumed.finish()

        // Resumed after the message was left: nothing more is said.
        let again = Run(agent: agent(stt: []), store: resumed.store, resume: true, answerDetection: amd)
        await again.feedSilence(until: { again.ended.value }, limit: 50)
        #expect(again.line.hungUp == "left a message on an answering machine" && again.ended.value)
        #expect(again.line.sentFrames == 0 && again.line.queuedFrames == 0, "spoke again after the message was left")
        _ = await again.finish()

        // Resumed while the greeting still plays: silent through it, the message after its beep.
        let store = MemoryStore()
        try await store.setContext(["amd.stage": "awaiting_greeting_end"])
        let midGreeting = Run(agent: agent(stt: []), store: store, resume: true, answerDetection: amd)
        await midGreeting.feed(try Caller.spoken("I am not at my desk at the moment") + Caller.silence(10))
        #expect(midGreeting.line.sentFrames == 0 && midGreeting.line.queuedFrames == 0, "spoke over the greeting")
        await midGreeting.feed(Caller.tone(1000, frames: 25))
        let afterBeep = await midGreeting.feedSilence(until: { midGreeting.line.sentFrames > 0 })
        // At the beep: not after 1.5 s of quiet (75 frames). The response task's first frame may take
        // a few frames to be queued on a loaded machine (13 seen with the unit suites in parallel).
        #expect(afterBeep <= 30 && midGreeting.store.events("amd_message").first?["detail"]?.hasPrefix("after the beep") == true,
                "\(afterBeep) frames; \(midGreeting.store.events.withLock { $0 })")
        _ = await midGreeting.finish()

        // Lost before its first stage was stored, with nothing said: detection afresh, silent over a greeting.
        let unstaged = Run(agent: agent(stt: []), store: MemoryStore(), resume: true, answerDetection: amd)
        await unstaged.feed(try Caller.spoken("I am not at my desk at the moment") + Caller.silence(10))
        #expect(unstaged.line.sentFrames == 0 && unstaged.line.queuedFrames == 0 && unstaged.store.all.isEmpty,
                "spoke over the greeting: \(unstaged.store.all.map(\.text))")
        #expect(unstaged.store.context.withLock { $0["amd.stage"] } != nil)
        _ = await unstaged.finish()

        // Resumed while announcing to a screener: the announcement again, whole, then the person is
        // waited for and greeted.
        let announcement = "This is Bright Smile Dental about an appointment"
        let screened = MemoryStore()
        try await screened.setContext(["amd.stage": "announcing"])
        let announcing = Run(agent: agent(stt: ["hello"]), store: screened, resume: true,
                             answerDetection: settings { $0.onScreener = .announce; $0.announcement = announcement })
        await announcing.feedSilence(until: { announcing.store.all.count == 1 })
        #expect(announcing.store.all.map(\.text) == [announcement] && announcing.store.all[0].extra["amd"] == "screener_announcement")
        await announcing.feedSilence(until: { false }, limit: 30)
        #expect(announcing.store.all.count == 1 && announcing.store.context.withLock { $0["amd.stage"] } == "awaiting_person")
        await announcing.feed(Caller.speech(30))
        await announcing.feedSilence(until: { announcing.store.all.count == 2 })
        #expect(announcing.store.all.last?.text == "Hi, this is Bright Smile Dental.", "\(announcing.store.all.map(\.text))")
        _ = await announcing.finish()
    }

    @Test func aPersonTakenForAMachineTalksBackAndTheConversationGoesOn() async throws {
        let answer = try Caller.spoken("Hello this is Sam speaking who is it that I am talking to")
        let stt = TimedSTT { [n = answer.count] frames in frames <= n + 10 ? nil : "oh yes I remember" }  // the answer's own words unheard
        let run = Run(agent: agent(stt: stt, llm: [[.text("Great, see you tomorrow.")]]),
                      answerDetection: settings { $0.onMachine = .leaveMessage; $0.message = "This is Bright Smile Dental about your appointment" })
        await run.feed(answer)  // "machine" by its length
        await run.feedSilence(until: { run.line.sentFrames > 0 })  // no beep: the message after the silence
        #expect(run.store.events("amd").first?["result"] == "machine")
        await run.feedSilence(until: { run.store.all.count == 1 })  // the message has played
        #expect(run.line.hungUp == nil)
        await run.feed(Caller.speech(40))  // the person answers the message
        await run.feedSilence(until: { run.store.all.count == 3 })
        #expect(run.store.all.map(\.role) == [.agent, .user, .agent] && run.store.all[1].text == "oh yes I remember",
                "\(run.store.all.map(\.text)) \(run.store.events.withLock { $0 })")
        #expect(run.store.events("amd_recovered").count == 1)
        #expect(run.line.hungUp == nil)
        _ = await run.finish()
    }

    /// "Hello?", a pause, then the recording: a person by the cadence, greeted, until the words show
    /// a voicemail; the agent stops and leaves its message after the beep.
    @Test func aHelloThenAVoicemailIsARecordingAfterAll() async throws {
        let message = "This is Bright Smile Dental calling about your appointment tomorrow at nine"
        let stt = TimelineSTT()
        stt.schedule("hello", start: 10, end: 30)
        let run = Run(agent: agent(stt: stt), answerDetection: settings { $0.onMachine = .leaveMessage; $0.message = message })
        await run.feed(Caller.silence(10) + Caller.speech(20) + Caller.silence(30))
        let waited = await run.feedSilence(until: { run.line.sentFrames > 0 })  // greeted
        #expect(run.store.events("amd").first?["result"] == "human")
        let start = 60 + waited + 10  // the recording goes on 200 ms into the greeting
        await run.feed(Caller.silence(10))
        stt.schedule("sorry i can't come to the phone right now leave a message after the beep", start: start, end: start + 130)
        await run.feed(Caller.speech(130))
        let revised = try #require(run.store.events("amd_revised").first, "\(run.store.events.withLock { $0 })")
        #expect(revised["result"] == "machine" && revised["cause"]?.hasPrefix("words after it: ") == true, "\(revised)")
        #expect(run.line.queuedFrames == 0, "the agent went on talking to the recording")
        #expect(run.store.context.withLock { $0["amd.stage"] } == "awaiting_greeting_end")
        let before = run.line.sentFrames
        await run.feed(Caller.silence(10) + Caller.tone(1000, frames: 25))
        #expect(run.line.sentFrames == before, "spoke before the beep")
        await run.feedSilence(until: { run.line.hungUp != nil }, limit: 600)
        #expect(run.line.hungUp == "left a message on an answering machine")
        #expect(run.store.all.last?.text == message && run.store.events("amd_message").count == 1, "\(run.store.all.map(\.text))")
        _ = await run.finish()
    }

    /// A person's words ("who's calling?") are not taken back; nor is a person by the cadence
    /// whose later words are what people say too ("I'm not available tomorrow").
    @Test func aPersonDecidedByTheirWordsOrSayingPeoplesWordsStaysAPerson() async throws {
        for (answer, later) in [("hi who's calling", "please leave a message with my assistant"), ("hello", "sorry i am not available tomorrow")] {
            let stt = TimelineSTT()
            stt.schedule(answer, start: 10, end: 30)
            stt.schedule(later, start: 90, end: 160)
            let run = Run(agent: agent(stt: stt, llm: [[.text("Of course.")]]), answerDetection: settings { $0.onMachine = .hangup })
            await run.feed(Caller.silence(10) + Caller.speech(20) + Caller.silence(60) + Caller.speech(70))
            await run.feedSilence(until: { run.store.all.count >= 3 })
            #expect(run.store.events("amd_revised").isEmpty && run.line.hungUp == nil, "\(answer): \(run.store.events.withLock { $0 })")
            #expect(run.store.all.map(\.role) == [.agent, .user, .agent], "\(answer): \(run.store.all.map(\.text))")
            _ = await run.finish()
        }
    }

    @Test func aScreenerHearsTheAnnouncementThenThePersonIsGreeted() async throws {
        let run = Run(agent: agent(stt: ["please state your name and the reason for your call", "hello"]),
                      answerDetection: settings { $0.onScreener = .announce; $0.announcement = "This is Bright Smile Dental about an appointment" })
        await run.feed(try Caller.spoken("Please state your name and the reason for your call"))
        await run.feedSilence(until: { run.store.all.count == 1 })  // the words arrive at the pause: revised, announced
        #expect(run.store.all[0].extra["amd"] == "screener_announcement")
        // (The scripted recogniser has the words at the first pause: decided by them, not revised.)
        #expect(run.store.events("amd").first?["result"] == "screener", "\(run.store.events.withLock { $0 })")
        await run.feedSilence(until: { false }, limit: 30)
        #expect(run.store.all.count == 1, "no greeting before the person")
        await run.feed(Caller.speech(30))
        await run.feedSilence(until: { run.store.all.count == 2 })
        #expect(run.store.all[1].text == "Hi, this is Bright Smile Dental.", "\(run.store.all) \(run.store.events.withLock { $0 })")
        _ = await run.finish()
    }

    @Test func aMenuIsNavigatedWithKeys() async throws {
        let press = ToolCall(id: "k1", name: "send_dtmf", arguments: #"{"digits":"2"}"#)
        let run = Run(agent: agent(stt: ["for sales press one for support press two"], llm: [[.toolCall(press)], [.text("")]]),
                      answerDetection: settings { $0.onIVR = .navigate })
        await run.feed(try Caller.spoken("For sales press one, for support press two") + Caller.silence(5))
        await run.feedSilence(until: { run.line.digits == "2" })
        #expect(run.store.events("amd").first?["result"] == "ivr", "\(run.store.events.withLock { $0.map(\.fields) })")
        #expect(run.store.all.first?.role == .user && run.store.all.first?.text == "for sales press one for support press two")
        #expect(!run.store.all.contains { $0.text == "Hi, this is Bright Smile Dental." }, "greeted a menu")
        _ = await run.finish()
    }

    /// A recogniser with finals only gives a screener's words at its first pause, when the cadence
    /// has said "machine": the words still make it a screener, while the agent waits.
    @Test func aMachineByItsLengthIsRevisedByItsWords() throws {
        var s = AMDSettings()
        (s.onScreener, s.announcement) = (.announce, "This is Bright Smile Dental")
        let gate = AnswerGate(settings: s, sampleRate: 16000)
        var action: AnswerGate.Action?
        for f in try Caller.spoken("Please state your name and the reason for your call so that I can") where action == nil {
            action = gate.process(f.samples)
        }
        #expect(action == nil && gate.decision?.kind == .machine && gate.phase != .done, "\(String(describing: gate.decision))")
        #expect(gate.heard("please state your name") == nil, "announced over the screener")
        #expect(gate.revision?.kind == .screener)
        // The announcement waits for the screener's pause.
        for f in Caller.silence(50) where action == nil { action = gate.process(f.samples) }
        #expect(action == .announce("This is Bright Smile Dental"))
    }

    @Test func aFaxIsHungUpOn() async throws {
        let run = Run(agent: agent(stt: []), answerDetection: settings())
        await run.feed(Caller.tone(1100, frames: 25) + Caller.silence(10))
        #expect(run.line.hungUp == "fax machine")
        #expect(run.store.events("amd").first?["result"] == "fax")
        _ = await run.finish()
    }

    @Test func aJobOrAgentWithoutDetectionGreetsAtOnce() async throws {
        let run = Run(agent: agent(stt: []), answerDetection: settings { $0.enabled = false })
        await run.feedSilence(until: { run.line.sentFrames > 0 }, limit: 20)
        #expect(run.line.sentFrames > 0 && run.store.events("amd").isEmpty)
        _ = await run.finish()
    }
}
