import Dispatch
import Foundation
import NIOCore
import Synchronization

/// Resolves SIP peers' host names off Swift's cooperative pool (getaddrinfo blocks its thread for
/// as long as DNS takes) and remembers each answer for `ttl`, so a trunk named by host costs one
/// lookup a minute, not one per message. Address literals are parsed, never resolved.
final class NameResolver: Sendable {
    static let shared = NameResolver()

    let ttl: Duration
    private let queue = DispatchQueue(label: "siphon.dns", attributes: .concurrent)
    private let cache = Mutex<[String: (address: SocketAddress, expires: ContinuousClock.Instant)]>([:])

    init(ttl: Duration = .seconds(60)) { self.ttl = ttl }

    func resolve(_ host: String, port: Int) async throws -> SocketAddress {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return literal }
        let key = "\(host.lowercased()):\(port)"
        if let hit = cache.withLock({ $0[key] }), hit.expires > .now { return hit.address }
        let address: SocketAddress = try await withCheckedThrowingContinuation { done in
            queue.async { done.resume(with: Result { try SocketAddress.makeAddressResolvingHost(host, port: port) }) }
        }
        cache.withLock { c in
            if c.count > 1024 { c.removeAll() }  // names come from configuration; never many
            c[key] = (address, .now + ttl)
        }
        return address
    }
}
