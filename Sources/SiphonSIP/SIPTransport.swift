import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SiphonCore
import Synchronization

public enum SIPTransportKind: String, Sendable, Hashable, Codable {
    case udp = "UDP"
    case tcp = "TCP"
    case tls = "TLS"

    /// A connection: responses go back on it, and nothing is retransmitted (RFC 3261 17, 18).
    public var isStream: Bool { self != .udp }

    /// SIP's port when a URI names none (RFC 3261 19.1.2).
    public var defaultPort: Int { self == .tls ? 5061 : 5060 }

    /// The `transport` parameter of a URI that reaches us over this transport.
    public var uriParameter: String? { self == .udp ? nil : rawValue.lowercased() }

    /// A trunk's `transport` setting (udp, tcp, tls).
    public init?(setting: String) {
        guard let kind = SIPTransportKind(rawValue: setting.uppercased()) else { return nil }
        self = kind
    }
}

/// Where a SIP message comes from or goes to.
public struct SIPPeer: Sendable, Hashable, CustomStringConvertible, Codable {
    public var host: String
    public var port: Int
    public var transport: SIPTransportKind

    public init(host: String, port: Int, transport: SIPTransportKind = .udp) {
        (self.host, self.port, self.transport) = (host, port, transport)
    }

    public var description: String { "\(transport.rawValue.lowercased()):\(host):\(port)" }
}

/// What the transport hands the stack: a datagram (parsed by the stack, so it can answer 400) or a
/// message framed from a TCP stream.
public enum SIPInbound: Sendable {
    case datagram([UInt8], from: SIPPeer)
    case stream(SIPMessage, from: SIPPeer)
}

/// UDP, TCP and TLS sockets for SIP (RFC 3261 18). Outbound connections are reused per peer, and a
/// response to a request that came over a connection goes back on it (18.2.2).
public final class SIPTransport: Sendable {
    public struct Configuration: Sendable {
        public var bindHost: String
        /// 0 picks a free port.
        public var port: Int
        public var enableTCP: Bool
        public var tls: SIPTLSConfiguration

        public init(bindHost: String = "0.0.0.0", port: Int = 5060, enableTCP: Bool = true, tls: SIPTLSConfiguration = SIPTLSConfiguration()) {
            (self.bindHost, self.port, self.enableTCP, self.tls) = (bindHost, port, enableTCP, tls)
        }
    }

    public let configuration: Configuration
    public let inbound: AsyncStream<SIPInbound>
    private let continuation: AsyncStream<SIPInbound>.Continuation
    private let group: any EventLoopGroup
    private let state = Mutex<State>(State())
    private let logger: Logger

    struct State {
        var udp: (any Channel)?
        var tcpListener: (any Channel)?
        var tlsListener: (any Channel)?
        var connections: [SIPPeer: any Channel] = [:]
        var udpPort = 0
        var tcpPort = 0
        var tlsPort = 0
        var clientTLS: NIOSSLContext?
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "siphon.sip.transport"),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        (inbound, continuation) = AsyncStream<SIPInbound>.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    public var udpPort: Int { state.withLock { $0.udpPort } }
    public var tcpPort: Int { state.withLock { $0.tcpPort } }
    /// 0 when no TLS listener is open (no certificate configured).
    public var tlsPort: Int { state.withLock { $0.tlsPort } }

