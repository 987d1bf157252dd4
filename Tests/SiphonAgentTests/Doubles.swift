import Foundation
import SiphonAgent
import SiphonAudio
import SiphonCore
import Synchronization

/// Test doubles at the plugin boundary: scripted STT/LLM/TTS, an in-memory store, a fake line.

final class ScriptedSTT: SpeechToText, @unchecked Sendable {
    let name = "scripted-stt"
    let sampleRate = 16000
    /// Transcripts to emit, in order, one per utterance ("" emits nothing: a cough).
    let script: Script
    init(_ lines: [String]) { script = Script(lines) }
    func open() async throws -> any STTStream { Stream(script: script) }

    final class Script: Sendable {
        let lines: Mutex<[String]>
        init(_ l: [String]) { lines = Mutex(l) }
        func next() -> String? { lines.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
    }

    final class Stream: STTStream, @unchecked Sendable {
        let script: Script
        let transcripts: AsyncThrowingStream<Transcript, any Error>
        let sink: AsyncThrowingStream<Transcript, any Error>.Continuation
        var heardSpeech = false
        init(script: Script) {
            self.script = script
            (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
        }
        func send(_ frame: AudioFrame, speech: Bool) async throws { if speech { heardSpeech = true } }
        func flush() async throws {
            guard heardSpeech else { return }
            heardSpeech = false
            let next = script.next()
            if let next, !next.isEmpty { sink.yield(Transcript(text: next, isFinal: true)) }
        }
        func close() async { sink.finish() }
    }
}

/// Transcripts by when each utterance ends (frames sent so far), each text once: for speech whose
/// pauses split it into a number of utterances the test does not want to depend on.
final class TimedSTT: SpeechToText, @unchecked Sendable {
    let name = "timed-stt"
    let sampleRate = 16000
    let rule: @Sendable (Int) -> String?
    init(_ rule: @escaping @Sendable (Int) -> String?) { self.rule = rule }
    func open() async throws -> any STTStream { Stream(rule: rule) }

    final class Stream: STTStream, @unchecked Sendable {
        let rule: @Sendable (Int) -> String?
        let transcripts: AsyncThrowingStream<Transcript, any Error>
        let sink: AsyncThrowingStream<Transcript, any Error>.Continuation
        var frames = 0
        var said: Set<String> = []
        init(rule: @escaping @Sendable (Int) -> String?) {
            self.rule = rule
            (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
        }
        func send(_ frame: AudioFrame, speech: Bool) async throws { frames += 1 }
        func flush() async throws {
            guard let text = rule(frames), said.insert(text).inserted else { return }
            sink.yield(Transcript(text: text, isFinal: true))
        }
        func close() async { sink.finish() }
    }
}

/// A streaming recogniser on the caller's timeline (frames sent so far): for each utterance the test
/// schedules, interim results from `interimLag` frames after it starts, every `interimEvery` frames,
/// as many of its words as the time spoken so far is of the whole; the final `finalLatency` frames
/// after it ends (a cloud recogniser endpointing on its own, not on the local VAD).
final class TimelineSTT: SpeechToText, @unchecked Sendable {
    let name = "timeline-stt"
    let sampleRate = 16000
    let streamsInterimResults: Bool
    struct Utterance: Sendable { var start: Int, end: Int, text: String }
    let utterances = Mutex<[Utterance]>([])
    let interimLag: Int, interimEvery: Int, finalLatency: Int
    init(interims: Bool = true, interimLag: Int = 12, interimEvery: Int = 10, finalLatency: Int = 20) {
        (self.interimLag, self.interimEvery, self.finalLatency) = (interimLag, interimEvery, finalLatency)
        streamsInterimResults = interims
    }
    func schedule(_ text: String, start: Int, end: Int) { utterances.withLock { $0.append(Utterance(start: start, end: end, text: text)) } }
    func open() async throws -> any STTStream { Stream(owner: self) }

