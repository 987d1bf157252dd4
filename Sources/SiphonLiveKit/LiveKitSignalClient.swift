import Foundation
import LiveKitProtocol
import Logging
import SiphonCore
import SiphonProviderKit
import SwiftProtobuf
import Synchronization

/// A participant's signalling connection to a LiveKit server — `/rtc/v1` (one peer connection)
/// where the server has it, else `/rtc` v0 (a subscriber and a publisher peer connection, the
/// subscriber primary): protobuf `SignalRequest` and
/// `SignalResponse` in binary WebSocket frames, the join first, pings at the server's interval,
/// and the `reconnect=1&sid=` resume after a dropped connection. A frame that does not decode is
/// logged and skipped; it never ends the connection.
public final class LiveKitSignalClient: Sendable {
    /// Current `CurrentProtocol` of livekit-server (pkg/rtc/types/protocol_version.go).
    public static let protocolVersion = 16

    public let join: Livekit_JoinResponse?
    /// The answer to a resume (`reconnect=1`), instead of a join.
    public let reconnect: Livekit_ReconnectResponse?
    /// Joined over `/rtc/v1`: one peer connection, offered by us, carries both directions.
    public let singlePeerConnection: Bool
    /// Everything the server sends after the join (pongs are consumed here).
    public let responses: AsyncStream<Livekit_SignalResponse>
    private let socket: WebSocketConnection
    private let logger: Logger
    private let state = Mutex(State())
    private let sink: AsyncStream<Livekit_SignalResponse>.Continuation

    struct State {
        var lastPong = ContinuousClock.now
        var pinger: Task<Void, Never>?
        var reader: Task<Void, Never>?
        var closed = false
    }

    private init(socket: WebSocketConnection, join: Livekit_JoinResponse?, reconnect: Livekit_ReconnectResponse?,
                 first: [Livekit_SignalResponse], singlePeerConnection: Bool, logger: Logger) {
        (self.socket, self.join, self.reconnect, self.logger) = (socket, join, reconnect, logger)
        self.singlePeerConnection = singlePeerConnection
        (responses, sink) = AsyncStream<Livekit_SignalResponse>.makeStream()
        for r in first { sink.yield(r) }
    }

    /// `url`: the server (ws(s):// or http(s)://). `resume`: the participant sid to resume after a
    /// signalling drop. `singlePeerConnection`: ask for `/rtc/v1` (one peer connection that we
    /// offer, livekit-server ≥ 1.9.10); a server without it answers 404 and the join is made over
    /// `/rtc` v0 instead (as LiveKit's JS SDK falls back), remembered for that server. Waits for
    /// the join (or reconnect) response.
    public static func connect(url: String, token: String, resume participantSID: String? = nil, singlePeerConnection: Bool = true,
                               timeout: Duration = .seconds(10), logger: Logger = Logger(label: "siphon.livekit.signal")) async throws -> LiveKitSignalClient {
        var base = url.trimmingCharacters(in: .whitespaces)
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        while base.hasSuffix("/") { base.removeLast() }
        if singlePeerConnection, !serversWithoutV1.withLock({ $0.contains(base) }) {
            do {
                let parameter = try joinRequestParameter(resume: participantSID)
                return try await open("\(base)/rtc/v1?join_request=\(parameter)", token: token, singlePeerConnection: true, timeout: timeout, logger: logger)
            } catch let error as ProviderError where error.status == 404 {
                serversWithoutV1.withLock { _ = $0.insert(base) }
                logger.info("LiveKit has no /rtc/v1 (single peer connection); joining over /rtc v0", metadata: ["livekit.url": "\(base)"])
            }
        }
        var query = "protocol=\(protocolVersion)&auto_subscribe=1&sdk=swift&version=\(SiphonVersion.current)&adaptive_stream=0"
        if let participantSID { query += "&reconnect=1&sid=\(participantSID)&reconnect_reason=1" }
        return try await open("\(base)/rtc?\(query)", token: token, singlePeerConnection: false, timeout: timeout, logger: logger)
    }

    /// Servers that answered 404 to /rtc/v1 (older than 1.9.10): later joins go straight to v0.
    private static let serversWithoutV1 = Mutex<Set<String>>([])

