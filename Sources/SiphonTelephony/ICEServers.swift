import Foundation
import LiveKitProtocol
import Logging
import SiphonWebRTC

/// STUN and TURN servers from `JoinResponse.ice_servers` (`stun:host:port`, `turn:host:port?transport=udp|tcp`).
enum ICEServers {
    static func resolve(_ servers: [Livekit_ICEServer], logger: Logger) async -> (stun: [TransportAddress], turn: [ICEAgent.TURNServer]) {
        var stun: [TransportAddress] = [], turn: [ICEAgent.TURNServer] = []
        for server in servers {
            for url in server.urls {
                guard let (scheme, host, port, transport) = parse(url) else { continue }
                // STUN over UDP; TURN over UDP or TCP (turns:, TLS, is not spoken yet).
                guard let via = ICEAgent.TURNServer.Transport(rawValue: transport), scheme == "turn" || via == .udp else { continue }
                guard let address = await DNS.resolve(host, port: port) else {
                    logger.warning("cannot resolve an ICE server", metadata: ["ice.url": "\(scheme):\(host):\(port)"])
                    continue
                }
                if scheme == "stun" { stun.append(address) } else {
                    turn.append(ICEAgent.TURNServer(address: address, username: server.username, password: server.credential, transport: via))
                }
            }
        }
        return (stun, turn)
    }

    /// `turn:host:port?transport=udp` → (turn, host, port, udp).
    static func parse(_ url: String) -> (String, String, Int, String)? {
        let parts = url.split(separator: "?", maxSplits: 1)
        let main = parts[0]
        guard let colon = main.firstIndex(of: ":") else { return nil }
        let scheme = main[..<colon].lowercased()
        guard ["stun", "turn"].contains(scheme) else { return nil }  // turns: (TLS) not yet
        var rest = String(main[main.index(after: colon)...])
        var port = 3478
        if let c = rest.lastIndex(of: ":"), let p = Int(rest[rest.index(after: c)...]) {
            port = p
            rest = String(rest[..<c])
        }
        let transport = parts.count > 1 ? (parts[1].split(separator: "=").last.map(String.init) ?? "udp") : "udp"
        return (scheme, rest.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port, transport.lowercased())
    }

    static func isLoopback(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}