    final class Stream: STTStream, @unchecked Sendable {
        let owner: TimelineSTT
        let transcripts: AsyncThrowingStream<Transcript, any Error>
        let sink: AsyncThrowingStream<Transcript, any Error>.Continuation
        var frames = 0
        init(owner: TimelineSTT) {
            self.owner = owner
            (transcripts, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
        }
        func send(_ frame: AudioFrame, speech: Bool) async throws {
            frames += 1
            let n = frames
            for u in owner.utterances.withLock({ $0 }) {
                let words = u.text.split(separator: " ")
                if n == u.end + owner.finalLatency {
                    sink.yield(Transcript(text: u.text, isFinal: true))
                } else if owner.streamsInterimResults, n >= u.start + owner.interimLag, n <= u.end + owner.interimLag,
                          (n - u.start - owner.interimLag) % owner.interimEvery == 0 {
                    let spoken = Double(n - owner.interimLag - u.start + 1) / Double(max(1, u.end - u.start + 1))
                    let k = max(1, min(words.count, Int((Double(words.count) * spoken).rounded(.up))))
                    sink.yield(Transcript(text: words.prefix(k).joined(separator: " "), isFinal: false))
                }
            }
        }
        func flush() async throws {}
        func close() async { sink.finish() }
    }
}

/// Replies from a list; records every request it gets.
final class ScriptedLLM: LanguageModel, @unchecked Sendable {
    let name = "scripted-llm"
    let replies: Mutex<[[LLMEvent]]>
    let requests = Mutex<[LLMRequest]>([])
    init(_ replies: [[LLMEvent]]) { self.replies = Mutex(replies) }
    func stream(_ request: LLMRequest) async throws -> AsyncThrowingStream<LLMEvent, any Error> {
        requests.withLock { $0.append(request) }
        let events = replies.withLock { $0.isEmpty ? [.text("Okay.")] : $0.removeFirst() }
        return AsyncThrowingStream { c in
            for e in events { c.yield(e) }
            c.finish()
        }
    }
}

/// One 20 ms frame of a tone per word, so utterance length follows the text.
struct ToneTTS: TextToSpeech {
    let name = "tone-tts"
    let sampleRate = 16000
    var framesPerWord = 10
    func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        let n = max(1, text.split(separator: " ").count * framesPerWord)
        return AsyncThrowingStream { c in
            for i in 0..<n {
                c.yield(AudioFrame(sampleRate: 16000, samples: (0..<320).map { j in Int16(6000 * sin(Double(i * 320 + j) * 2 * .pi * 300 / 16000)) }))
            }
            c.finish()
        }
    }
}

/// A door the test opens: whatever waits at it goes on once it is open.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
    func open() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for c in waiting { c.resume() }
    }
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let open = state.withLock { s -> Bool in
                if !s.open { s.waiting.append(c) }
                return s.open
            }
            if open { c.resume() }
        }
    }
}

/// `ToneTTS` that counts what it was asked to say; `failing` lines throw after their first frame.
final class CountingTTS: TextToSpeech, @unchecked Sendable {
    let name = "counting-tts"
    let sampleRate = 16000
    let failing: Set<String>
    /// How long each synthesis takes before its first frame.
    let delay: Duration
    /// Each synthesis waits for it to open before its first frame.
    let gate: Gate?
    private let asked = Mutex<[String]>([])
    init(failing: Set<String> = [], delay: Duration = .zero, gate: Gate? = nil) { (self.failing, self.delay, self.gate) = (failing, delay, gate) }
    var requests: [String] { asked.withLock { $0 } }
    func count(_ text: String) -> Int { requests.filter { $0 == text }.count }
    func synthesize(_ text: String) async throws -> AsyncThrowingStream<AudioFrame, any Error> {
        asked.withLock { $0.append(text) }
        if delay > .zero { try await Task.sleep(for: delay) }
        await gate?.wait()
        let tone = try await ToneTTS().synthesize(text)
        let fails = failing.contains(text)
        return AsyncThrowingStream { c in
            Task {
                do {
                    for try await f in tone {
                        c.yield(f)
                        if fails { throw SiphonError.invalid("the TTS connection dropped") }
                    }
                    c.finish()
                } catch { c.finish(throwing: error) }
            }
        }
    }
}

final class MemoryStore: ConversationStore, @unchecked Sendable {
    let turns: Mutex<[Turn]>
    let context = Mutex<[String: String]>([:])
    init(_ turns: [Turn] = []) { self.turns = Mutex(turns) }
    func append(_ turn: Turn) async throws -> Bool {
        turns.withLock { t in
            if t.contains(where: { $0.seq == turn.seq }) { return false }
            t.append(turn)
            return true
        }
    }
    func setContext(_ fields: [String: String]) async throws { context.withLock { $0.merge(fields) { $1 } } }
    func history() async throws -> [Turn] { turns.withLock { $0 } }
    func context() async throws -> [String: String] { context.withLock { $0 } }
    var all: [Turn] { turns.withLock { $0 } }
    let events = Mutex<[(type: String, fields: [String: String])]>([])
    func event(_ type: String, detail: String, fields: [String: String]) async throws {
        events.withLock { $0.append((type, fields.merging(["detail": detail]) { field, _ in field })) }
    }
    func events(_ type: String) -> [[String: String]] { events.withLock { $0.filter { $0.type == type }.map(\.fields) } }
    /// Set to stand for a call canceled through the API (the stop ends the call).
    let stopEnds = Mutex(false)
    var stopEndsTheCall: Bool { stopEnds.withLock { $0 } }
}