    public func start() async throws {
        let sink = continuation
        // Loaded before any socket opens, on NIO's blocking pool (file reads): a bad certificate or CA
        // file fails start-up, not a call. A host without the system's authorities still starts;
        // its first TLS call says why it failed.
        let tlsSettings = configuration.tls
        let (clientTLS, serverTLS) = try await NIOThreadPool.singleton.runIfActive {
            (tlsSettings.trustRootsPath == nil ? try? tlsSettings.clientContext() : try tlsSettings.clientContext(), try tlsSettings.serverContext())
        }
        // No SO_REUSEADDR on UDP: on Linux it lets a second process bind the same port and
        // silently take part of its traffic; a taken port must fail loudly instead.
        let udp: any Channel
        do {
            udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in channel.pipeline.addHandler(UDPInboundHandler(sink: sink)) }
                .bind(host: configuration.bindHost, port: configuration.port).get()
        } catch {
            throw ListenError(.sipUDP, host: configuration.bindHost, port: configuration.port, error: error)
        }
        let udpPort = udp.localAddress?.port ?? configuration.port
        var tcpPort = 0
        var listener: (any Channel)?
        if configuration.enableTCP {
            let connections = ConnectionRegistry(transport: self)
            // The same port as UDP; with 0, a free one of its own.
            let tcpWanted = configuration.port
            let l: any Channel
            do {
                l = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        connections.accepted(channel)
                        return channel.pipeline.addHandler(TCPInboundHandler(sink: sink, onClose: { connections.closed(channel) }))
                    }
                    .bind(host: configuration.bindHost, port: tcpWanted).get()
            } catch {
                try? await udp.close()
                throw ListenError(.sipTCP, host: configuration.bindHost, port: tcpWanted, error: error)
            }
            tcpPort = l.localAddress?.port ?? 0
            listener = l
        }
        var tlsListener: (any Channel)?
        if let serverTLS {
            let connections = ConnectionRegistry(transport: self)
            do {
                tlsListener = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        connections.accepted(channel, transport: .tls)
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverTLS))
                            try channel.pipeline.syncOperations.addHandler(
                                TCPInboundHandler(sink: sink, transport: .tls, onClose: { connections.closed(channel) }))
                        }
                    }
                    .bind(host: configuration.bindHost, port: configuration.tls.port).get()
            } catch {
                try? await udp.close()
                try? await listener?.close()
                throw ListenError(.sipTLS, host: configuration.bindHost, port: configuration.tls.port, error: error)
            }
        }
        state.withLock {
            $0.udp = udp
            $0.udpPort = udpPort
            $0.tcpListener = listener
            $0.tcpPort = tcpPort
            $0.tlsListener = tlsListener
            $0.tlsPort = tlsListener?.localAddress?.port ?? 0
            $0.clientTLS = clientTLS
        }
    }

    public func stop() async {
        let channels = state.withLock { s -> [any Channel] in
            let all = [s.udp, s.tcpListener, s.tlsListener].compactMap { $0 } + Array(s.connections.values)
            s.connections = [:]
            return all
        }
        for c in channels { try? await c.close() }
        continuation.finish()
    }

    public func send(_ message: SIPMessage, to peer: SIPPeer) async throws {
        try await send(message.serialized(), to: peer)
    }

    public func send(_ bytes: [UInt8], to peer: SIPPeer) async throws {
        switch peer.transport {
        case .udp:
            guard let udp = state.withLock({ $0.udp }) else { throw SIPMessageError(503, "SIP transport not started") }
            let address = try await NameResolver.shared.resolve(peer.host, port: peer.port)
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: bytes)))
        case .tcp, .tls:
            let channel = try await streamChannel(to: peer)
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        }
    }

    private func streamChannel(to peer: SIPPeer) async throws -> any Channel {
        if let c = state.withLock({ $0.connections[peer] }), c.isActive { return c }
        let sink = continuation
        let registry = ConnectionRegistry(transport: self)
        var tls: NIOSSLClientHandler?
        if peer.transport == .tls {
            guard let context = state.withLock({ $0.clientTLS }) else {
                throw SIPMessageError(503, "SIP TLS: the system's certificate authorities could not be loaded (install ca-certificates, or set SIP_TLS_CA)")
            }
            // SNI and name checks need a name; an address is checked against the certificate's IP entries.
            let isAddress = (try? SocketAddress(ipAddress: peer.host, port: 0)) != nil
            do {
                tls = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : peer.host)
            } catch {
                throw SIPMessageError(503, "SIP TLS to \(peer.host): \(error)")
            }
        }
        let kind = peer.transport
        let handshake = tls.map { _ in group.next().makePromise(of: Void.self) }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { [tls] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls, let handshake {
                            try channel.pipeline.syncOperations.addHandler(tls)
                            try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatcher(done: handshake))
                        }
                        try channel.pipeline.syncOperations.addHandler(TCPInboundHandler(sink: sink, transport: kind, onClose: { registry.closed(channel) }))
                    }
                }
                .connect(host: peer.host, port: peer.port).get()
        } catch {
            handshake?.fail(error)  // a promise NIO must see completed
            throw error
        }
        do {
            // A certificate that does not verify fails here, with its reason, instead of the
            // request's write failing on a closed channel.
            try await handshake?.futureResult.get()
        } catch {
            try? await channel.close()
            throw SIPMessageError(503, "TLS with \(peer.host):\(peer.port) failed: \(Self.reason(error))")
        }
        state.withLock { $0.connections[peer] = channel }
        return channel
    }

    /// What an operator can act on, rather than BoringSSL's error stack.
    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "its certificate is not signed by an authority this worker trusts (SIP_TLS_CA, else the system's) or has expired"
        }
        if text.contains("failedToValidateHostname") { return "its certificate does not name it" }
        return text
    }

    public func isConnected(to peer: SIPPeer) -> Bool {
        guard peer.transport.isStream else { return true }
        return state.withLock { $0.connections[peer]?.isActive ?? false }
    }

    fileprivate func register(_ channel: any Channel, as peer: SIPPeer) { state.withLock { $0.connections[peer] = channel } }

    fileprivate func unregister(_ channel: any Channel) {
        state.withLock { s in s.connections = s.connections.filter { $0.value !== channel } }
    }
}

