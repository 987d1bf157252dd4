import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// A WebSocket client connection (RFC 6455) for the streaming providers. Unlike a generic client
/// it keeps what a refused handshake said — the HTTP status, the provider's error headers and
/// body — so a bad key (401) and a concurrency limit (429) are told apart, and it reports the
/// close frame the server sent (providers put their error in the close reason).
public final class WebSocketConnection: Sendable {
    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    public struct Close: Sendable, Equatable {
        public var code: Int
        public var reason: String
    }

    let channel: any Channel
    let provider: String
    public let messages: AsyncThrowingStream<Message, any Error>
    let closeReceived: CloseBox
    /// Bytes handed to the event loop and not yet written to the socket. The channel's own
    /// high-water mark is updated on its loop only: a call queuing audio faster than a busy loop
    /// runs would find it writable while megabytes wait in the loop's task queue.
    private let unwritten = Mutex(0)
    /// Audio beyond this, not yet written to the socket, is dropped (8 s of 16 kHz linear16).
    static let unwrittenLimit = 256 * 1024

    private init(channel: any Channel, provider: String, messages: AsyncThrowingStream<Message, any Error>, closeReceived: CloseBox) {
        (self.channel, self.provider, self.messages) = (channel, provider, messages)
        self.closeReceived = closeReceived
    }

    /// The close frame the server sent, once the message stream has ended.
    public var serverClose: Close? { closeReceived.value.withLock { $0 } }

    public static func connect(_ urlText: String, headers: [(String, String)], provider: String, timeout: Duration = .seconds(10),
                               maxMessageBytes: Int = 1 << 24,
                               classify: @escaping @Sendable (Int, [(String, String)], String) -> ProviderError) async throws -> WebSocketConnection {
        guard let url = URL(string: urlText), let scheme = url.scheme, scheme == "ws" || scheme == "wss", let host = url.host else {
            throw ProviderError(provider: provider, kind: .configuration, message: "not a ws:// or wss:// URL: \(urlText.prefix(80))")
        }
        let tls = scheme == "wss"
        let port = url.port ?? (tls ? 443 : 80)
        // The same circuit as HTTP: a provider whose handshakes keep failing is skipped at once.
        let breaker = CircuitBreaker.shared("\(provider) ws \(host):\(port)")
        try breaker.admit()
        do {
            let connection = try await open(url: url, host: host, port: port, tls: tls, headers: headers, provider: provider, timeout: timeout,
                                             maxMessageBytes: maxMessageBytes, classify: classify)
            breaker.succeeded()
            return connection
        } catch {
            // A handshake we abandoned (the call ended) says nothing about the provider.
            if !Task.isCancelled, !(error is CancellationError) { breaker.failed(error) }
            throw error
        }
    }

