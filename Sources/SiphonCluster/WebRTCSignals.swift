import Foundation
import SiphonCore
import SiphonRedis

/// A browser call's offer/answer exchange through Redis, between the dispatcher that holds the
/// browser's HTTP request and whichever worker owns the call.
///
/// Offers are numbered (`gen`): the first comes with the call; a browser whose connection dropped
/// (its worker died, or the network) offers again, and the call's owner — the same worker or the
/// one that took the call over — answers that generation. Both lists expire an hour after their
/// last write; what is in them is SDP (addresses, fingerprints), never a secret.
public struct WebRTCSignals: Sendable {
    public struct Description: Sendable, Codable, Equatable {
        public var gen: Int
        public var sdp: String?
        /// Set instead of `sdp` when the worker could not take the offer.
        public var error: String?
        public init(gen: Int, sdp: String? = nil, error: String? = nil) { (self.gen, self.sdp, self.error) = (gen, sdp, error) }
    }

    let client: RedisClient
    let keys: ClusterKeys
    static let ttlSeconds = "3600"
    static let maxSDPBytes = 32 * 1024
    /// How often a waiting side looks (a round trip each): an answer is seen within this of its write.
    static let pollInterval = Duration.milliseconds(20)

    public init(client: RedisClient, keys: ClusterKeys) { (self.client, self.keys) = (client, keys) }

    /// Stores the browser's offer; returns its generation.
    public func postOffer(call id: String, sdp: String) async throws -> Int {
        guard sdp.utf8.count <= Self.maxSDPBytes else { throw SiphonError(.tooLarge, "sdp is larger than \(Self.maxSDPBytes) bytes") }
        let gen = try await client.send("HINCRBY", keys.call(id), "webrtc_offers", "1").int.map(Int.init) ?? 1
        try await push(keys.webrtcOffers(id), Description(gen: gen, sdp: sdp))
        return gen
    }

    public func postAnswer(call id: String, _ answer: Description) async throws {
        try await push(keys.webrtcAnswers(id), answer)
    }

    /// The worker's side: the next offer newer than `gen`, or nil after `timeout`.
    public func nextOffer(call id: String, after gen: Int, timeout: Duration) async throws -> Description? {
        try await poll(keys.webrtcOffers(id), timeout: timeout) { $0.gen > gen ? .take : .skip }
    }

    /// Whether the page has offered again (checked by the owner while a connection is up: the
    /// page may have lost it before this worker noticed).
    public func hasPendingOffer(call id: String) async throws -> Bool {
        (try await client.send("LLEN", keys.webrtcOffers(id)).int ?? 0) > 0
    }

    /// The dispatcher's side: the answer to offer `gen`; nil after `timeout` or when `stop` says
    /// so (checked about every half second: the call ended meanwhile).
    public func answer(call id: String, gen: Int, timeout: Duration,
                       stop: @Sendable () async throws -> Bool = { false }) async throws -> Description? {
        try await poll(keys.webrtcAnswers(id), timeout: timeout, stop: stop) { d in
            d.gen == gen ? .take : (d.gen < gen ? .skip : .keep)
        }
    }

    enum Verdict { case take, skip, keep }

    private func push(_ key: String, _ d: Description) async throws {
        let json = String(decoding: try JSONEncoder().encode(d), as: UTF8.self)
        _ = try await client.pipeline([["RPUSH", key, json], ["EXPIRE", key, Self.ttlSeconds]])
    }

    private func poll(_ key: String, timeout: Duration, stop: @Sendable () async throws -> Bool = { false },
                      _ verdict: (Description) -> Verdict) async throws -> Description? {
        let deadline = ContinuousClock.now + timeout
        var nextStopCheck = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < deadline {
            let reply = try await client.send("LPOP", key)
            if let text = reply.string {
                guard let d = try? JSONDecoder().decode(Description.self, from: Data(text.utf8)) else { continue }
                switch verdict(d) {
                case .take: return d
                case .skip: continue
                case .keep:
                    // Someone else's (a newer generation): put it back for its reader.
                    try await client.send("LPUSH", key, text)
                }
            }
            if ContinuousClock.now >= nextStopCheck {
                if try await stop() { return nil }
                nextStopCheck = ContinuousClock.now + .milliseconds(500)
            }
            try await Task.sleep(for: Self.pollInterval)
        }
        return nil
    }
}
