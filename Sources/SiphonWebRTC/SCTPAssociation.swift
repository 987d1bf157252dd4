import CUsrsctp
import Foundation
import NIOCore
import Synchronization

/// One SCTP association over DTLS (RFC 8261) on usrsctp, for data channels. usrsctp keeps its own
/// timer thread and may call back from it or from inside our calls, so every callback copies
/// what it got and hops onto the peer connection's event loop; nothing here re-enters DTLS.
public final class SCTPAssociation: @unchecked Sendable {
    // Touched on `eventLoop` (or before `start`); usrsctp's callbacks only look the instance up
    // in the registry and hop.

    public enum Event: Sendable, Equatable {
        case up
        case message(stream: UInt16, ppid: UInt32, data: [UInt8])
        /// The peer reset these incoming streams (a data channel closed).
        case streamsReset([UInt16])
        case down
    }

    /// RFC 8831 §6.6 payload protocol identifiers.
    public enum PPID: UInt32, Sendable {
        case dcep = 50, string = 51, binary = 53, emptyString = 56, emptyBinary = 57
    }

    let eventLoop: any EventLoop
    private let id: UInt
    private var socket: OpaquePointer?
    /// SCTP packets for DTLS (on the event loop).
    private let output: @Sendable ([UInt8]) -> Void
    private let onEvent: @Sendable (Event) -> Void
    public private(set) var isUp = false

