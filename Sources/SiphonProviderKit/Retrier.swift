import SiphonAgent

/// Runs provider requests with a `RetryPolicy`. A stream is retried only while it has produced
/// nothing (`UntilAnswered`): once a token or an audio frame went out, a failure is the caller's.
public enum Retrier {
    public static func stream<T: Sendable>(
        _ policy: RetryPolicy, _ open: @escaping @Sendable (_ attempt: Int) async throws -> AsyncThrowingStream<T, any Error>
    ) -> AsyncThrowingStream<T, any Error> {
        UntilAnswered.stream(open) { attempt, error in
            guard let wait = policy.delay(beforeRetry: attempt, after: error) else { return false }
            return (try? await Task.sleep(for: wait)) != nil
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
