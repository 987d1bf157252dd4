import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// One provider endpoint over HTTP: a single attempt per call (retries are `Retrier`'s), behind the
/// endpoint's circuit breaker and, when configured, the fleet-wide rate limit. Errors come back as
/// `ProviderError`s classified by the provider's own error body.
public struct ProviderHTTPClient: Sendable {
    public let provider: String
    public let baseURL: String
    let http: HTTPClient
    /// Until the response head (the first byte) arrives.
    public var firstByteTimeout: Duration
    public let breaker: CircuitBreaker
    public var limiter: FleetRateLimiter?
    /// Reads a provider's error body into a `ProviderError`.
    let classify: @Sendable (_ status: Int, _ body: Data, _ headers: HTTPHeaders) -> ProviderError

    public init(provider: String, baseURL: String, http: HTTPClient = ProviderHTTPClient.shared, firstByteTimeout: Duration = .seconds(15),
                limiter: FleetRateLimiter? = nil,
                classify: @escaping @Sendable (_ status: Int, _ body: Data, _ headers: HTTPHeaders) -> ProviderError) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        (self.provider, self.baseURL, self.http, self.firstByteTimeout) = (provider, base, http, firstByteTimeout)
        self.breaker = CircuitBreaker.shared("\(provider) \(base)")
        (self.limiter, self.classify) = (limiter, classify)
    }

    /// The process's client for provider traffic: connections kept alive across calls (TLS
    /// handshakes are most of a short request's latency), connect within 5 s, and a stream that
    /// stays silent for 30 s is dead. HTTP/2 providers multiplex every call's requests on one
    /// connection; over HTTP/1.1 (a model server on plain HTTP) each streaming reply holds a
    /// connection, so a worker may open one per call rather than queue calls behind 8.
    public static let shared = HTTPClient(eventLoopGroupProvider: .singleton, configuration: {
        var c = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(30)))
        c.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)
        c.httpVersion = .automatic
        return c
    }())

    /// Sends `request` to `path`; returns the response once its head says 2xx.
    /// The time a GET takes, body read: the smallest authenticated request, which key checks and
    /// preflight use to prove a key and an endpoint at no cost.
    public func probe(_ path: String, headers: [(String, String)]) async throws -> Duration {
        let started = ContinuousClock.now
        let response = try await send(path, method: .GET, headers: headers, body: nil)
        _ = try await response.body.collect(upTo: 4 << 20)
        return ContinuousClock.now - started
    }

    public func send(_ path: String, method: HTTPMethod = .POST, headers: [(String, String)], body: Data?) async throws -> HTTPClientResponse {
        try breaker.admit()
        try await limiter?.acquire(provider: provider)
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .milliseconds(firstByteTimeout.wholeMilliseconds))
        } catch {
            let e = Self.transportError(provider, error)
            breaker.failed(e)
            throw e
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let data = (try? await response.body.collect(upTo: 64 << 10)).map { Data(buffer: $0) } ?? Data()
            let e = classify(Int(response.status.code), data, response.headers)
            breaker.failed(e)
            throw e
        }
        breaker.succeeded()
        return response
    }

    static func transportError(_ provider: String, _ error: any Error) -> ProviderError {
        if error is CancellationError || (error as? HTTPClientError) == .cancelled || Task.isCancelled {
            return ProviderError(provider: provider, kind: .canceled, message: "canceled")
        }
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
                return ProviderError(provider: provider, kind: .timeout, message: "\(e)")
            }
            return ProviderError(provider: provider, kind: .connection, message: "\(e)")
        }
        return ProviderError(provider: provider, kind: .connection, message: "\(error)")
    }

    /// Reads a streamed body as chunks, turning a broken connection into a `ProviderError`.
    public func chunks(_ response: HTTPClientResponse) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let provider = self.provider
        let breaker = self.breaker
        return AsyncThrowingStream { c in
            let task = Task {
                do {
                    for try await chunk in response.body { c.yield(chunk) }
                    c.finish()
                } catch {
                    let e = Self.transportError(provider, error)
                    breaker.failed(e)
                    c.finish(throwing: e)
                }
            }
            c.onTermination = { _ in task.cancel() }
        }
    }
}

extension HTTPHeaders {
    /// Case-insensitive first value.
    public func value(_ name: String) -> String? { self[name].first }
}