    private static func open(url: URL, host: String, port: Int, tls: Bool, headers: [(String, String)], provider: String, timeout: Duration,
                             maxMessageBytes: Int,
                             classify: @escaping @Sendable (Int, [(String, String)], String) -> ProviderError) async throws -> WebSocketConnection {
        var target = url.path.isEmpty ? "/" : url.path
        if let q = url.query { target += "?" + q }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let handshake = HandshakeHandler(eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        let sslContext = tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(timeout.wholeMilliseconds))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: host))
                        }
                        try channel.pipeline.syncOperations.addHandler(handshake)
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            let e = ProviderError(provider: provider, kind: error is ChannelError ? .timeout : .connection, message: "connect to \(host):\(port): \(error)")
            handshake.abandon(e)  // its promise must not be left unfulfilled
            throw e
        }
        var request = "GET \(target) HTTP/1.1\r\nHost: \(host)\((tls && port == 443) || (!tls && port == 80) ? "" : ":\(port)")\r\n"
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \(key)\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        let head: HandshakeHandler.Head
        do {
            try await channel.writeAndFlush(ByteBuffer(string: request))
            head = try await withThrowingTaskGroup(of: HandshakeHandler.Head.self) { group in
                group.addTask { try await handshake.result.get() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw ProviderError(provider: provider, kind: .timeout, message: "no handshake reply within \(timeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let e as ProviderError {
            try? await channel.close()
            throw e
        } catch {
            try? await channel.close()
            throw ProviderError(provider: provider, kind: .connection, message: "handshake: \(error)")
        }
        guard head.status == 101 else {
            try? await channel.close()
            throw classify(head.status, head.headers, String(decoding: head.body.prefix(300), as: UTF8.self))
        }
        let accept = Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        guard head.headers.first(where: { $0.0.lowercased() == "sec-websocket-accept" })?.1 == accept else {
            try? await channel.close()
            throw ProviderError(provider: provider, kind: .malformed, status: 101, message: "bad Sec-WebSocket-Accept in the handshake")
        }
        let (stream, sink) = AsyncThrowingStream<Message, any Error>.makeStream()
        let closeReceived = CloseBox()
        let frames = FrameHandler(sink: sink, provider: provider, maxMessageBytes: maxMessageBytes, closeReceived: closeReceived)
        try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageBytes)))
            try sync.addHandler(WebSocketFrameEncoder())
            try sync.addHandler(frames)
            // Everything read after the reply's head — the frames a server sends at once, maybe in
            // several reads since the head was parsed — goes to the frame decoder, in order.
            let leftover = handshake.takeBuffered()
            sync.removeHandler(handshake, promise: nil)
            if leftover.readableBytes > 0 { channel.pipeline.fireChannelRead(NIOAny(leftover)) }
        }.get()
        let connection = WebSocketConnection(channel: channel, provider: provider, messages: stream, closeReceived: closeReceived)
        sink.onTermination = { [weak connection] _ in
            if let connection { connection.channel.close(promise: nil) }
        }
        return connection
    }

    public func send(_ text: String) async throws {
        try await write(.text, ByteBuffer(string: text))
    }

    public func send(binary: some Collection<UInt8>) async throws {
        try await write(.binary, ByteBuffer(bytes: binary))
    }

    /// A payload already in a buffer (audio written in place: no intermediate array per frame).
    public func send(binary buffer: ByteBuffer) async throws {
        try await write(.binary, buffer)
    }

    /// Audio, 20 ms at a time: queued on the socket without waiting for the write to finish, so a
    /// frame costs no round trip through the event loop and back, and never holds the conversation
    /// (its VAD and barge-in go on while a provider stalls). Returns false — the audio dropped —
    /// while the socket's buffer is over its high-water mark (seconds of audio the provider has
    /// not read); throws once the connection is closed (a failed write closes it).
    @discardableResult
    public func stream(binary buffer: ByteBuffer) throws -> Bool { try stream(.binary, buffer) }

    /// Audio inside a text message (JSON with base64), queued as `stream(binary:)` queues.
    @discardableResult
    public func stream(_ text: String) throws -> Bool { try stream(.text, ByteBuffer(string: text)) }

    /// A control message sent from the call's loop (Deepgram's `Finalize`, a Realtime `commit`):
    /// queued behind the audio and never dropped, but not awaited — a provider that is seconds
    /// behind must not hold the call while its buffer drains.
    public func post(_ text: String) throws { _ = try queue(.text, ByteBuffer(string: text), dropWhenFull: false) }

    private func stream(_ opcode: WebSocketOpcode, _ data: ByteBuffer) throws -> Bool { try queue(opcode, data, dropWhenFull: true) }

    /// Writes without awaiting the write; false when `dropWhenFull` and the socket is over its
    /// high-water mark or `unwrittenLimit` bytes are still on their way to it.
    private func queue(_ opcode: WebSocketOpcode, _ data: ByteBuffer, dropWhenFull: Bool) throws -> Bool {
        guard channel.isActive else {
            throw ProviderError(provider: provider, kind: .connection, message: "the connection is closed")
        }
        let size = data.readableBytes
        let taken = unwritten.withLock { n -> Bool in
            if dropWhenFull, n + size > Self.unwrittenLimit { return false }
            n += size
            return true
        }
        guard taken else { return false }
        if dropWhenFull, !channel.isWritable {
            unwritten.withLock { $0 -= size }
            return false
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { [self] _ in unwritten.withLock { $0 -= size } }
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data), promise: written)
        return true
    }

    /// Sends a close frame; the server answers with its own and the message stream ends.
    public func close(code: Int = 1000, reason: String = "") async {
        var data = ByteBuffer()
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code))
        data.writeString(reason)
        try? await write(.connectionClose, data)
    }

    /// Closes the socket at once.
    public func abort() { channel.close(promise: nil) }

    private func write(_ opcode: WebSocketOpcode, _ data: ByteBuffer) async throws {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
        do {
            try await channel.writeAndFlush(frame)
        } catch {
            throw ProviderError(provider: provider, kind: .connection, message: "the connection is closed: \(error)")
        }
    }
}

/// The close frame received, shared by the connection and its frame handler.
final class CloseBox: Sendable {
    let value = Mutex<WebSocketConnection.Close?>(nil)
}

