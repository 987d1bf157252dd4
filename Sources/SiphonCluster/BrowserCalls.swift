import Foundation
import Hummingbird
import NIOCore
import SiphonCore

/// The dispatcher's browser-call routes (`transport: webrtc`):
///
///     POST /v1/webrtc/calls             {agent, sdp[, metadata, max_duration]} → 201 {id, sdp, answer_ms}
///     POST /v1/webrtc/calls/{id}/offer  {sdp}: the page offers again (its connection dropped,
///                                       or its worker died) → 200 {id, sdp, gen}
///     POST /v1/webrtc/tokens            {agent[, ttl_seconds]} → 201 {token, expires_at} (operator only)
///
/// The request is held while the call is queued, claimed and answered: the worker's answer comes
/// back through Redis (`WebRTCSignals`).
struct BrowserCalls: Sendable {
    let queue: CallQueue
    let store: SessionStore
    let configuration: DispatcherConfiguration
    let authorization: APIAuthorization
    var signals: WebRTCSignals { WebRTCSignals(client: queue.client, keys: queue.keys) }

    func create(_ request: Request) async throws -> Response {
        let principal = try principal(request)
        let body = try await DispatcherAPI.jsonObject(request)
        let agent = try Self.string(body, "agent")
        let sdp = try offerSDP(body)
        var metadata: [String: String] = [:]
        switch principal {
        case .operator:
            if let m = body["metadata"] {
                guard let m = m as? [String: String] else { throw SiphonError.invalid("metadata must be an object of strings") }
                metadata = m
            }
        case .webClient(let token):
            guard token.agent == agent else { throw SiphonError(.forbidden, "this web client token is for agent '\(token.agent)'") }
            guard body["metadata"] == nil else { throw SiphonError(.forbidden, "a web client cannot set metadata") }
            metadata["web_client"] = token.id
        }
        let maxDuration = try body["max_duration"].map { v -> Int in
            guard let n = v as? Int else { throw SiphonError.invalid("max_duration must be a number of seconds") }
            return n
        }
        let unknown = Set(body.keys).subtracting(["agent", "sdp", "metadata", "max_duration"])
        guard unknown.isEmpty else { throw SiphonError.invalid("unknown field '\(unknown.sorted()[0].prefix(40))'") }
        let job = try CallJob(agent: agent, to: nil, transport: .webrtc, metadata: metadata, maxDuration: maxDuration)
        let started = ContinuousClock.now
        _ = try await queue.enqueue(job)
        let gen = try await signals.postOffer(call: job.id, sdp: sdp)
        let answer = try await awaitAnswer(job.id, gen: gen, timeout: configuration.webrtcAnswerTimeout)
        return DispatcherAPI.json(.created, AnswerBody(id: job.id, sdp: answer, gen: gen, answerMs: (ContinuousClock.now - started).wholeMilliseconds))
    }

    func reoffer(_ request: Request, id: String) async throws -> Response {
        let principal = try principal(request)
        let record = try await ownedCall(id, principal)
        guard record.transport == Transport.webrtc.rawValue else { throw SiphonError(.conflict, "call \(id) is not a browser call") }
        guard !record.status.isTerminal else { throw SiphonError(.conflict, "call \(id) has ended (\(record.status.rawValue))") }
        let body = try await DispatcherAPI.jsonObject(request)
        let sdp = try offerSDP(body)
        let started = ContinuousClock.now
        let gen = try await signals.postOffer(call: id, sdp: sdp)
        let answer = try await awaitAnswer(id, gen: gen, timeout: configuration.webrtcReofferTimeout, cancelOnTimeout: false)
        return DispatcherAPI.json(.ok, AnswerBody(id: id, sdp: answer, gen: gen, answerMs: (ContinuousClock.now - started).wholeMilliseconds))
    }

    func mintToken(_ request: Request) async throws -> Response {
        guard try principal(request) == .operator else { throw SiphonError(.forbidden, "only the API token mints web client tokens") }
        let body = try await DispatcherAPI.jsonObject(request)
        let agent = try Self.string(body, "agent")
        guard let ttl = body["ttl_seconds"] as? Int ?? (body["ttl_seconds"] == nil ? 600 : nil) else {
            throw SiphonError.invalid("ttl_seconds must be a number")
        }
        let token = try WebClientToken(agent: agent, lifetimeSeconds: ttl)
        return DispatcherAPI.json(.created, TokenBody(token: token.encoded(key: authorization.webKey), expiresAt: token.expires, agent: agent))
    }

    /// The call, if this principal may see it (a web client: only calls its token placed; others
    /// are "not found", not "forbidden", so it learns nothing of them).
    func ownedCall(_ id: String, _ principal: Principal) async throws -> CallRecord {
        guard let record = try await store.call(id) else { throw SiphonError(.notFound, "no call \(id)") }
        if case .webClient(let token) = principal {
            let owner = (try? CallJob.parse(record.job, defaultID: id))?.metadata["web_client"]
            guard owner == token.id else { throw SiphonError(.notFound, "no call \(id)") }
        }
        return record
    }

    func principal(_ request: Request) throws -> Principal {
        guard let p = authorization.principal(request) else { throw SiphonError(.unauthorized, "missing or wrong bearer token") }
        return p
    }

    private func offerSDP(_ body: [String: Any]) throws -> String {
        let sdp = try Self.string(body, "sdp")
        do {
            try configuration.validateOffer?(sdp)
        } catch let e as SiphonError {
            throw SiphonError.invalid("sdp: \(e.message)")
        } catch {
            throw SiphonError.invalid("sdp: \(error)")
        }
        return sdp
    }

    private func awaitAnswer(_ id: String, gen: Int, timeout: Duration, cancelOnTimeout: Bool = true) async throws -> String {
        let store = self.store
        let ended = { @Sendable () async throws -> Bool in (try await store.call(id))?.status.isTerminal ?? true }
        guard let answer = try await signals.answer(call: id, gen: gen, timeout: timeout, stop: ended) else {
            if let record = try await store.call(id), record.status.isTerminal {
                throw SiphonError(.conflict, "call \(id) ended before it was answered (\(record.status.rawValue)\(record.reason.map { ": " + $0 } ?? ""))")
            }
            if cancelOnTimeout { _ = try? await queue.cancel(id, reason: "no worker answered the browser's offer in time") }
            throw SiphonError(.unavailable, "no worker answered the offer within \(timeout.wholeMilliseconds / 1000) s")
        }
        if let error = answer.error { throw SiphonError.invalid("the worker refused the offer: \(error)") }
        return answer.sdp ?? ""
    }

    static func string(_ body: [String: Any], _ key: String) throws -> String {
        guard let v = body[key] else { throw SiphonError.invalid("'\(key)' is required") }
        guard let s = v as? String, !s.isEmpty else { throw SiphonError.invalid("'\(key)' must be a non-empty string") }
        return s
    }

    struct AnswerBody: Encodable {
        var id: String, sdp: String, gen: Int, answerMs: Int64
        enum CodingKeys: String, CodingKey { case id, sdp, gen, answerMs = "answer_ms" }
    }

    struct TokenBody: Encodable {
        var token: String, expiresAt: Int64, agent: String
        enum CodingKeys: String, CodingKey { case token, expiresAt = "expires_at", agent }
    }
}
