import Foundation
import SiphonCore

/// A provider WebSocket that carries many syntheses at once, each under its own context id
/// (Cartesia's contexts, ElevenLabs' multi-context socket). Connects on first use, routes each
/// server message to its context, and when the socket fails or closes, fails the contexts in
/// flight and reconnects on next use. Sharing one socket saves a TCP and TLS handshake per
/// sentence.
public actor ContextSocket {
    /// What one server message means.
    public enum Event: Sendable {
        /// Audio for a context; `last` when the same message also ends it.
        case audio(context: String, bytes: [UInt8], last: Bool = false)
        case done(context: String)
        /// A failure of one context, or of every context on the socket (`context` nil).
        case failed(context: String?, ProviderError)
        case ignored
    }

    public typealias Router = @Sendable (String) -> Event

    let url: String
    let headers: [(String, String)]
    let provider: String
    let classify: @Sendable (Int, [(String, String)], String) -> ProviderError
    let router: Router
    private var socket: WebSocketConnection?
    /// The handshake in progress, shared by the contexts that start meanwhile (one socket, not one each).
    private var connecting: Task<WebSocketConnection, any Error>?
    /// Why the last socket ended, for a context whose messages went out as it was closing.
    private var lastFailure: (any Error)?
    private var contexts: [String: AsyncThrowingStream<[UInt8], any Error>.Continuation] = [:]
    /// Contexts that have had audio (the first-audio timeout no longer applies).
    private var heard: Set<String> = []
    /// The error an in-band message announced for the whole socket, reported instead of the close
    /// that follows it.
    private var socketFailure: ProviderError?

    public init(url: String, headers: [(String, String)], provider: String,
                classify: @escaping @Sendable (Int, [(String, String)], String) -> ProviderError, router: @escaping Router) {
        (self.url, self.headers, self.provider, self.classify, self.router) = (url, headers, provider, classify, router)
    }

    /// Opens a context: sends `messages` and returns the context's audio bytes as they arrive. A
    /// context with no audio within `firstAudioTimeout` fails with `timeout`, so a stalled
    /// provider hands the sentence to the next one in a fallback chain instead of leaving the
    /// caller in silence.
    public func start(_ contextID: String, messages: [String], firstAudioTimeout: Duration? = nil) async throws -> AsyncThrowingStream<[UInt8], any Error> {
        let socket = try await connected()
        let (stream, sink) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        contexts[contextID] = sink
        if let limit = firstAudioTimeout {
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                await self?.expire(contextID, after: limit)
            }
        }
        do {
            for m in messages { try await socket.send(m) }
        } catch {
            // A send fails when the server has just closed, usually after saying why in-band:
            // the reader fails the context with that reason; if it already has finished, do it here.
            if self.socket !== socket, let sink = contexts.removeValue(forKey: contextID) { sink.finish(throwing: lastFailure ?? error) }
        }
        return stream
    }

    /// Stops routing a context (barge-in) and tells the provider with `message`, if any.
    public func cancel(_ contextID: String, message: String?) async {
        guard let sink = contexts.removeValue(forKey: contextID) else { return }
        heard.remove(contextID)
        sink.finish()
        if let message { try? await socket?.send(message) }
    }

    private func connected() async throws -> WebSocketConnection {
        if let socket { return socket }
        if let connecting { return try await connecting.value }
        let (url, headers, provider, classify) = (self.url, self.headers, self.provider, self.classify)
        let handshake = Task { try await WebSocketConnection.connect(url, headers: headers, provider: provider, classify: classify) }
        connecting = handshake
        defer { connecting = nil }
        let s = try await handshake.value
        socket = s
        socketFailure = nil
        Task { await self.read(s) }
        return s
    }

    private func read(_ s: WebSocketConnection) async {
        var failure: any Error = ProviderError(provider: provider, kind: .connection, message: "the socket closed")
        do {
            for try await message in s.messages {
                guard case .text(let text) = message else { continue }
                route(text)
            }
            if let close = s.serverClose {
                failure = ProviderError(provider: provider, kind: close.code == 1000 ? .connection : .server, code: String(close.code), message: close.reason)
            }
        } catch {
            failure = error
        }
        if socket === s { socket = nil }
        lastFailure = socketFailure ?? failure
        for (_, sink) in contexts { sink.finish(throwing: socketFailure ?? failure) }
        contexts.removeAll()
        heard.removeAll()
    }

    private func expire(_ contextID: String, after limit: Duration) {
        guard !heard.contains(contextID), let sink = contexts.removeValue(forKey: contextID) else { return }
        sink.finish(throwing: ProviderError(provider: provider, kind: .timeout, message: "no audio within \(limit.wholeMilliseconds) ms"))
    }

    private func finish(_ contextID: String, throwing error: ProviderError? = nil) {
        heard.remove(contextID)
        guard let sink = contexts.removeValue(forKey: contextID) else { return }
        if let error { sink.finish(throwing: error) } else { sink.finish() }
    }

    private func route(_ text: String) {
        switch router(text) {
        case .audio(let id, let bytes, let last):
            guard let sink = contexts[id] else { return }
            heard.insert(id)
            sink.yield(bytes)
            if last { finish(id) }
        case .done(let id):
            finish(id)
        case .failed(let id?, let error):
            finish(id, throwing: error)
        case .failed(nil, let error):
            socketFailure = error
        case .ignored:
            break
        }
    }
}

/// Provider sockets for one endpoint, opened as needed so that none carries more than
/// `contextsPerSocket` contexts at once (ElevenLabs allows five per connection). The load is
/// counted here, not asked of each socket, so two calls starting together cannot both take the
/// last free slot.
public actor ContextSocketPool {
    let contextsPerSocket: Int
    let make: @Sendable () -> ContextSocket
    private var sockets: [(socket: ContextSocket, load: Int)] = []

    public init(contextsPerSocket: Int, make: @escaping @Sendable () -> ContextSocket) {
        (self.contextsPerSocket, self.make) = (contextsPerSocket, make)
    }

    /// Starts a context on a socket with room for it. Call `release` with the socket once the
    /// context's stream has ended.
    public func start(_ contextID: String, messages: [String], firstAudioTimeout: Duration? = nil) async throws
        -> (ContextSocket, AsyncThrowingStream<[UInt8], any Error>) {
        let index: Int
        if let free = sockets.firstIndex(where: { $0.load < contextsPerSocket }) {
            index = free
        } else {
            sockets.append((make(), 0))
            index = sockets.count - 1
        }
        sockets[index].load += 1
        let socket = sockets[index].socket
        do {
            return (socket, try await socket.start(contextID, messages: messages, firstAudioTimeout: firstAudioTimeout))
        } catch {
            release(socket)
            throw error
        }
    }

    public func release(_ socket: ContextSocket) {
        if let i = sockets.firstIndex(where: { $0.socket === socket }) { sockets[i].load -= 1 }
    }
}
