/// Runs provider requests with a `RetryPolicy`. A stream is retried only while it has produced
/// nothing: once a token or an audio frame went out (and may have been spoken), a failure is the
/// caller's to handle — a replay would say things twice.
public enum Retrier {
    public static func stream<T: Sendable>(
        _ policy: RetryPolicy, _ open: @escaping @Sendable (_ attempt: Int) async throws -> AsyncThrowingStream<T, any Error>
    ) -> AsyncThrowingStream<T, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var attempt = 0
                while true {
                    var produced = false
                    do {
                        for try await item in try await open(attempt) {
                            produced = true
                            continuation.yield(item)
                        }
                        continuation.finish()
                        return
                    } catch {
                        if Task.isCancelled { return continuation.finish(throwing: CancellationError()) }
                        guard !produced, let wait = policy.delay(beforeRetry: attempt, after: error) else {
                            return continuation.finish(throwing: error)
                        }
                        attempt += 1
                        do { try await Task.sleep(for: wait) } catch { return continuation.finish(throwing: CancellationError()) }
                    }
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public static func run<T: Sendable>(_ policy: RetryPolicy, _ body: @Sendable (_ attempt: Int) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body(attempt)
            } catch {
                guard !Task.isCancelled, let wait = policy.delay(beforeRetry: attempt, after: error) else { throw error }
                attempt += 1
                try await Task.sleep(for: wait)
            }
        }
    }
}
