import Foundation
import SiphonCore

/// A network namespace of the test's own, joined to the test's namespace by a veth pair:
/// `hostAddress` on this side, `address` inside. What runs inside reaches this side only over
/// the pair — not its loopback — so paths can be blocked, relayed or made lossy. Needs root (CI
/// runs as root); removed when released.
final class NetworkNamespace: @unchecked Sendable {
    let name: String
    let hostAddress: String
    let address: String
    private let hostLink: String

    init(loss: Double = 0) throws {
        let n = Int.random(in: 2...250)
        name = "siphon-\(UUID().uuidString.prefix(6).lowercased())"
        hostLink = "sv\(UUID().uuidString.prefix(6).lowercased())"
        let inner = "sn\(UUID().uuidString.prefix(6).lowercased())"
        (hostAddress, address) = ("10.\(n).77.1", "10.\(n).77.2")
        try Self.ip(["netns", "add", name])
        try Self.ip(["link", "add", hostLink, "type", "veth", "peer", "name", inner])
        try Self.ip(["link", "set", inner, "netns", name])
        try Self.ip(["addr", "add", "\(hostAddress)/24", "dev", hostLink])
        try Self.ip(["link", "set", hostLink, "up"])
        try exec(["ip", "addr", "add", "\(address)/24", "dev", inner])
        try exec(["ip", "link", "set", inner, "up"])
        try exec(["ip", "link", "set", "lo", "up"])
        if loss > 0 {
            // tc netem is not in this kernel: nftables' random numbers drop the same share of UDP
            // both ways (what the namespace sends and what it receives).
            for chain in ["INPUT", "OUTPUT"] {
                try exec(["iptables", "-A", chain, "-p", "udp", "!", "-s", "127.0.0.1", "-m", "statistic", "--mode", "random",
                          "--probability", String(loss), "-j", "DROP"])
            }
        }
    }

    deinit {
        _ = try? Self.ip(["netns", "del", name])
        _ = try? Self.ip(["link", "del", hostLink])
    }

    /// The command line that runs `arguments` inside the namespace.
    func prefix(_ arguments: [String]) -> [String] { ["netns", "exec", name] + arguments }

    @discardableResult
    func exec(_ arguments: [String]) throws -> String { try Self.ip(prefix(arguments)) }

    @discardableResult
    static func ip(_ arguments: [String]) throws -> String { try Repository.run("/usr/sbin/ip", arguments, timeout: 30) }
}

/// coturn (Debian's) as a TURN server for a test: long-term credentials, relaying on `relayIP`.
final class TURNServer: @unchecked Sendable {
    let port: Int
    let username = "siphon"
    let password = "turn-\(UUID().uuidString.prefix(8))"
    private let process: ChildProcess

    /// `udp: false`: clients reach it over TCP only (the relayed leg is UDP either way).
    init(listen: [String], relayIP: String, udp: Bool = true) async throws {
        port = LoopbackPort.free(udp: true)
        let dir = try Repository.temporaryDirectory("coturn")
        var args = ["-n", "--no-tls", "--no-dtls", "--no-cli", "--lt-cred-mech", "--realm", "siphon.test", "--user", "\(username):\(password)",
                    "--listening-port", String(port), "--relay-ip", relayIP, "--min-port", "49152", "--max-port", "65535",
                    "--log-file", "stdout", "--simple-log", "--pidfile", dir.appendingPathComponent("turn.pid").path,
                    "--allowed-peer-ip", "10.0.0.0-10.255.255.255"] + (udp ? [] : ["--no-udp"])
        for ip in listen { args += ["--listening-ip", ip] }
        process = try ChildProcess("/usr/bin/turnserver", args, environment: ProcessInfo.processInfo.environment,
                                   output: dir.appendingPathComponent("turn.log").path)
        let log = dir.appendingPathComponent("turn.log")
        try await eventually(20, "coturn listening") {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("Total General servers")
        }
    }

    deinit { process.wait(seconds: 0) }
}