    /// `join_request` of /rtc/v1: base64url of a `WrappedJoinRequest` (uncompressed) around the
    /// `JoinRequest` — the client, auto-subscribe on and adaptive stream off, and for a resume the
    /// participant sid (L pkg/service/rtcservice.go; J SignalClient.ts). Percent-encoded for a query.
    public static func joinRequestParameter(resume participantSID: String?) throws -> String {
        var join = Livekit_JoinRequest()
        join.clientInfo.sdk = .swift
        join.clientInfo.version = SiphonVersion.current
        join.clientInfo.protocol = Int32(protocolVersion)
        join.connectionSettings.autoSubscribe = true
        join.connectionSettings.adaptiveStream = false
        if let participantSID {
            join.reconnect = true
            join.participantSid = participantSID
            join.reconnectReason = .rrSignalDisconnected
        }
        var wrapped = Livekit_WrappedJoinRequest()
        wrapped.compression = .none
        wrapped.joinRequest = try join.serializedData()
        let text = try wrapped.serializedData().base64EncodedString()
        return text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "%3D")
    }

    private static func open(_ endpoint: String, token: String, singlePeerConnection: Bool, timeout: Duration, logger: Logger) async throws -> LiveKitSignalClient {
        let socket = try await WebSocketConnection.connect(
            endpoint, headers: [("Authorization", "Bearer \(token)")], provider: "livekit", timeout: timeout
        ) { status, _, body in
            // /rtc refuses with an HTTP status and a plain-text reason (no secret in either). Only a
            // 5xx is a fault: a 404 is a server without /rtc/v1, and a burst of first joins, each
            // falling back to v0, must not open the circuit that every call's join passes.
            ProviderError(provider: "livekit", kind: ProviderError.kind(forStatus: status), status: status,
                          message: "LiveKit refused to join the room: HTTP \(status) \(body.prefix(160))")
        }
        // The first frame is the join (or reconnect) response, always binary protobuf.
        typealias First = (join: Livekit_JoinResponse?, reconnect: Livekit_ReconnectResponse?, before: [Livekit_SignalResponse])
        let first: First = try await withThrowingTaskGroup(of: First.self) { group in
            group.addTask {
                var before: [Livekit_SignalResponse] = []
                for try await message in socket.messages {
                    guard case .binary(let bytes) = message, let r = try? Livekit_SignalResponse(serializedBytes: bytes) else { continue }
                    switch r.message {
                    case .join(let j): return (j, nil, before)
                    case .reconnect(let rc): return (nil, rc, before)
                    case .leave(let l): throw LiveKitJoinError("LiveKit closed the session at once: \(l.reason)")
                    default: before.append(r)
                    }
                }
                throw LiveKitJoinError("LiveKit closed the signalling connection before the join: \(socket.serverClose.map { "\($0.code) \($0.reason)" } ?? "no close frame")")
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw LiveKitJoinError("no join response from LiveKit within \(timeout)")
            }
            defer { group.cancelAll() }
            do {
                return try await group.next()!
            } catch {
                socket.abort()
                throw error
            }
        }
        let client = LiveKitSignalClient(socket: socket, join: first.join, reconnect: first.reconnect, first: first.before,
                                         singlePeerConnection: singlePeerConnection, logger: logger)
        client.start(pingInterval: Int(first.join?.pingInterval ?? 5), pingTimeout: Int(first.join?.pingTimeout ?? 15))
        return client
    }

    private func start(pingInterval: Int, pingTimeout: Int) {
        let reader = Task { [self] in
            do {
                for try await message in socket.messages {
                    let bytes: [UInt8]
                    switch message {
                    case .binary(let b): bytes = b
                    case .text(let t): bytes = Array(t.utf8)  // JSON mode is never asked for; skip
                        logger.debug("text frame from LiveKit ignored", metadata: ["bytes": "\(bytes.count)"])
                        continue
                    }
                    guard let r = try? Livekit_SignalResponse(serializedBytes: bytes) else {
                        logger.warning("undecodable signalling frame from LiveKit skipped", metadata: ["bytes": "\(bytes.count)"])
                        continue
                    }
                    if case .pongResp = r.message { state.withLock { $0.lastPong = .now }; continue }
                    if case .pong = r.message { state.withLock { $0.lastPong = .now }; continue }
                    sink.yield(r)
                }
            } catch {
                logger.info("LiveKit signalling ended", metadata: ["error": "\(error)"])
            }
            sink.finish()
        }
        let interval = max(1, min(pingInterval, 60)), timeout = max(interval * 2, min(pingTimeout, 120))
        let pinger = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                if Task.isCancelled { return }
                if state.withLock({ $0.lastPong }).duration(to: .now) > .seconds(timeout) {
                    logger.warning("no pong from LiveKit within the ping timeout; dropping the connection", metadata: ["timeout_s": "\(timeout)"])
                    socket.abort()
                    return
                }
                var ping = Livekit_Ping()
                ping.timestamp = Timestamp.nowMs()
                var request = Livekit_SignalRequest()
                request.pingReq = ping
                try? await send(request)
            }
        }
        state.withLock {
            $0.reader = reader
            $0.pinger = pinger
        }
    }

    public func send(_ request: Livekit_SignalRequest) async throws {
        let bytes: [UInt8] = try request.serializedBytes()
        try await socket.send(binary: bytes)
    }

    /// Leaves the room (LeaveRequest, CLIENT_INITIATED) and closes.
    public func leave() async {
        var request = Livekit_SignalRequest()
        var leave = Livekit_LeaveRequest()
        leave.reason = .clientInitiated
        leave.action = .disconnect
        request.leave = leave
        try? await send(request)
        close()
    }

    /// Drops the connection without leaving (the participant may resume within the server's timeout).
    public func close() {
        let tasks = state.withLock { s -> [Task<Void, Never>?] in
            s.closed = true
            return [s.pinger, s.reader]
        }
        for t in tasks { t?.cancel() }
        socket.abort()
        sink.finish()
    }
}

public struct LiveKitJoinError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
