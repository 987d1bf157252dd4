import ArgumentParser
import Foundation
import SiphonCluster
import SiphonCore

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "Inspect calls as stored in Redis.",
        subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List calls, newest first.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Only calls with this status.") var status: String?
        @Option(help: "At most this many.") var limit: Int = 100
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let env = try common.environment()
            let logger = common.bootstrapLogging(env, label: "siphon.sessions")
            let calls = try await reporting {
                var filter: CallStatus?
                if let status {
                    guard let s = CallStatus(rawValue: status) else {
                        throw SiphonError.invalid("status must be one of \(CallStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    filter = s
                }
                let store = SessionStore(client: try common.client(env, connections: 1, logger: logger), keys: common.keys)
                return try await store.list(status: filter, limit: limit)
            }
            if json { printJSON(calls); return }
            for c in calls {
                print("\(c.id)  \(c.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(c.transport)  agent=\(c.agent)  to=\(c.to)  worker=\(c.worker.isEmpty ? "-" : c.worker)  epoch=\(c.epoch)  turns=\(c.lastSeq)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one call: record, events and turns.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Call id.") var id: String
        @Flag(help: "JSON output.") var json = false
        @Flag(help: "Keep printing new events and turns until the call ends.") var follow = false

        func run() async throws {
            let env = try common.environment()
            let logger = common.bootstrapLogging(env, label: "siphon.sessions")
            try await reporting {
                let store = SessionStore(client: try common.client(env, connections: 1, logger: logger), keys: common.keys)
                guard var record = try await store.call(id) else { throw SiphonError(.notFound, "no call \(id)") }
                if follow && !json {
                    _ = try await Self.follow(id, store: store)
                    return
                }
                while follow && !record.status.isTerminal {
                    try await Task.sleep(for: .milliseconds(200))
                    record = try await store.call(id) ?? record
                }
                let session = SessionView(record: record, turns: try await store.turns(id), events: try await store.events(id),
                                          context: try await store.context(id))
                if json { printJSON(session); return }
                print("\(record.id)  \(record.status.rawValue)\(record.reason.map { " (\($0))" } ?? "")")
                print("  agent=\(record.agent) to=\(record.to) transport=\(record.transport) worker=\(record.worker.isEmpty ? "-" : record.worker) epoch=\(record.epoch) attempts=\(record.attempts)")
                print("  events:")
                for e in session.events { print("  " + Self.line(e)) }
                print("  turns:")
                for t in session.turns { print("  " + Self.line(t)) }
            }
        }

        /// Prints the call's events and turns as they happen until it ends; returns the final record.
        static func follow(_ id: String, store: SessionStore) async throws -> CallRecord {
            guard var record = try await store.call(id) else { throw SiphonError(.notFound, "no call \(id)") }
            var seenEvents = 0
            var seenTurns = 0
            print("\(record.id)  agent=\(record.agent)  to=\(record.to)  transport=\(record.transport)")
            while true {
                let events = try await store.events(id)
                let turns = try await store.turns(id)
                // In time order across both streams (a poll can bring several of each).
                let lines = events.dropFirst(seenEvents).map { ($0.at, line($0)) } + turns.dropFirst(seenTurns).map { ($0.at, line($0)) }
                for (_, text) in lines.sorted(by: { $0.0 < $1.0 }) { print(text) }
                seenEvents = events.count
                seenTurns = turns.count
                record = try await store.call(id) ?? record
                if record.status.isTerminal { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            print("status: \(record.status.rawValue)\(record.reason.map { " (\($0))" } ?? "")")
            return record
        }

        static func line(_ e: CallEvent) -> String {
            "  \(e.at.clockTime)  \(e.type)\(e.worker.isEmpty ? "" : "  worker=\(e.worker)")  epoch=\(e.epoch)\(e.detail.isEmpty ? "" : "  \(e.detail)")"
        }

        static func line(_ t: Turn) -> String {
            "  \(t.at.clockTime)  #\(t.seq) \(t.role.rawValue): \(t.text)\(t.interrupted ? "  [interrupted]" : "")"
        }
    }
}

/// The `sessions show --json` document.
struct SessionView: Encodable {
    var record: CallRecord
    var turns: [Turn]
    var events: [CallEvent]
    var context: [String: String]

    enum CodingKeys: String, CodingKey {
        case id, status, worker, epoch, attempts, agent, to, from, transport, reason, turns, events, context
        case createdAt = "created_at", answeredAt = "answered_at", endedAt = "ended_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(record.id, forKey: .id)
        try c.encode(record.status, forKey: .status)
        try c.encode(record.worker, forKey: .worker)
        try c.encode(record.epoch, forKey: .epoch)
        try c.encode(record.attempts, forKey: .attempts)
        try c.encode(record.agent, forKey: .agent)
        try c.encode(record.to, forKey: .to)
        try c.encodeIfPresent(record.from, forKey: .from)
        try c.encode(record.transport, forKey: .transport)
        try c.encodeIfPresent(record.reason, forKey: .reason)
        try c.encode(record.createdAt, forKey: .createdAt)
        try c.encodeIfPresent(record.answeredAt, forKey: .answeredAt)
        try c.encodeIfPresent(record.endedAt, forKey: .endedAt)
        try c.encode(turns, forKey: .turns)
        try c.encode(events, forKey: .events)
        try c.encode(context, forKey: .context)
    }
}

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List registered workers.")
    @OptionGroup var common: CommonOptions
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.workers")
        let workers = try await reporting {
            try await CallQueue(client: try common.client(env, connections: 1, logger: logger), keys: common.keys).workers()
        }
        if json { printJSON(workers); return }
        for w in workers {
            print("\(w.id)  \(w.alive ? "alive" : "dead ")\(w.draining ? " draining" : "")  calls=\(w.active)/\(w.capacity)  transports=\(w.transports.joined(separator: ","))  agents=\(w.agents.joined(separator: ","))  host=\(w.host)")
        }
    }
}

struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dead-letters", abstract: "List dead-lettered jobs with their reasons.")
    @OptionGroup var common: CommonOptions
    @Option(help: "At most this many.") var limit: Int = 50
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let env = try common.environment()
        let logger = common.bootstrapLogging(env, label: "siphon.dead")
        let entries = try await reporting {
            try await CallQueue(client: try common.client(env, connections: 1, logger: logger), keys: common.keys).deadLetters(limit: limit)
        }
        if json { printJSON(entries); return }
        for e in entries {
            print("\(e["id"] ?? "")  entry=\(e["entry"] ?? "")  call=\(e["call"].flatMap { $0.isEmpty ? nil : $0 } ?? "-")  \(e["reason"] ?? "")")
        }
    }
}
