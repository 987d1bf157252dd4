import Foundation
import Glibc
import Synchronization

/// UDP sockets whose datagrams the kernel timestamps as they arrive (`SO_TIMESTAMPNS`), read by one
/// thread of their own: the load phones' measure of when the worker's packets reached them, not
/// of when this process — on a box it shares with the worker — got round to reading them.
final class StampedUDPSockets: @unchecked Sendable {
    // @unchecked: the handlers are under their mutex; the thread ends with `stop`.
    private let handlers = Mutex<[Int32: @Sendable (_ arrivalNanos: UInt64, _ payload: UnsafeRawBufferPointer) -> Void]>([:])
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    /// `SO_TIMESTAMPNS` (and its control message type) on Linux, x86-64 and arm64 alike.
    private static let timestampNS: Int32 = 35

    init() {
        let thread = Thread { [self] in readLoop() }
        thread.name = "load-phones-rx"
        thread.start()
    }

    struct SocketFailure: Error, CustomStringConvertible {
        let description: String
        init(_ call: String, _ code: Int32) { description = "\(call): \(String(cString: strerror(code)))" }
    }

    /// A socket bound to 127.0.0.1 on a free port; `onArrival` gets each datagram's kernel time and bytes.
    func open(onArrival: @escaping @Sendable (_ arrivalNanos: UInt64, _ payload: UnsafeRawBufferPointer) -> Void) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketFailure("socket", errno) }
        var on: Int32 = 1
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = setsockopt(fd, SOL_SOCKET, Self.timestampNS, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
            && withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } == 0
            && withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } } == 0
        guard ok else {
            let code = errno
            Glibc.close(fd)
            throw SocketFailure("bind", code)
        }
        handlers.withLock { $0[fd] = onArrival }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Sends a datagram to 127.0.0.1:`port` (non-blocking: a full buffer drops it, as a network would).
    func send(_ bytes: [UInt8], from fd: Int32, toPort port: Int) {
        var address = Self.loopback(port: port)
        _ = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    func close(_ fd: Int32) {
        // Closed under the lock: the reader never polls a descriptor number already reused.
        handlers.withLock { h in
            if h.removeValue(forKey: fd) != nil { Glibc.close(fd) }
        }
    }

    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        finished.wait()
        for fd in handlers.withLock({ Array($0.keys) }) { close(fd) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    private func readLoop() {
        var payload = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 128)
        while running.load(ordering: .relaxed) {
            let open = handlers.withLock { $0 }
            var fds = open.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if fds.isEmpty {
                usleep(5000)
                continue
            }
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
            for p in fds where p.revents & Int16(POLLIN) != 0 {
                // The handler now: a socket closed meanwhile has none (its number reused: the new one's).
                guard let handler = handlers.withLock({ $0[p.fd] }) else { continue }
                while let (stamp, length) = receive(p.fd, &payload, &control) {
                    payload.withUnsafeBytes { handler(stamp, UnsafeRawBufferPointer(rebasing: $0[..<length])) }
                }
            }
            // The stamps are the kernel's, so reading a millisecond later costs no precision, and a
            // pass over hundreds of sockets per packet would cost this thread more than it has.
            usleep(1000)
        }
        finished.signal()
    }

    /// One datagram's kernel arrival time (ns) and length, or nil when the socket has nothing more.
    private func receive(_ fd: Int32, _ payload: inout [UInt8], _ control: inout [UInt8]) -> (UInt64, Int)? {
        payload.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { cmsg in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovp -> (UInt64, Int)? in
                    var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: iovp, msg_iovlen: 1,
                                         msg_control: cmsg.baseAddress, msg_controllen: cmsg.count, msg_flags: 0)
                    let length = recvmsg(fd, &message, Int32(MSG_DONTWAIT))
                    guard length >= 0 else { return nil }
                    // Control messages: {len, level, type} then data at 8-byte alignment.
                    var offset = 0
                    let header = MemoryLayout<cmsghdr>.size
                    while offset + header <= message.msg_controllen {
                        let h = cmsg.load(fromByteOffset: offset, as: cmsghdr.self)
                        if h.cmsg_level == SOL_SOCKET, h.cmsg_type == Self.timestampNS, Int(h.cmsg_len) >= header + MemoryLayout<timespec>.size {
                            let t = cmsg.loadUnaligned(fromByteOffset: offset + header, as: timespec.self)
                            return (UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec), length)
                        }
                        guard h.cmsg_len > 0 else { break }
                        offset += (Int(h.cmsg_len) + 7) & ~7
                    }
                    // No stamp (not expected with the option set): the time of reading, on the same clock.
                    var now = timespec()
                    clock_gettime(CLOCK_REALTIME, &now)
                    return (UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec), length)
                }
            }
        }
    }
}
