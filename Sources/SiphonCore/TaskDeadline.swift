extension Task where Success == Void, Failure == Never {
    /// Waits for the task at most `limit`; past that, cancels it (and waits for it to wind down).
    /// True when it finished in time. The waiting child forwards its own cancellation to the task:
    /// a task group waits for every child, so a child that just awaited `value` would hold the
    /// group — and the caller — until the task ended on its own, timeout or not.
    public func finish(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withTaskCancellationHandler { await self.value } onCancel: { self.cancel() }
                return !Task<Never, Never>.isCancelled
            }
            group.addTask {
                try? await Task<Never, Never>.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
