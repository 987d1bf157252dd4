import Foundation
import SiphonCore
import SiphonRedis

/// Reads and fenced writes of a call's session: the call hash, turns, context and events.
public struct SessionStore: Sendable {
    public let client: RedisClient
    public let keys: ClusterKeys

    public init(client: RedisClient, keys: ClusterKeys) {
        self.client = client
        self.keys = keys
    }

    // MARK: fenced writes (a worker, under its lease)

    /// Appends a turn. Returns false when `seq` was already stored (a replay after takeover).
    @discardableResult
    public func appendTurn(_ turn: Turn, lease: CallLease) async throws -> Bool {
        let extra = turn.extra.isEmpty ? "" : Self.json(turn.extra)
        let reply = try await fenced {
            try await client.eval(WorkerScripts.appendTurn, args: [
                keys.prefix, lease.worker, String(lease.epoch), lease.callID, String(turn.seq), turn.role.rawValue,
                turn.text, turn.interrupted ? "1" : "0", String(turn.at), extra,
            ])
        }
        return reply.int == 1
    }

    public func transition(_ status: CallStatus, lease: CallLease, detail: String = "") async throws {
        let event: String = switch status {
        case .active: "answered"
        default: status.rawValue
        }
        try await fenced {
            try await client.eval(WorkerScripts.transition, args: [
                keys.prefix, lease.worker, String(lease.epoch), lease.callID, status.rawValue, event,
                String(Timestamp.nowMs()), detail, status.isTerminal ? "1" : "0",
            ])
        }
    }