    private static let initialised: Bool = {
        usrsctp_init(0, { addr, buffer, length, _, _ in
            guard let addr, let buffer else { return -1 }
            let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: length))
            SCTPAssociation.lookup(UInt(bitPattern: addr))?.emit(bytes)
            return 0
        }, nil)
        return true
    }()

    private static let registry = Mutex<[UInt: Weak]>([:])
    private static let nextID = Atomic<UInt>(1)
    private struct Weak { weak var value: SCTPAssociation? }

    static func lookup(_ id: UInt) -> SCTPAssociation? { registry.withLock { $0[id]?.value } }

    public init(eventLoop: any EventLoop, output: @escaping @Sendable ([UInt8]) -> Void, onEvent: @escaping @Sendable (Event) -> Void) {
        _ = Self.initialised
        self.eventLoop = eventLoop
        self.output = output
        self.onEvent = onEvent
        id = Self.nextID.add(1, ordering: .relaxed).oldValue
        Self.registry.withLock { $0[id] = Weak(value: self) }
    }

    deinit {
        Self.registry.withLock { $0[id] = nil }
        if let socket { usrsctp_close(socket) }
        usrsctp_deregister_address(UnsafeMutableRawPointer(bitPattern: id))
    }

    /// Opens the association: both sides bind and connect port 5000 (RFC 8841 §9.3).
    public func start(port: UInt16 = 5000) throws {
        let address = UnsafeMutableRawPointer(bitPattern: id)
        usrsctp_register_address(address)
        guard let s = usrsctp_socket(siphon_AF_CONN(), Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_SCTP), { _, _, data, length, info, flags, ulp in
            guard let ulp else { if let data { free(data) }; return 1 }
            let owner = UInt(bitPattern: ulp)
            defer { if let data { free(data) } }
            guard let data, let association = SCTPAssociation.lookup(owner) else { return 1 }
            let bytes = Array(UnsafeRawBufferPointer(start: data, count: length))
            association.received(bytes, stream: info.rcv_sid, ppid: UInt32(bigEndian: info.rcv_ppid), notification: flags & MSG_NOTIFICATION != 0)
            return 1
        }, nil, 0, address) else {
            throw WebRTCError(.library, "usrsctp_socket failed (errno \(errno))")
        }
        socket = s
        usrsctp_set_non_blocking(s, 1)
        var linger = linger(l_onoff: 1, l_linger: 0)
        usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        var one: Int32 = 1
        usrsctp_setsockopt(s, Int32(IPPROTO_SCTP), SCTP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var reset = sctp_assoc_value(assoc_id: sctp_assoc_t(SCTP_ALL_ASSOC), assoc_value: UInt32(SCTP_ENABLE_RESET_STREAM_REQ))
        usrsctp_setsockopt(s, Int32(IPPROTO_SCTP), SCTP_ENABLE_STREAM_RESET, &reset, socklen_t(MemoryLayout<sctp_assoc_value>.size))
        for type in [SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT] {
            var event = sctp_event(se_assoc_id: sctp_assoc_t(SCTP_ALL_ASSOC), se_type: UInt16(type), se_on: 1)
            usrsctp_setsockopt(s, Int32(IPPROTO_SCTP), SCTP_EVENT, &event, socklen_t(MemoryLayout<sctp_event>.size))
        }
        var init_ = sctp_initmsg(sinit_num_ostreams: 1024, sinit_max_instreams: 1024, sinit_max_attempts: 0, sinit_max_init_timeo: 0)
        usrsctp_setsockopt(s, Int32(IPPROTO_SCTP), SCTP_INITMSG, &init_, socklen_t(MemoryLayout<sctp_initmsg>.size))
        var params = sctp_paddrparams()
        params.spp_flags = UInt32(SPP_PMTUD_DISABLE)
        params.spp_pathmtu = 1200 - 28  // DTLS over UDP over IPv4, with room (RFC 8261 §5)
        usrsctp_setsockopt(s, Int32(IPPROTO_SCTP), SCTP_PEER_ADDR_PARAMS, &params, socklen_t(MemoryLayout<sctp_paddrparams>.size))
        var local = sockaddr_conn()
        local.sconn_family = UInt16(siphon_AF_CONN())
        local.sconn_port = port.bigEndian
        local.sconn_addr = address
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { usrsctp_bind(s, UnsafeMutablePointer(mutating: $0), socklen_t(MemoryLayout<sockaddr_conn>.size)) } }
        guard bound == 0 else { throw WebRTCError(.library, "usrsctp_bind failed (errno \(errno))") }
        let connected = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { usrsctp_connect(s, UnsafeMutablePointer(mutating: $0), socklen_t(MemoryLayout<sockaddr_conn>.size)) } }
        guard connected == 0 || errno == EINPROGRESS else { throw WebRTCError(.library, "usrsctp_connect failed (errno \(errno))") }
    }

    /// An SCTP packet from DTLS.
    public func input(_ packet: [UInt8]) {
        guard socket != nil, packet.count >= 12, packet.count <= 65_536 else { return }
        packet.withUnsafeBytes { usrsctp_conninput(UnsafeMutableRawPointer(bitPattern: id), $0.baseAddress, $0.count, 0) }
    }

    /// Sends one message on `stream`. False when it could not be queued (association down, buffer full).
    @discardableResult
    public func send(_ data: [UInt8], stream: UInt16, ppid: PPID, ordered: Bool = true) -> Bool {
        guard let socket, isUp || ppid == .dcep else { return false }
        var spa = sctp_sendv_spa()
        spa.sendv_flags = UInt32(SCTP_SEND_SNDINFO_VALID)
        spa.sendv_sndinfo.snd_sid = stream
        spa.sendv_sndinfo.snd_flags = UInt16(SCTP_EOR) | (ordered ? 0 : UInt16(SCTP_UNORDERED))
        spa.sendv_sndinfo.snd_ppid = ppid.rawValue.bigEndian
        let payload = data.isEmpty ? [0] : data  // empty messages travel as one byte with the "empty" PPID
        let n = payload.withUnsafeBytes { bytes in
            usrsctp_sendv(socket, bytes.baseAddress, bytes.count, nil, 0, &spa,
                          socklen_t(MemoryLayout<sctp_sendv_spa>.size), UInt32(SCTP_SENDV_SPA), 0)
        }
        return n >= 0
    }

    public func close() {
        guard let socket else { return }
        self.socket = nil
        usrsctp_close(socket)
    }

    // MARK: callbacks (any thread) → the event loop

    private func emit(_ bytes: [UInt8]) {
        let output = self.output
        eventLoop.execute { output(bytes) }
    }

    private func received(_ bytes: [UInt8], stream: UInt16, ppid: UInt32, notification: Bool) {
        eventLoop.execute { [self] in
            guard notification else { return onEvent(.message(stream: stream, ppid: ppid, data: bytes)) }
            guard bytes.count >= 8 else { return }
            let type = UInt16(bytes[0]) | UInt16(bytes[1]) << 8  // host order (little-endian here)
            switch Int32(type) {
            case Int32(SCTP_ASSOC_CHANGE):
                // struct sctp_assoc_change: type, flags, length, state (uint16 at offset 8)
                guard bytes.count >= 10 else { return }
                let state = UInt16(bytes[8]) | UInt16(bytes[9]) << 8
                if state == UInt16(SCTP_COMM_UP) || state == UInt16(SCTP_RESTART) {
                    isUp = true
                    onEvent(.up)
                } else if state == UInt16(SCTP_COMM_LOST) || state == UInt16(SCTP_SHUTDOWN_COMP) || state == UInt16(SCTP_CANT_STR_ASSOC) {
                    isUp = false
                    onEvent(.down)
                }
            case Int32(SCTP_STREAM_RESET_EVENT):
                // struct sctp_stream_reset_event: type, flags, length, assoc id (4), then stream ids
                guard bytes.count >= 12 else { return }
                let flags = UInt16(bytes[2]) | UInt16(bytes[3]) << 8
                guard flags & UInt16(SCTP_STREAM_RESET_INCOMING_SSN) != 0 else { return }
                let streams = stride(from: 12, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
                onEvent(.streamsReset(streams))
            default:
                break
            }
        }
    }
}
