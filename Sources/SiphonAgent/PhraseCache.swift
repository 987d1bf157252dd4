import SiphonAudio
import Synchronization

/// An agent's fixed lines (greeting, resume line, fillers, prompts, voicemail message) as its TTS
/// said them, at the pipeline's rate. Said again, a line starts at once: no round trip to the
/// provider on the call's first words or on a filler meant to cover a slow model, and no second
/// charge for the same audio. Bounded: lines of up to `longestSeconds`, the `capacity` most
/// recently stored and no more than `budget` samples of them (8 MB: four minutes at 16 kHz; a
/// job's own message churns through), none older than `maxAge` (a line a fallback voice said
/// while the first was down is said again in the first voice once it is back).
public final class PhraseCache: Sendable {
    struct Key: Hashable {
        let text: String
        let rate: Int
    }

    private struct State {
        var lines: [Key: (samples: [Int16], stored: ContinuousClock.Instant)] = [:]
        var order: [Key] = []
        var samples = 0
        /// Lines being warmed, with the calls waiting for them (`ready` asked while one was).
        var warming: [Key: [Int: CheckedContinuation<[Int16]?, Never>]] = [:]
        var nextWaiter = 0
        /// Waiters cancelled before they were registered.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())
    let capacity: Int
    let longestSeconds: Int
    let maxAge: Duration
    let budget: Int

    public init(capacity: Int = 32, longestSeconds: Int = 30, maxAge: Duration = .seconds(600), budget: Int = 4_000_000) {
        self.capacity = capacity
        self.longestSeconds = longestSeconds
        self.maxAge = maxAge
        self.budget = budget
    }

    /// The line's samples at `rate`, if it was said whole less than `maxAge` ago.
    func audio(_ text: String, rate: Int) -> [Int16]? {
        state.withLock { s in
            guard let line = s.lines[Key(text: text, rate: rate)], line.stored.duration(to: .now) < maxAge else { return nil }
            return line.samples
        }
    }

    /// Keeps a line said whole (never one cut by a barge-in or a provider error).
    func store(_ text: String, rate: Int, samples: [Int16]) {
        guard !samples.isEmpty, samples.count <= rate * longestSeconds, samples.count <= budget else { return }
        let key = Key(text: text, rate: rate)
        state.withLock { s in
            s.order.removeAll { $0 == key }
            s.order.append(key)
            s.samples += samples.count - (s.lines[key]?.samples.count ?? 0)
            s.lines[key] = (samples, .now)
            while s.order.count > capacity || s.samples > budget {
                s.samples -= s.lines.removeValue(forKey: s.order.removeFirst())?.samples.count ?? 0
            }
        }
    }

    var count: Int { state.withLock { $0.lines.count } }

    /// Synthesises `text` into the cache while the call does something else (answering-machine
    /// detection before the greeting), unless it is there or on its way. A failure leaves it to
    /// be synthesised when said, as if never warmed.
    func warm(_ text: String, tts: any TextToSpeech, rate: Int) {
        let key = Key(text: text, rate: rate)
        let start = state.withLock { s -> Bool in
            guard s.lines[key].map({ $0.stored.duration(to: .now) >= maxAge }) ?? true, s.warming[key] == nil else { return false }
            s.warming[key] = [:]
            return true
        }
        guard start else { return }
        Task { [self] in
            let samples = try? await Self.synthesize(text, tts: tts, rate: rate)
            if let samples { store(text, rate: rate, samples: samples) }
            let waiters = state.withLock { $0.warming.removeValue(forKey: key) ?? [:] }
            for waiter in waiters.values { waiter.resume(returning: samples) }
        }
    }

    /// The line from the cache, or from its warm-up if one is on its way (asked for before it
    /// ended: the greeting of a person decided quickly); nil when neither, or the warm-up failed.
    /// Never synthesises: a caller that streams a line it lacks (`Conversation.speak`) starts
    /// speaking sooner than a whole synthesis would let it.
    func ready(_ text: String, rate: Int) async throws -> [Int16]? {
        if let samples = audio(text, rate: rate) { return samples }
        return try await warmed(Key(text: text, rate: rate))
    }

    /// The line as `ready` has it, or synthesised whole and kept; `cached` says whether it was
    /// ready or on its way.
    func line(_ text: String, tts: any TextToSpeech, rate: Int) async throws -> (samples: [Int16], cached: Bool) {
        if let samples = try await ready(text, rate: rate) { return (samples, true) }
        let samples = try await Self.synthesize(text, tts: tts, rate: rate)
        store(text, rate: rate, samples: samples)
        return (samples, false)
    }

    /// The samples of `key`'s warm-up when it ends; nil when none is on its way or it failed. A
    /// cancelled caller (a barge-in) stops waiting at once; the warm-up goes on for the next.
    private func warmed(_ key: Key) async throws -> [Int16]? {
        guard let id = state.withLock({ s -> Int? in
            guard s.warming[key] != nil else { return nil }  // the usual case: nothing to wait for
            s.nextWaiter += 1
            return s.nextWaiter
        }) else { return nil }
        let samples = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[Int16]?, Never>) in
                let waiting = state.withLock { s -> Bool in
                    guard s.warming[key] != nil, s.cancelled.remove(id) == nil else { return false }
                    s.warming[key]![id] = c
                    return true
                }
                if !waiting { c.resume(returning: nil) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<[Int16]?, Never>? in
                guard let c = s.warming[key]?.removeValue(forKey: id) else {
                    s.cancelled.insert(id)
                    return nil
                }
                return c
            }
            waiter?.resume(returning: nil)
        }
        state.withLock { _ = $0.cancelled.remove(id) }  // cancelled once its wait was over
        try Task.checkCancellation()
        return samples
    }

    /// The whole line at `rate`.
    static func synthesize(_ text: String, tts: any TextToSpeech, rate: Int) async throws -> [Int16] {
        var samples: [Int16] = []
        var resampler: Resampler?
        for try await frame in try await tts.synthesize(text) {
            try Task.checkCancellation()
            if frame.sampleRate == rate {
                samples += frame.samples
            } else {
                if resampler == nil { resampler = try Resampler(from: frame.sampleRate, to: rate) }
                samples += resampler!.process(frame.samples)
            }
        }
        return samples
    }
}