/// Tracks accepted TCP connections so responses can be sent back on them.
private struct ConnectionRegistry: Sendable {
    let transport: SIPTransport

    func accepted(_ channel: any Channel, transport kind: SIPTransportKind = .tcp) {
        guard let remote = channel.remoteAddress, let ip = remote.ipAddress, let port = remote.port else { return }
        transport.register(channel, as: SIPPeer(host: ip, port: port, transport: kind))
    }

    func closed(_ channel: any Channel) { transport.unregister(channel) }
}

/// Completes `done` when the TLS handshake has, or fails it with the handshake's error (or the
/// connection's closing first).
private final class TLSHandshakeWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<Void>

    init(done: EventLoopPromise<Void>) { self.done = done }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { done.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

private final class UDPInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let sink: AsyncStream<SIPInbound>.Continuation

    init(sink: AsyncStream<SIPInbound>.Continuation) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let ip = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port else { return }
        let bytes = Array(envelope.data.readableBytesView)
        // Keep-alive pings (CRLF) and runts carry no message.
        guard bytes.count > 4 else { return }
        sink.yield(.datagram(bytes, from: SIPPeer(host: ip, port: port, transport: .udp)))
    }
}

private final class TCPInboundHandler: ChannelInboundHandler, @unchecked Sendable {
    // Confined to the channel's event loop.
    typealias InboundIn = ByteBuffer
    let sink: AsyncStream<SIPInbound>.Continuation
    let transport: SIPTransportKind
    let onClose: @Sendable () -> Void
    private var framer = SIPStreamFramer()

    init(sink: AsyncStream<SIPInbound>.Continuation, transport: SIPTransportKind = .tcp, onClose: @escaping @Sendable () -> Void) {
        self.sink = sink
        self.transport = transport
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        guard let remote = context.remoteAddress, let ip = remote.ipAddress, let port = remote.port else { return }
        let peer = SIPPeer(host: ip, port: port, transport: transport)
        do {
            while let message = try framer.next() { sink.yield(.stream(message, from: peer)) }
        } catch {
            // A framing error leaves the stream unsynchronised: close (RFC 3261 18.3).
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose()
        context.fireChannelInactive()
    }
}
