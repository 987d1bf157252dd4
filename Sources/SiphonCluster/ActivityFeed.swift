import Logging
import SiphonCore
import SiphonRedis
import Synchronization

/// What the console's live views follow: every call's lifecycle events and turns (the activity
/// stream) and new jobs (the job stream: a job is a `queued` call).
///
/// One reader per dispatcher — a blocking XREAD on its own connection, started with the first
/// page that subscribes and stopped with the last — fanned out to every page, so Redis does the
/// same work for one watcher as for fifty. A page that reads slowly loses its oldest items, not
/// the dispatcher's memory: pages refetch what an item names.
public final class ActivityFeed: Sendable {
    public struct Item: Sendable, Equatable {
        public var call: String
        /// An event type (`claimed`, `active`, `ended`, `reassigned`, …), `turn`, `queued`, or
        /// `ping` (every 15 s, so a page's closed connection is noticed).
        public var type: String
    }

    let client: RedisClient
    let keys: ClusterKeys
    let logger: Logger
    private let state = Mutex(State())

    struct State {
        var subscribers: [Int: AsyncStream<Item>.Continuation] = [:]
        var next = 0
        var reader: Task<Void, Never>?
    }

    static let blockMs = 1000
    static let pingEvery = Duration.seconds(15)
    static let coalesce = Duration.milliseconds(50)

    public init(url: RedisURL, keys: ClusterKeys, logger: Logger) {
        // A connection of its own: the XREAD blocks for up to a second.
        client = RedisClient(RedisClient.Configuration(url: url, connections: 1), logger: logger)
        (self.keys, self.logger) = (keys, logger)
    }

    /// A stream of items from now on; `cancel` (or the stream's end) unsubscribes.
    public func subscribe() -> (stream: AsyncStream<Item>, cancel: @Sendable () -> Void) {
        let (stream, sink) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        let id = state.withLock { s -> Int in
            s.next += 1
            s.subscribers[s.next] = sink
            if s.reader == nil { s.reader = Task { await self.read() } }
            return s.next
        }
        let cancel: @Sendable () -> Void = { [weak self] in self?.unsubscribe(id) }
        sink.onTermination = { _ in cancel() }
        return (stream, cancel)
    }

    private func unsubscribe(_ id: Int) {
        // Finished outside the lock: finishing runs onTermination, which comes back here.
        let (sink, stop) = state.withLock { s -> (AsyncStream<Item>.Continuation?, Task<Void, Never>?) in
            let sink = s.subscribers.removeValue(forKey: id)
            guard s.subscribers.isEmpty, let r = s.reader else { return (sink, nil) }
            s.reader = nil
            return (sink, r)
        }
        sink?.finish()
        stop?.cancel()
    }

    private func publish(_ items: [Item]) {
        let sinks = state.withLock { Array($0.subscribers.values) }
        for sink in sinks { for item in items { sink.yield(item) } }
    }

    private func read() async {
        var last: [String]?
        var backoff = Backoff(baseMs: 100, capMs: 2000)
        var nextPing = ContinuousClock.now + Self.pingEvery
        while !Task.isCancelled {
            do {
                if last == nil {
                    // Start from what is there now: the pages load the current state themselves.
                    let tails = try await client.pipeline([["XREVRANGE", keys.activity, "+", "-", "COUNT", "1"],
                                                           ["XREVRANGE", keys.calls, "+", "-", "COUNT", "1"]])
                    last = tails.map { Worker.entries($0).first?.id ?? "0-0" }
                }
                let reply = try await client.send(["XREAD", "COUNT", "1000", "BLOCK", String(Self.blockMs),
                                                   "STREAMS", keys.activity, keys.calls] + last!)
                var items: [Item] = []
                for stream in reply.array ?? [] {
                    guard let parts = stream.array, parts.count == 2, let name = parts[0].string else { continue }
                    let entries = Worker.entries(parts[1])
                    let isJobs = name == keys.calls
                    if let tail = entries.last?.id { last![isJobs ? 1 : 0] = tail }
                    for e in entries {
                        if isJobs {
                            items.append(Item(call: SessionStore.callID(job: e.fields["job"], entry: e.id), type: "queued"))
                        } else if let call = e.fields["call"], let type = e.fields["type"] {
                            items.append(Item(call: call, type: type))
                        }
                    }
                }
                backoff = Backoff(baseMs: 100, capMs: 2000)
                if ContinuousClock.now >= nextPing {
                    items.append(Item(call: "", type: "ping"))
                    nextPing = ContinuousClock.now + Self.pingEvery
                }
                if !items.isEmpty {
                    publish(items)
                    // Busy clusters: gather a little before the next read rather than one XREAD per event.
                    try await Task.sleep(for: Self.coalesce)
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("activity feed cannot read redis; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(backoff.next()))
            }
        }
    }

    public func close() {
        let (reader, sinks) = state.withLock { s in
            defer { s.subscribers = [:]; s.reader = nil }
            return (s.reader, Array(s.subscribers.values))
        }
        reader?.cancel()
        for sink in sinks { sink.finish() }
        client.close()
    }
}
