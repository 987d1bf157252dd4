import Synchronization

/// Whether an outbound call was answered, said once: an agent that joined the room while the
/// phone rang waits on it to start talking, or to leave.
final class AnswerLatch: Sendable {
    private let state = Mutex<(answered: Bool?, waiters: [CheckedContinuation<Bool, Never>])>((nil, []))

    /// The first call decides; later ones are ignored.
    func resolve(_ answered: Bool) {
        let waiters = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            guard s.answered == nil else { return [] }
            s.answered = answered
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: answered) }
    }

    func wait() async -> Bool {
        await withCheckedContinuation { c in
            let known = state.withLock { s -> Bool? in
                if s.answered == nil { s.waiters.append(c) }
                return s.answered
            }
            if let known { c.resume(returning: known) }
        }
    }
}