    public func setContext(_ fields: [String: String], lease: CallLease) async throws {
        guard !fields.isEmpty else { return }
        var args = [keys.prefix, lease.worker, String(lease.epoch), lease.callID]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [k, v] }
        try await fenced { try await client.eval(WorkerScripts.setContext, args: args) }
    }

    /// Sets call-hash fields owned by the transport (fenced).
    public func setFields(_ fields: [String: String], lease: CallLease) async throws {
        guard !fields.isEmpty else { return }
        var args = [keys.prefix, lease.worker, String(lease.epoch), lease.callID]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [k, v] }
        try await fenced { try await client.eval(WorkerScripts.setFields, args: args) }
    }

    /// Reads call-hash fields (missing ones are absent from the result).
    public func fields(_ id: String, _ names: [String]) async throws -> [String: String] {
        let reply = try await client.send(["HMGET", keys.call(id)] + names)
        var out: [String: String] = [:]
        for (n, v) in zip(names, reply.array ?? []) { if let s = v.string { out[n] = s } }
        return out
    }

    /// Records a lifecycle event, optionally setting call-hash fields in the same step.
    /// `at` names the event: recording it again with the same type and time (a retry) adds nothing.
    public func record(event: String, detail: String = "", fields: [String: String] = [:], lease: CallLease,
                       at: Int64 = Timestamp.nowMs()) async throws {
        var args = [keys.prefix, lease.worker, String(lease.epoch), lease.callID, event, String(at), detail]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [k, v] }
        try await fenced { try await client.eval(WorkerScripts.recordEvent, args: args) }
    }

    /// Releases the call for immediate reassignment by the supervisor.
    public func handoff(lease: CallLease, reason: String) async throws {
        try await fenced {
            try await client.eval(WorkerScripts.handoff, args: [
                keys.prefix, lease.worker, String(lease.epoch), lease.callID, String(Timestamp.nowMs()), reason,
            ])
        }
    }

    /// Maps the scripts' `FENCED …` error reply to `SiphonError(.fenced)`.
    @discardableResult
    private func fenced(_ body: () async throws -> RedisReply) async throws -> RedisReply {
        do {
            return try await body()
        } catch let e as RedisError where e.code == .server && e.message.hasPrefix("FENCED") {
            throw SiphonError(.fenced, e.message)
        }
    }

    // MARK: reads

    public func call(_ id: String) async throws -> CallRecord? {
        try Identifier.validateID(id, what: "call id")
        let reply = try await client.send("HGETALL", keys.call(id))
        return CallRecord(id: id, fields: reply.fieldMap)
    }

    public func turns(_ id: String) async throws -> [Turn] {
        let reply = try await client.send("XRANGE", keys.turns(id), "-", "+")
        return (reply.array ?? []).compactMap { entry -> Turn? in
            guard let parts = entry.array, parts.count == 2 else { return nil }
            let f = parts[1].fieldMap
            guard let seq = f["seq"].flatMap({ Int($0) }), let role = f["role"].flatMap(Turn.Role.init(rawValue:)) else { return nil }
            let extra = f["extra"].flatMap { $0.isEmpty ? nil : try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            return Turn(seq: seq, role: role, text: f["text"] ?? "", interrupted: f["interrupted"] == "1",
                        epoch: Int(f["epoch"] ?? "") ?? 0, at: Int64(f["at"] ?? "") ?? 0, extra: extra ?? [:])
        }
    }

    /// The call's lifecycle events. The first, `queued`, is the call's `created_at`: it is not stored
    /// as a stream entry, which keeps enqueueing to one stream write per call.
    public func events(_ id: String) async throws -> [CallEvent] {
        let replies = try await client.pipeline([["HGET", keys.call(id), "created_at"], ["XRANGE", keys.events(id), "-", "+"]])
        var out: [CallEvent] = []
        if let created = replies[0].int { out.append(CallEvent(at: created, type: "queued", worker: "", epoch: 0, detail: "")) }
        return out + (replies[1].array ?? []).compactMap { entry -> CallEvent? in
            guard let parts = entry.array, parts.count == 2 else { return nil }
            let f = parts[1].fieldMap
            return CallEvent(at: Int64(f["at"] ?? "") ?? 0, type: f["type"] ?? "", worker: f["worker"] ?? "",
                             epoch: Int(f["epoch"] ?? "") ?? 0, detail: f["detail"] ?? "")
        }
    }

    public func context(_ id: String) async throws -> [String: String] {
        try await client.send("HGETALL", keys.context(id)).fieldMap
    }

    /// The newest calls first, optionally only those with `status`. The job stream is the index of
    /// queued calls (its entries are in enqueue order and carry each call's id: no second index to
    /// write per call); inbound calls a worker answered itself are in `keys.inbound`. Both streams'
    /// entry ids are times, so the two are merged newest first.
    public func list(status: CallStatus? = nil, limit: Int = 100) async throws -> [CallRecord] {
        var sources = [IndexPage(stream: keys.calls), IndexPage(stream: keys.inbound)]
        var out: [CallRecord] = []
        while out.count < limit {
            var batch: [String] = []
            while batch.count < Self.page {
                for i in sources.indices where sources[i].needsMore { try await sources[i].fetch(client, count: Self.page) }
                guard let i = sources.indices.filter({ !sources[$0].entries.isEmpty })
                    .max(by: { Self.entryOrder(sources[$0].entries[0].id, sources[$1].entries[0].id) }) else { break }
                batch.append(sources[i].entries.removeFirst().call)
            }
            if batch.isEmpty { break }
            let replies = try await client.pipeline(batch.map { ["HGETALL", keys.call($0)] })
            for (id, r) in zip(batch, replies) {
                guard let record = CallRecord(id: id, fields: r.fieldMap) else { continue }
                if status == nil || record.status == status { out.append(record) }
                if out.count == limit { break }
            }
        }
        return out
    }

    private static let page = 200

    /// One index stream read newest first, a page at a time.
    private struct IndexPage {
        let stream: String
        var entries: [(id: String, call: String)] = []
        var end = "+"
        var exhausted = false
        var needsMore: Bool { entries.isEmpty && !exhausted }

        init(stream: String) { self.stream = stream }

        mutating func fetch(_ client: RedisClient, count: Int) async throws {
            let read = Worker.entries(try await client.send("XREVRANGE", stream, end, "-", "COUNT", String(count)))
            entries = read.map { ($0.id, $0.fields["call"] ?? SessionStore.callID(job: $0.fields["job"], entry: $0.id)) }
            exhausted = read.count < count
            if let last = read.last { end = "(" + last.id }
        }
    }

    /// Whether stream entry id `a` is older than `b` ("ms-seq").
    static func entryOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ id: String) -> (Int, Int) {
            let p = id.split(separator: "-")
            return (Int(p.first ?? "") ?? 0, Int(p.count > 1 ? p[1] : "") ?? 0)
        }
        return parts(a) < parts(b)
    }

    /// The call id a stream entry carries (jobs XADDed by hand without one are named after the entry).
    static func callID(job: String?, entry: String) -> String {
        if let job, let data = job.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = object["id"] as? String {
            return id
        }
        return "call-\(entry)"
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
