import Foundation
import SiphonCore

/// The wire timing of a worker's outbound RTP where no phone of ours receives it (LiveKit calls:
/// the far end is the LiveKit server): `tcpdump` records the UDP the worker sends from its media
/// ports, with the kernel's stamps, and each RTP stream's inter-packet deltas are read from the
/// file. SRTP leaves the RTP header in the clear, so streams are told apart by SSRC.
struct PacketCapture {
    let file: String
    private let process: ChildProcess

    /// Starts capturing on loopback the UDP sent from `ports` (e.g. "20000-20400"); waits until
    /// tcpdump listens.
    init(file: String, log: String, ports: String) async throws {
        self.file = file
        try? FileManager.default.removeItem(atPath: file)
        guard let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile) else {
            throw CleanExit.message("the LiveKit step's packet timing needs tcpdump (apt-get install tcpdump)")
        }
        // 64 bytes reach past the RTP header (14 Ethernet, 20 IP, 8 UDP, 12 RTP); -U writes each packet as it comes.
        process = try ChildProcess(tcpdump, ["-i", "lo", "-n", "-U", "-s", "64", "-B", "32768", "-w", file, "udp and src portrange \(ports)"],
                                   environment: ProcessInfo.processInfo.environment, output: log)
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("listening on") { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.wait(seconds: 0)
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw CleanExit.message("tcpdump could not capture on lo (it needs root or CAP_NET_RAW): \(said.suffix(300))")
    }

    /// Stops the capture and reads the streams of at least `minimumPackets` packets.
    func stop(minimumPackets: Int = 50) throws -> LoadPhones.Figures {
        process.signal(SIGINT)
        process.wait(seconds: 5)
        return try Self.figures(Array(try Data(contentsOf: URL(fileURLWithPath: file))), minimumPackets: minimumPackets)
    }

    /// Inter-packet deltas per RTP stream (SSRC) of a classic pcap file (Ethernet, Linux cooked v1
    /// or v2 link layer; IPv4). RTCP (second byte 192–223, RFC 5761), STUN and DTLS are left out.
    static func figures(_ bytes: [UInt8], minimumPackets: Int) throws -> LoadPhones.Figures {
        func u32(_ at: Int) -> UInt32 { UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24 }
        guard bytes.count >= 24 else { throw SiphonError.invalid("packet capture: no pcap header") }
        let nanos: Bool
        switch u32(0) {
        case 0xa1b2_c3d4: nanos = false
        case 0xa1b2_3c4d: nanos = true
        default: throw SiphonError.invalid("packet capture: not a little-endian pcap file")
        }
        let linkHeader: Int
        switch u32(20) {
        case 1: linkHeader = 14
        case 113: linkHeader = 16
        case 276: linkHeader = 20
        case let other: throw SiphonError.invalid("packet capture: link type \(other) is not read here")
        }
        struct Stream { var last: UInt64; var deltas: [Int32] = []; var packets = 1 }
        var streams: [UInt32: Stream] = [:]
        var at = 24
        while at + 16 <= bytes.count {
            let stamp = UInt64(u32(at)) * 1_000_000_000 + UInt64(u32(at + 4)) * (nanos ? 1 : 1000)
            let length = Int(u32(at + 8))
            let packet = at + 16
            at = packet + length
            guard at <= bytes.count else { break }  // cut short: tcpdump stopped mid-write
            let ip = packet + linkHeader
            guard ip + 20 <= at, bytes[ip] >> 4 == 4, bytes[ip + 9] == 17 else { continue }
            let rtp = ip + Int(bytes[ip] & 0x0f) * 4 + 8
            guard rtp + 12 <= at, bytes[rtp] >> 6 == 2, !(192...223).contains(bytes[rtp + 1]) else { continue }
            let ssrc = UInt32(bytes[rtp + 8]) << 24 | UInt32(bytes[rtp + 9]) << 16 | UInt32(bytes[rtp + 10]) << 8 | UInt32(bytes[rtp + 11])
            if var s = streams[ssrc] {
                s.deltas.append(Int32(clamping: (Int64(stamp) - Int64(s.last)) / 1000))
                (s.last, s.packets) = (stamp, s.packets + 1)
                streams[ssrc] = s
            } else {
                streams[ssrc] = Stream(last: stamp)
            }
        }
        var f = LoadPhones.Figures()
        for s in streams.values where s.packets >= minimumPackets {
            f.deltasMicros += s.deltas
            f.maxDeltaMs.append(Double(s.deltas.max() ?? 0) / 1000)
            f.packets += s.packets
        }
        return f
    }
}
