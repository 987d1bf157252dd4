import ArgumentParser
import Foundation
import SiphonRTP
import SiphonSIP

/// `siphon bench sip`: the signalling and media-receive paths on one core — SIP messages parsed per
/// second, alone and with the checks the stack runs on each (a carrier INVITE with SDP, a 200 OK, an
/// in-dialog BYE) and RTP packets per second through
/// header parsing and the jitter buffer (with 5 % reordering). Baselines from the same run: CPython's
/// `email` header parser (C-accelerated) on the same SIP bytes, and RTP header parsing alone.
struct BenchSIPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sip", abstract: "SIP parse rate and RTP receive rate (parse + jitter buffer) on one core.")

    @Option(help: "SIP messages to parse.") var messages: Int = 200_000
    @Option(help: "RTP packets to receive.") var packets: Int = 2_000_000
    @Flag(help: "Skip the CPython baseline.") var noBaseline = false
    @Flag(help: "JSON output.") var json = false

    struct Result: Encodable {
        var sipMessagesPerSecond: Double
        var sipParseOnlyPerSecond: Double
        var sipMeanBytes: Int
        var pythonEmailHeadersPerSecond: Double?
        var ratioToPythonEmail: Double?
        var rtpPacketsPerSecond: Double
        var rtpParseOnlyPacketsPerSecond: Double
        var jitterBufferShareOfReceive: Double
        var realtimeStreamsPerCore: Double

        enum CodingKeys: String, CodingKey {
            case sipMessagesPerSecond = "sip_messages_per_second", sipParseOnlyPerSecond = "sip_parse_only_per_second", sipMeanBytes = "sip_mean_bytes"
            case pythonEmailHeadersPerSecond = "python_email_headers_per_second", ratioToPythonEmail = "ratio_to_python_email"
            case rtpPacketsPerSecond = "rtp_packets_per_second", rtpParseOnlyPacketsPerSecond = "rtp_parse_only_packets_per_second"
            case jitterBufferShareOfReceive = "jitter_buffer_share_of_receive", realtimeStreamsPerCore = "realtime_streams_per_core"
        }
    }

    func run() async throws {
        guard messages > 0, packets > 0 else { throw ValidationError("--messages and --packets must be positive") }
        let corpus = Self.sipCorpus()
        let sipRate = Self.rate(count: messages) { i in
            // What the stack does with each datagram: parse, then the RFC 3261 checks.
            guard let m = try? SIPParser.parse(datagram: corpus[i % corpus.count]) else { return 0 }
            if m.isRequest { try? SIPValidation.validate(request: m) } else { try? SIPValidation.validate(response: m) }
            return m.headers.count
        }
        let parseRate = Self.rate(count: messages) { i in
            (try? SIPParser.parse(datagram: corpus[i % corpus.count]))?.headers.count ?? 0
        }
        let (wire, arrivals) = Self.rtpStream(count: 3000)
        let parseOnly = Self.rate(count: packets) { i in
            (try? RTPPacket(parsing: wire[i % wire.count]))?.payload.count ?? 0
        }
        let buffer = JitterBuffer(configuration: .init(clockRate: 8000))
        let receive = Self.rate(count: packets) { i in
            let k = i % wire.count
            guard let p = try? RTPPacket(parsing: wire[k]) else { return 0 }
            // The stream loops: a later lap is a later time (the buffer restarts on the sequence jump).
            buffer.insert(p, arrivalNanoseconds: arrivals[k] &+ UInt64(i / wire.count) * 60_000_000_000)
            if case .frame(let payload) = buffer.pop() { return payload.count }
            return 1
        }
        var result = Result(
            sipMessagesPerSecond: sipRate.rounded(), sipParseOnlyPerSecond: parseRate.rounded(), sipMeanBytes: corpus.map(\.count).reduce(0, +) / corpus.count,
            rtpPacketsPerSecond: receive.rounded(), rtpParseOnlyPacketsPerSecond: parseOnly.rounded(),
            jitterBufferShareOfReceive: ((1 - receive / parseOnly) * 1000).rounded() / 1000,
            realtimeStreamsPerCore: (receive / 50).rounded())
        if !noBaseline, let py = Self.pythonEmailBaseline(corpus, count: 50_000) {
            result.pythonEmailHeadersPerSecond = py.rounded()
            result.ratioToPythonEmail = (parseRate / py * 100).rounded() / 100
        }
        if json { printJSON(result); return }
        print(String(format: "SIP: %.0f messages/s parsed and validated (RFC 3261 checks: Via, From, To, CSeq, Contact); mean %d bytes", sipRate, result.sipMeanBytes))
        print(String(format: "  parse alone: %.0f messages/s", parseRate))
        if let py = result.pythonEmailHeadersPerSecond, let r = result.ratioToPythonEmail {
            print(String(format: "  CPython email.parser on the same bytes (headers only): %.0f/s; our parse alone is %.2f× that", py, r))
        }
        print(String(format: "RTP: %.0f packets/s through parse + jitter buffer (%.0f real-time 50 pps streams per core)", receive, receive / 50))
        print(String(format: "  parse alone: %.0f packets/s; the jitter buffer takes %.1f %% of receive", parseOnly, result.jitterBufferShareOfReceive * 100))
    }

    /// Operations per second of `body(i)` for i in 0..<count (after a short warm-up).
    static func rate(count: Int, _ body: (Int) -> Int) -> Double {
        var sink = 0
        for i in 0..<min(1000, count) { sink &+= body(i) }
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<count { sink &+= body(i) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if sink == 42 { print("") }  // keep the work observable
        return Double(count) / seconds
    }

    /// What a worker receives most: a carrier's INVITE with SDP, a 200 OK with SDP, an in-dialog BYE.
    static func sipCorpus() -> [[UInt8]] {
        let sdp = "v=0\r\no=- 4858 4858 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\nm=audio 18324 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        let invite = """
            INVITE sip:+15550100000@198.51.100.7:5060 SIP/2.0\r
            Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-524287-1---6a1e2f;rport\r
            Max-Forwards: 69\r
            Contact: <sip:+15550200123@203.0.113.10:5060;transport=udp>\r
            To: <sip:+15550100000@198.51.100.7>\r
            From: "Caller" <sip:+15550200123@203.0.113.10>;tag=7f3a91c2\r
            Call-ID: 1-2143@203.0.113.10\r
            CSeq: 1 INVITE\r
            Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO, UPDATE\r
            Supported: timer, replaces\r
            Session-Expires: 1800;refresher=uac\r
            Content-Type: application/sdp\r
            User-Agent: carrier-edge/1.0\r
            Content-Length: \(sdp.utf8.count)\r
            \r
            \(sdp)
            """
        let ok = """
            SIP/2.0 200 OK\r
            Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-siphon-91f2;rport=5060;received=198.51.100.7\r
            Record-Route: <sip:203.0.113.1;lr>\r
            Contact: <sip:+15550200123@203.0.113.10:5060>\r
            To: <sip:+15550200123@203.0.113.10>;tag=as5f1c\r
            From: <sip:+15550100000@198.51.100.7>;tag=siphon-1a2b\r
            Call-ID: siphon-8c1e@198.51.100.7\r
            CSeq: 1 INVITE\r
            Content-Type: application/sdp\r
            Content-Length: \(sdp.utf8.count)\r
            \r
            \(sdp)
            """
        let bye = """
            BYE sip:+15550100000@198.51.100.7:5060 SIP/2.0\r
            Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-524287-1---77aa\r
            Max-Forwards: 70\r
            To: <sip:+15550100000@198.51.100.7>;tag=siphon-1a2b\r
            From: <sip:+15550200123@203.0.113.10>;tag=7f3a91c2\r
            Call-ID: 1-2143@203.0.113.10\r
            CSeq: 2 BYE\r
            Content-Length: 0\r
            \r

            """
        return [invite, ok, bye].map { Array($0.utf8) }
    }

    /// 20 ms G.711 packets with ±8 ms arrival jitter and every 20th packet swapped with the next.
    static func rtpStream(count: Int) -> ([[UInt8]], [UInt64]) {
        var order = Array(0..<count)
        for i in stride(from: 10, to: count - 1, by: 20) { order.swapAt(i, i + 1) }
        var wire: [[UInt8]] = []
        var arrivals: [UInt64] = []
        for (slot, n) in order.enumerated() {
            let packet = RTPPacket(payloadType: 0, sequence: UInt16(truncatingIfNeeded: 1000 + n), timestamp: UInt32(n * 160),
                                   ssrc: 0x5151_0001, payload: [UInt8](repeating: 0xFF, count: 160))
            wire.append(packet.serialized())
            let jitter = Int64((slot &* 7919) % 17) - 8  // −8…+8 ms
            arrivals.append(UInt64(Int64(slot) * 20_000_000 + 50_000_000 + jitter * 1_000_000))
        }
        return (wire, arrivals)
    }

    /// CPython's `email` parser (its header parsing is what Python SIP stacks build on) over the
    /// same messages, in messages per second.
    static func pythonEmailBaseline(_ corpus: [[UInt8]], count: Int) -> Double? {
        let literal = corpus.map { "bytes.fromhex('\($0.map { String(format: "%02x", $0) }.joined())')" }.joined(separator: ", ")
        let script = """
            import time
            from email.parser import BytesHeaderParser
            from email import policy
            corpus = [\(literal)]
            parser = BytesHeaderParser(policy=policy.compat32)
            bodies = [m.split(b'\\r\\n', 1)[1] for m in corpus]
            n = \(count)
            t0 = time.perf_counter()
            for i in range(n):
                parser.parsebytes(bodies[i % len(bodies)])
            print(n / (time.perf_counter() - t0))
            """
        return PythonBaseline.measure(script)
    }
}