/// A phone line that sends one queued frame per inbound frame the test feeds (the media clock).
final class FakeLine: CallAudio, @unchecked Sendable {
    private let state = Mutex<(queue: [AudioFrame], sent: Int, flushes: [Int], hangup: String?, digits: String, silentTicksAfterFlush: [Int])>(([], 0, [], nil, "", []))
    func enqueue(_ frame: AudioFrame) { state.withLock { $0.queue.append(frame) } }
    func flush() -> Int { state.withLock { s in let n = s.queue.count; s.queue = []; s.flushes.append(n); return n } }
    var queuedFrames: Int { state.withLock { $0.queue.count } }
    var sentFrames: Int { state.withLock { $0.sent } }
    func sendDigits(_ digits: String) async { state.withLock { $0.digits += digits } }
    func transfer(to target: String) async throws -> Int { 202 }
    func hangup(reason: String) async { state.withLock { $0.hangup = reason } }
    /// One 20 ms slot: sends a queued frame if there is one; returns whether it sent agent audio.
    @discardableResult
    func tick() -> Bool { state.withLock { s in guard !s.queue.isEmpty else { return false }; s.queue.removeFirst(); s.sent += 1; return true } }
    var hungUp: String? { state.withLock { $0.hangup } }
    /// Set for a line whose frames may stop with the call still on (a browser's).
    let mayResume = Mutex(false)
    var framesMayResume: Bool { mayResume.withLock { $0 } }
    var digits: String { state.withLock { $0.digits } }
    var flushes: [Int] { state.withLock { $0.flushes } }
}

enum Caller {
    /// Voiced speech stand-in (the VAD detects it) for `frames` frames, at 16 kHz.
    static func speech(_ frames: Int) -> [AudioFrame] {
        (0..<frames).map { i in
            AudioFrame(sampleRate: 16000, samples: (0..<320).map { j in
                let t = Double(i * 320 + j) / 16000
                var v = 0.0
                for k in 1...8 { v += sin(2 * .pi * 140 * Double(k) * t) / Double(k) }
                return Int16(v * 3000)
            })
        }
    }

    /// Real speech for seconds on end (a recorded greeting, a long answer), by eSpeak NG at 16 kHz:
    /// a VAD soon takes a steady synthetic voice for line noise, so long speech must be speech.
    static func spoken(_ text: String, voice: String = "en-us", rate: Int = 160) throws -> [AudioFrame] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caller-\(getpid())-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
        p.arguments = ["-v", voice, "-s", String(rate), "-w", path, text]
        try p.run()
        p.waitUntilExit()
        let wav = try WAVFile.read(path)
        let samples = try Resampler(from: wav.sampleRate, to: 16000).process(wav.samples)
        return stride(from: 0, to: samples.count - 319, by: 320).map { AudioFrame(sampleRate: 16000, samples: Array(samples[$0..<$0 + 320])) }
    }

    /// A single tone (a voicemail's beep, fax CNG) at 16 kHz.
    static func tone(_ hz: Double, frames: Int) -> [AudioFrame] {
        (0..<frames).map { i in
            AudioFrame(sampleRate: 16000, samples: (0..<320).map { j in Int16(8000 * sin(2 * .pi * hz * Double(i * 320 + j) / 16000)) })
        }
    }

    static func silence(_ frames: Int) -> [AudioFrame] {
        (0..<frames).map { i in
            let samples: [Int16] = (0..<320).map { (j: Int) -> Int16 in
                let x: Int = ((i * 320 + j) &* 1_103_515_245 &+ 12345) % 61
                return Int16(x - 30)
            }
            return AudioFrame(sampleRate: 16000, samples: samples)
        }
    }
}

/// A recogniser that connects only when the test says so (or then fails): what the conversation
/// does while a handshake takes seconds. Counts the frames it is given, in order.
final class GatedSTT: SpeechToText, @unchecked Sendable {
    let name = "gated-stt"
    let sampleRate = 16000
    let inner: ScriptedSTT
    let fails: Bool
    private let gate = Mutex(false)
    let received = Mutex(0)
    init(_ lines: [String], fails: Bool = false) { (inner, self.fails) = (ScriptedSTT(lines), fails) }
    func open() async throws -> any STTStream {
        while !gate.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(2)) }
        if fails { throw SiphonError.invalid("the recogniser refused the key") }
        return Counting(inner: try await inner.open(), owner: self)
    }
    func release() { gate.withLock { $0 = true } }

    final class Counting: STTStream, @unchecked Sendable {
        let inner: any STTStream
        let owner: GatedSTT
        init(inner: any STTStream, owner: GatedSTT) { (self.inner, self.owner) = (inner, owner) }
        var transcripts: AsyncThrowingStream<Transcript, any Error> { inner.transcripts }
        func send(_ frame: AudioFrame, speech: Bool) async throws {
            owner.received.withLock { $0 += 1 }
            try await inner.send(frame, speech: speech)
        }
        func flush() async throws { try await inner.flush() }
        func close() async { await inner.close() }
    }
}
