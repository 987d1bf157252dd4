import Foundation
import Logging
import Testing
import SiphonAudio
import SiphonRTP
import SiphonSIP
import SiphonTelephony

/// Siphon's SIP user agent and RTP stack against PJSIP 2.15 (pjsua2) on loopback: audio both ways
/// (checked by correlation), RFC 2833 DTMF both ways, hold/unhold re-INVITEs, BYE from each side,
/// outbound and inbound calls.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PJSIPInteropTests {
    /// A Siphon SIP endpoint on loopback.
    final class Endpoint: @unchecked Sendable {
        let transport: SIPTransport
        let ua: SIPUserAgent
        let task: Task<Void, Never>

        init(trunks: [InboundTrunk] = [], tls: SIPTLSConfiguration = SIPTLSConfiguration(port: 0)) async throws {
            transport = SIPTransport(configuration: .init(bindHost: "127.0.0.1", port: 0, enableTCP: true, tls: tls))
            try await transport.start()
            var config = SIPUserAgentConfiguration(advertisedHost: "127.0.0.1")
            config.inboundTrunks = trunks
            var logger = Logger(label: "test.sip")
            logger.logLevel = .warning
            ua = SIPUserAgent(configuration: config, transport: transport, logger: logger)
            let ua = self.ua
            task = Task { await ua.run() }
            await ua.attach()
        }

        deinit {
            task.cancel()
            let t = transport
            Task { await t.stop() }
        }
    }

    /// Runs an RTP session: collects what arrives, sends what it is given.
    final class Media: @unchecked Sendable {
        let session: RTPSession
        let port: Int
        private let heard = Heard()
        private var tasks: [Task<Void, Never>] = []

        actor Heard {
            var samples: [Int16] = []
            var digits = ""
            func add(_ s: [Int16]) { samples += s }
            func add(_ d: Character) { digits.append(d) }
        }

        init() async throws {
            session = RTPSession(configuration: { var c = RTPSession.Configuration(); c.bindHost = "127.0.0.1"; return c }())
            port = try await session.open()
        }

        /// Accepts media from now on (into the jitter buffer): a callee answering must, because its
        /// caller may send from the 200 OK on, before its ACK arrives.
        func listen(_ media: NegotiatedMedia) throws {
            try session.configure(Self.parameters(media))
        }

        func start(_ media: NegotiatedMedia) throws {
            try session.configure(Self.parameters(media))
            let s = session, h = heard
            tasks.append(Task { await s.run() })
            tasks.append(Task { for await f in s.incoming { await h.add(f.samples) } })
            tasks.append(Task { for await d in s.dtmf { await h.add(d) } })
        }

        static func parameters(_ m: NegotiatedMedia) -> RTPMediaParameters { TelephonyService.parameters(m) }

        func play(_ samples16k: [Int16]) {
            for frame in stride(from: 0, to: samples16k.count - 319, by: 320) {
                session.enqueue(AudioFrame(sampleRate: 16000, samples: Array(samples16k[frame..<frame + 320])))
            }
        }

        var samples: [Int16] { get async { await heard.samples } }
        var digits: String { get async { await heard.digits } }

        func stop() {
            session.stop()
            for t in tasks { t.cancel() }
        }
    }

    static func offer(port: Int, srtp: Bool = false) -> SessionDescription {
        var policy = MediaPolicy()
        policy.srtp = srtp
        return SDPNegotiator.offer(policy: policy, address: "127.0.0.1", port: port, sessionID: UInt64.random(in: 1...1_000_000), version: 1)
    }

    /// The probe (at 8 kHz) and a WAV of it, then 2 s of silence, at `fileRate` with `channels`
    /// (baresip plays a file only at its codec's rate and channels: Opus's 48 kHz stereo).
    static func writeProbe(fileRate: Int = 8000, channels: Int = 1) throws -> (URL, [Int16]) {
        let probe = AudioCheck.probe()
        let url = try Repository.temporaryDirectory("probe").appendingPathComponent("probe.wav")
        let mono = AudioCheck.resample(probe + [Int16](repeating: 0, count: 16000), from: 8000, to: fileRate)
        let file = channels == 2 ? mono.flatMap { [$0, $0] } : mono
        try WAVFile(sampleRate: fileRate, samples: file, channels: channels).write(url.path)
        return (url, probe)
    }

    @Test func outboundCallAudioDTMFHoldAndHangup() async throws {
        let (probeURL, probe) = try Self.writeProbe()
        // PJSIP's digits come after its probe (RFC 2833 replaces audio while it sends them).
        let peer = try PJSIPPeer(play: probeURL.path, actions: "3.4:dtmf:123,4.5:hold,5.3:unhold")
        try await peer.waitReady()
        let siphon = try await Endpoint()
        let media = try await Media()
        let call = OutboundCall(target: try SIPURI("sip:+15550200123@127.0.0.1:\(peer.port)"),
                                from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
                                peer: SIPPeer(host: "127.0.0.1", port: peer.port), offer: Self.offer(port: media.port))
        let sipCall = try await siphon.ua.invite(call)
        let negotiated = try #require(await sipCall.media)
        #expect(negotiated.codec.name == "PCMU")
        #expect(negotiated.dtmfPayloadType != nil)
        let policy = MediaPolicy()
        let session = media.session
        await sipCall.setOfferHandler { offer in
            let (answer, m) = try SDPNegotiator.answer(offer, policy: policy, address: "127.0.0.1", port: media.port, sessionID: 42, version: 2)
            try session.configure(Media.parameters(m))
            return (answer, m)
        }
        try media.start(negotiated)
        media.play(AudioCheck.resample(probe, from: 8000, to: 16000))
        var directions: [MediaDirection] = []
        let eventsTask = Task { () -> [MediaDirection] in
            var seen: [MediaDirection] = []
            for await e in sipCall.events { if case .mediaChanged(let m) = e { seen.append(m.direction) } }
            return seen
        }
        try await Task.sleep(for: .seconds(3.2))
        media.session.sendDigits("159")
        try await Task.sleep(for: .seconds(3.3))
        await sipCall.hangup()
        directions = await eventsTask.value
        try await peer.waitExit()
        media.stop()

        #expect(directions == [.recvonly, .sendrecv], "hold then unhold: \(directions)")
        #expect(await media.digits == "123")
        #expect(peer.digits == "159")
        #expect(peer.has("disconnected"))
        let heard = AudioCheck.resample(await media.samples, from: 16000, to: 8000)
        let inbound = AudioCheck.correlation(probe, in: heard)
        #expect(inbound > AudioCheck.whole, "PJSIP → Siphon correlation \(inbound)")
        let recorded = try WAVFile.read(peer.recording.path)
        let outbound = AudioCheck.correlation(probe, in: AudioCheck.resample(recorded.samples, from: recorded.sampleRate, to: 8000))
        #expect(outbound > AudioCheck.whole, "Siphon → PJSIP correlation \(outbound)")
    }

    /// Blind transfer (what `transfer_call` does): REFER to PJSIP, which accepts, calls the target
    /// (a second PJSIP) and reports in NOTIFYs; on the final 200 Siphon hangs up its leg.
    @Test func blindTransferWithREFER() async throws {
        let target = try PJSIPPeer(play: nil, record: false)
        try await target.waitReady()
        let transferee = try PJSIPPeer(play: nil, record: false)
        try await transferee.waitReady()
        let siphon = try await Endpoint()
        let media = try await Media()
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:+15550200123@127.0.0.1:\(transferee.port)"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: transferee.port), offer: Self.offer(port: media.port)))
        try media.start(try #require(await call.media))
        let final = try await call.transfer(to: try SIPURI("sip:peer@127.0.0.1:\(target.port)"), timeout: .seconds(20))
        #expect(final == 200)
        #expect(transferee.has("transfer") { ($0["target"] as? String)?.contains(String(target.port)) == true }, "\(transferee.output)")
        try await eventually(10, "the target answered the transferred call") { target.has("state") { $0["state"] as? String == "CONFIRMED" } }
        try await transferee.waitExit()
        #expect(transferee.has("disconnected"))  // Siphon's leg ended after the transfer
        media.stop()
    }

    /// Over UDP, and over TLS to Siphon's listener (its certificate names 127.0.0.1) with PJSIP
    /// offering SRTP, which Siphon answers with SRTP.
    @Test(arguments: [false, true]) func inboundCallFromPJSIPWhichHangsUp(overTLS: Bool) async throws {
        let (probeURL, probe) = try Self.writeProbe()
        let leaf = TestCertificates.loopback
        let siphon = try await Endpoint(trunks: [InboundTrunk(name: "loopback", allowedAddresses: ["127.0.0.1"])],
                                        tls: overTLS ? SIPTLSConfiguration(certificateChainPath: leaf.certificate, privateKeyPath: leaf.key, port: 0)
                                                     : SIPTLSConfiguration(port: 0))
        let media = try await Media()
        let answered = AsyncStream<SIPCall>.makeStream()
        let port = media.port
        await siphon.ua.onIncomingCall { incoming in
            guard let offer = incoming.offer,
                  let (answer, negotiated) = try? SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: port, sessionID: 7, version: 1)
            else { return await incoming.reject(status: 488) }
            #expect(incoming.dialled == "+15550200123")
            #expect(incoming.source.transport == (overTLS ? .tls : .udp))
            #expect((negotiated.srtp != nil) == overTLS)
            await incoming.ring()
            // PJSIP plays its probe from our 200 OK on; when its ACK comes late (the 200 OK is
            // resent after 500 ms), media started after `answer` returned lost those 500 ms.
            try? media.listen(negotiated)
            if let call = try? await incoming.answer(sdp: answer, media: negotiated, sessionID: 7) {
                try? media.start(negotiated)
                answered.continuation.yield(call)
            }
        }
        let target = overTLS ? "sip:+15550200123@127.0.0.1:\(siphon.transport.tlsPort);transport=tls" : "sip:+15550200123@127.0.0.1:\(siphon.transport.udpPort)"
        let peer = try PJSIPPeer(play: probeURL.path, call: target, actions: "4.0:hangup", tls: overTLS ? leaf : nil, srtp: overTLS)
        var iterator = answered.stream.makeAsyncIterator()
        let call = try #require(await iterator.next())
        media.play(AudioCheck.resample(probe, from: 8000, to: 16000))
        var ended: SIPCallEvent?
        for await e in call.events { if case .ended = e { ended = e } }
        #expect(ended == .ended(remote: true, reason: "caller hung up"))
        try await peer.waitExit()
        media.stop()
        let heard = AudioCheck.resample(await media.samples, from: 16000, to: 8000)
        #expect(AudioCheck.correlation(probe, in: heard) > AudioCheck.whole)
        let recorded = try WAVFile.read(peer.recording.path)
        #expect(AudioCheck.correlation(probe, in: AudioCheck.resample(recorded.samples, from: recorded.sampleRate, to: 8000)) > AudioCheck.whole)
    }

    /// Over TCP, and over TLS to PJSIP's listener: Siphon trusts the test authority that signed
    /// PJSIP's certificate (for 127.0.0.1), and checks it. Over TLS the media is SRTP (SDES keys
    /// in the SDP), which PJSIP requires: the audio both ways shows the keys and suites agree.
    @Test(arguments: [SIPTransportKind.tcp, .tls]) func callOverAConnection(_ kind: SIPTransportKind) async throws {
        let (probeURL, probe) = try Self.writeProbe()
        let peer = try PJSIPPeer(play: probeURL.path, actions: "4.0:hangup", tcp: kind == .tcp, tls: kind == .tls ? TestCertificates.loopback : nil,
                                 srtp: kind == .tls)
        try await peer.waitReady()
        // With a listener of its own: PJSIP sends its BYE on a connection it opens to the Contact.
        let leaf = TestCertificates.loopback
        let siphon = try await Endpoint(tls: SIPTLSConfiguration(certificateChainPath: leaf.certificate, privateKeyPath: leaf.key,
                                                                 trustRootsPath: TestCertificates.authority, port: 0))
        let media = try await Media()
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:peer@127.0.0.1:\(peer.port);transport=\(kind.rawValue.lowercased())"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: peer.port, transport: kind), offer: Self.offer(port: media.port, srtp: kind == .tls),
            policy: { var p = MediaPolicy(); p.srtp = kind == .tls; return p }()))
        let negotiated = try #require(await call.media)
        #expect((negotiated.srtp != nil) == (kind == .tls), "\(negotiated)")
        try media.start(negotiated)
        var ended: SIPCallEvent?
        for await e in call.events { if case .ended = e { ended = e } }
        #expect(ended == .ended(remote: true, reason: "caller hung up"))  // PJSIP's BYE arrived on the connection
        try await peer.waitExit()
        media.stop()
        #expect(AudioCheck.correlation(probe, in: AudioCheck.resample(await media.samples, from: 16000, to: 8000)) > AudioCheck.whole)
    }

    /// A TLS peer whose certificate no trusted authority signed is not called: the INVITE fails with
    /// the reason, and PJSIP never sees it.
    @Test func aTLSPeerWithAnUntrustedCertificateIsNotCalled() async throws {
        let peer = try PJSIPPeer(play: nil, record: false, timeout: 10, tls: TestCertificates.loopback)
        try await peer.waitReady()
        let siphon = try await Endpoint()  // the system's authorities: the test one is not among them
        let media = try await Media()
        do {
            _ = try await siphon.ua.invite(OutboundCall(
                target: try SIPURI("sip:peer@127.0.0.1:\(peer.port);transport=tls"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
                peer: SIPPeer(host: "127.0.0.1", port: peer.port, transport: .tls), offer: Self.offer(port: media.port)))
            Issue.record("the call went through to an untrusted certificate")
        } catch {
            // The TLS failure itself, not the INVITE's timeout.
            #expect("\(error)".lowercased().contains("certificate"), "\(error)")
        }
        #expect(!peer.has("incoming"))
        media.stop()
    }

    /// RFC 4028 7.4: PJSIP wants sessions of at least 2000 s and answers our 1800 with 422 and
    /// Min-SE; we ask again with its interval, and the call comes up with that session timer.
    @Test func sessionIntervalTooSmallIsRetriedWithTheCalleesMinSE() async throws {
        let peer = try PJSIPPeer(play: nil, record: false, actions: "1.0:hangup", minSE: 2000)
        try await peer.waitReady()
        let siphon = try await Endpoint()
        let media = try await Media()
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:peer@127.0.0.1:\(peer.port)"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: peer.port), offer: Self.offer(port: media.port)))
        #expect(await call.snapshot().sessionExpires == 2000)
        #expect(await call.snapshot().localSeq == 2)  // the second INVITE, after the 422
        for await e in call.events { if case .ended = e { break } }
        try await peer.waitExit()
        media.stop()
    }

    @Test func busyAndRingTimeoutMapToCallOutcomes() async throws {
        let siphon = try await Endpoint()
        let media = try await Media()
        let busy = try PJSIPPeer(play: nil, record: false, answerCode: 486)
        try await busy.waitReady()
        do {
            _ = try await siphon.ua.invite(OutboundCall(target: try SIPURI("sip:+15550200123@127.0.0.1:\(busy.port)"),
                                                        from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
                                                        peer: SIPPeer(host: "127.0.0.1", port: busy.port), offer: Self.offer(port: media.port)))
            Issue.record("a busy callee connected")
        } catch let f as SIPCallFailure {
            #expect(f.kind == .busy && f.status == 486)
        }
        let ringing = try PJSIPPeer(play: nil, record: false, ringMs: 20_000)
        try await ringing.waitReady()
        do {
            _ = try await siphon.ua.invite(OutboundCall(target: try SIPURI("sip:+15550200123@127.0.0.1:\(ringing.port)"),
                                                        from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
                                                        peer: SIPPeer(host: "127.0.0.1", port: ringing.port), offer: Self.offer(port: media.port),
                                                        ringTimeout: .seconds(1.5)))
            Issue.record("an unanswered call connected")
        } catch let f as SIPCallFailure {
            #expect(f.kind == .canceled && f.status == 487, "\(f)")  // CANCEL → 487 Request Terminated
        }
        media.stop()
    }
}
