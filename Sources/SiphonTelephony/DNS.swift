import Foundation
import SiphonWebRTC

/// Name resolution off Swift's cooperative pool (getaddrinfo blocks).
enum DNS {
    static func resolve(_ host: String, port: Int) async -> TransportAddress? {
        if let literal = try? TransportAddress(ip: host, port: port) { return literal }
        return await withCheckedContinuation { done in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_INET
                hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return done.resume(returning: nil) }
                defer { freeaddrinfo(list) }
                let address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> TransportAddress? in
                    var a = sin.pointee.sin_addr
                    let bytes = withUnsafeBytes(of: &a) { Array($0) }
                    return try? TransportAddress(bytes: bytes, port: port)
                }
                done.resume(returning: address)
            }
        }
    }
}