/// Reads the handshake reply: status line, headers, and (for a refusal) the body.
private final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // Touched on the channel's event loop only.
    typealias InboundIn = ByteBuffer
    struct Head: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
    }

    let promise: EventLoopPromise<Head>
    var result: EventLoopFuture<Head> { promise.futureResult }
    private var buffer = ByteBuffer()
    private var head: Head?
    private var contentLength: Int?
    private var done = false
    private var forwarding = false

    init(eventLoop: any EventLoop) { promise = eventLoop.makePromise() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if forwarding { return context.fireChannelRead(data) }
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        guard !done else { return }  // kept in `buffer` until the pipeline takes it
        if head == nil {
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
                if buffer.readableBytes > 64 << 10 { fail(ProviderError(provider: "", kind: .malformed, message: "handshake reply too large")) }
                return
            }
            let text = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            buffer.moveReaderIndex(to: end.upperBound)
            var lines = text.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/"), let status = Int(statusLine[1]) else {
                return fail(ProviderError(provider: "", kind: .malformed, message: "not an HTTP reply to the WebSocket handshake"))
            }
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            head = Head(status: status, headers: headers, body: [])
            contentLength = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) }
        }
        guard var h = head else { return }
        if h.status == 101 {
            finish(h)
        } else if buffer.readableBytes >= min(contentLength ?? 4096, 4096) {
            h.body = Array(buffer.readableBytesView.prefix(4096))
            finish(h)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if var h = head, !done {
            h.body = Array(buffer.readableBytesView.prefix(4096))
            finish(h)
        }
        fail(ProviderError(provider: "", kind: .connection, message: "the server closed the connection during the handshake"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ProviderError(provider: "", kind: .connection, message: "\(error)"))
        context.close(promise: nil)
    }

    /// On the event loop, when the frame handlers are in place: what arrived after the reply's
    /// head (reads after this pass straight through, in case removal is not immediate).
    func takeBuffered() -> ByteBuffer {
        forwarding = true
        defer { buffer = ByteBuffer() }
        return buffer
    }

    /// The connection never came up: nothing will answer the promise.
    func abandon(_ e: ProviderError) {
        promise.futureResult.eventLoop.execute { self.fail(e) }
    }

    private func finish(_ h: Head) {
        guard !done else { return }
        done = true
        promise.succeed(h)
    }

    private func fail(_ e: ProviderError) {
        guard !done else { return }
        done = true
        promise.fail(e)
    }
}

/// Frames to messages: reassembles fragments, answers pings, and ends the stream on a close frame.
private final class FrameHandler: ChannelInboundHandler, @unchecked Sendable {
    // Touched on the channel's event loop only.
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let sink: AsyncThrowingStream<WebSocketConnection.Message, any Error>.Continuation
    let provider: String
    let maxMessageBytes: Int
    let closeReceived: CloseBox
    private var fragments: [UInt8] = []
    private var fragmentOpcode: WebSocketOpcode?
    private var ended = false

    init(sink: AsyncThrowingStream<WebSocketConnection.Message, any Error>.Continuation, provider: String, maxMessageBytes: Int,
         closeReceived: CloseBox) {
        (self.sink, self.provider, self.maxMessageBytes, self.closeReceived) = (sink, provider, maxMessageBytes, closeReceived)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text where frame.fin:
            // The usual case, a whole message in one frame: decoded straight from the frame's buffer.
            sink.yield(.text(String(buffer: payload)))
        case .binary where frame.fin:
            sink.yield(.binary(Array(payload.readableBytesView)))
        case .text, .binary:
            fragments = Array(payload.readableBytesView)
            fragmentOpcode = frame.opcode
        case .continuation:
            guard fragmentOpcode != nil else { return protocolError(context, "continuation without a first frame") }
            fragments += payload.readableBytesView
            guard fragments.count <= maxMessageBytes else { return protocolError(context, "message larger than \(maxMessageBytes) bytes") }
            if frame.fin { deliver() }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: payload)), promise: nil)
        case .connectionClose:
            let code = payload.readWebSocketErrorCode().map(Self.number) ?? 1005
            let reason = payload.readString(length: payload.readableBytes) ?? ""
            closeReceived.value.withLock { $0 = .init(code: code, reason: reason) }
            end(nil)  // first: closing below may run channelInactive synchronously
            var echo = ByteBuffer()
            echo.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code == 1005 ? 1000 : code))
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo)))
                .whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    private func deliver() {
        let bytes = fragments
        fragments = []
        switch fragmentOpcode {
        case .text: sink.yield(.text(String(decoding: bytes, as: UTF8.self)))
        default: sink.yield(.binary(bytes))
        }
        fragmentOpcode = nil
    }

    private func protocolError(_ context: ChannelHandlerContext, _ message: String) {
        end(ProviderError(provider: provider, kind: .malformed, message: message))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(ProviderError(provider: provider, kind: .connection, message: "the connection was lost without a close frame"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(ProviderError(provider: provider, kind: .malformed, message: "WebSocket: \(error)"))
        context.close(promise: nil)
    }

    private func end(_ error: ProviderError?) {
        guard !ended else { return }
        ended = true
        if let error { sink.finish(throwing: error) } else { sink.finish() }
    }

    static func number(_ code: WebSocketErrorCode) -> Int {
        var b = ByteBuffer()
        b.write(webSocketErrorCode: code)
        return Int(b.readInteger(as: UInt16.self) ?? 1005)
    }
}
