import Foundation
import Testing
import SiphonAudio
import SiphonRTP
import SiphonSIP

/// Through Kamailio as registrar and proxy: REGISTER answered after a 401 digest challenge,
/// INVITEs after 407 challenges (SHA-256 with qop=auth), record-routed dialogs, calls in both
/// directions with PJSIP on the far side.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KamailioTests {
    typealias Endpoint = PJSIPInteropTests.Endpoint
    typealias Media = PJSIPInteropTests.Media

    @Test func registersWithDigestAndRefusesAWrongPassword() async throws {
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let siphon = try await Endpoint()
        let registrar = try SIPURI("sip:127.0.0.1:\(kamailio.port)")
        let aor = try SIPURI("sip:siphon@127.0.0.1")
        let peer = SIPPeer(host: "127.0.0.1", port: kamailio.port)
        let granted = try await siphon.ua.register(registrar: registrar, aor: aor, peer: peer,
                                                   credentials: DigestCredentials(username: "siphon", password: kamailio.password), expires: 600)
        #expect(granted > 0 && granted <= 600)
        // Refused by the registrar for the credentials — not a timeout or any other error.
        let refused = try #require(await #expect(throws: SIPMessageError.self) {
            try await siphon.ua.register(registrar: registrar, aor: aor, peer: peer,
                                         credentials: DigestCredentials(username: "siphon", password: "wrong"), expires: 600)
        })
        #expect([401, 403].contains(refused.status), "\(refused)")
        #expect(refused.reason.hasPrefix("REGISTER refused: \(refused.status)"), "\(refused)")
        // OPTIONS probe (what `siphon sip probe` does).
        let options = try await siphon.ua.options(target: registrar, peer: peer)
        #expect(options.status == 200)
    }

    /// `siphon sip probe` (what pre-flight runs): OPTIONS, then REGISTER with the trunk's credentials.
    @Test func probeReportsReachabilityAndCredentials() async throws {
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let base = ["sip", "probe", "--address", "127.0.0.1:\(kamailio.port)", "--register", "--username", "siphon",
                    "--password-env", "PROBE_PASSWORD", "--sip-host", "127.0.0.1", "--json", "--env-file", "/nonexistent"]
        let (good, out, err) = try SiphonProcess.run(base, redis: nil, environment: ["PROBE_PASSWORD": kamailio.password])
        #expect(good == 0, "\(out) \(err)")
        let report = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        #expect(report?["reachable"] as? Bool == true && report?["registered"] as? Bool == true, "\(out)")
        #expect(report?["options_status"] as? Int == 200, "\(out)")

        let (bad, badOut, badErr) = try SiphonProcess.run(base, redis: nil, environment: ["PROBE_PASSWORD": "wrong-password-42"])
        #expect(bad == 1, "\(badOut) \(badErr)")
        let badReport = try JSONSerialization.jsonObject(with: Data(badOut.utf8)) as? [String: Any]
        #expect(badReport?["registered"] as? Bool == false && badReport?["register_error"] != nil, "\(badOut)")
        #expect(!(badOut + badErr).contains("wrong-password-42"))

        // What a worker's SIP_REGISTER would register: its registrar and address-of-record.
        let registration = ["SIP_REGISTER": "true", "SIP_REGISTRAR": "127.0.0.1:\(kamailio.port)", "SIP_USERNAME": "siphon",
                            "SIP_PASSWORD": kamailio.password, "SIP_REGISTER_USER": "line-201"]
        let (reg, regOut, regErr) = try SiphonProcess.run(["sip", "probe", "--trunk", "registration", "--register", "--sip-host", "127.0.0.1",
                                                           "--json", "--env-file", "/nonexistent"], redis: nil, environment: registration)
        #expect(reg == 0, "\(regOut) \(regErr)")
        let regReport = try JSONSerialization.jsonObject(with: Data(regOut.utf8)) as? [String: Any]
        #expect(regReport?["registered"] as? Bool == true && regReport?["address"] as? String == "127.0.0.1:\(kamailio.port)", "\(regOut)")
        let (off, _, offErr) = try SiphonProcess.run(["sip", "probe", "--trunk", "registration", "--env-file", "/nonexistent"], redis: nil,
                                                     environment: ["SIP_REGISTER": "false"])
        #expect(off != 0 && offErr.contains("SIP_REGISTER is not on"), "\(offErr)")
    }

    @Test func callsThroughTheProxyAfterA407() async throws {
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let (probeURL, probe) = try PJSIPInteropTests.writeProbe()
        let pjsip = try PJSIPPeer(play: probeURL.path)
        try await pjsip.waitReady()
        let siphon = try await Endpoint()
        let media = try await Media()
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:peer@127.0.0.1:\(pjsip.port)"), from: NameAddress(uri: try SIPURI("sip:siphon@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: kamailio.port),
            credentials: DigestCredentials(username: "siphon", password: kamailio.password),
            offer: PJSIPInteropTests.offer(port: media.port)))
        let dialog = await call.snapshot()
        #expect(dialog.routeSet.count == 1 && dialog.routeSet[0].contains(String(kamailio.port)), "\(dialog.routeSet)")
        try media.start(try #require(await call.media))
        media.play(AudioCheck.resample(probe, from: 8000, to: 16000))
        try await Task.sleep(for: .seconds(3.5))
        await call.hangup()  // BYE follows the route set through Kamailio
        try await pjsip.waitExit()
        media.stop()
        #expect(pjsip.has("disconnected"))
        let heard = AudioCheck.resample(await media.samples, from: 16000, to: 8000)
        #expect(AudioCheck.correlation(probe, in: heard) > AudioCheck.whole)
    }

    @Test func receivesACallRoutedToItsRegistration() async throws {
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let siphon = try await Endpoint(trunks: [InboundTrunk(name: "kamailio", allowedAddresses: ["127.0.0.1"])])
        _ = try await siphon.ua.register(registrar: try SIPURI("sip:127.0.0.1:\(kamailio.port)"), aor: try SIPURI("sip:siphon@127.0.0.1"),
                                         peer: SIPPeer(host: "127.0.0.1", port: kamailio.port),
                                         credentials: DigestCredentials(username: "siphon", password: kamailio.password))
        let media = try await Media()
        let port = media.port
        let (answered, continuation) = AsyncStream<SIPCall>.makeStream()
        await siphon.ua.onIncomingCall { incoming in
            guard let offer = incoming.offer,
                  let (answer, negotiated) = try? SDPNegotiator.answer(offer, policy: MediaPolicy(), address: "127.0.0.1", port: port, sessionID: 9, version: 1),
                  let call = try? await incoming.answer(sdp: answer, media: negotiated, sessionID: 9) else { return }
            try? media.start(negotiated)
            continuation.yield(call)
        }
        let pjsip = try PJSIPPeer(play: nil, call: "sip:siphon@127.0.0.1:\(kamailio.port)", actions: "2.0:hangup",
                                  auth: ("caller", kamailio.password))
        var it = answered.makeAsyncIterator()
        let call = try #require(await it.next())
        var endedRemotely = false
        for await e in call.events { if case .ended(let remote, _) = e { endedRemotely = remote } }
        #expect(endedRemotely)
        try await pjsip.waitExit()
        media.stop()
    }

    /// A worker with `SIP_REGISTER` registers at Kamailio (digest) and takes the calls Kamailio
    /// routes to its registration — with no `SIP_INBOUND_ALLOW`: the registrar's address is let in
    /// while the binding stands — answering with its agent for the line's number (the INVITE names
    /// only the user). Shut down, it removes its binding first: Kamailio then has nowhere to send
    /// the next call (404). Over UDP, and over TCP (the binding's Contact says `transport=tcp`, and
    /// Kamailio brings the call over TCP).
    @Test(arguments: ["udp", "tcp"]) func aWorkerRegistersAndAnswersCallsThroughItsRegistration(over transport: String) async throws {
        let kamailio = try KamailioPeer()
        try await kamailio.waitReady()
        let h = try ClusterHarness()
        let worker = try h.sipWorker("w-reg", environment: [
            "SIP_REGISTER": "true", "SIP_TRUNK_ADDRESS": "127.0.0.1:\(kamailio.port)", "SIP_TRUNK_TRANSPORT": transport, "SIP_USERNAME": "siphon",
            "SIP_PASSWORD": kamailio.password, "SIP_REGISTER_NUMBER": "+15550100777", "SIP_REGISTER_EXPIRES": "120"])
        try await h.waitForWorkers(1)
        try await eventually(20, "the worker registered") { worker.output.contains(/sip\.registrar=\S+ registered/) }
        #expect(!worker.output.contains(kamailio.password), "the password never reaches the log")

        let caller = try await CallerScript.wav([(6.5, "I would like to book a cleaning")], total: 16)
        let pjsip = try PJSIPPeer(play: caller.path, call: "sip:siphon@127.0.0.1:\(kamailio.port)", actions: "14.0:hangup",
                                  timeout: 40, auth: ("caller", kamailio.password))
        let id = try await AgentCallTests.newestCall(h)
        try await h.waitAllTerminal([id], seconds: 40)
        try await pjsip.waitExit()
        let record = try #require(try await h.store.call(id))
        #expect(record.job.contains(#""direction":"inbound""#) && record.job.contains("+15550100777"), "\(record.job)")
        #expect(record.status == .ended, "\(record.reason ?? "")")
        let turns = try await h.store.turns(id)
        #expect(turns.first?.role == .agent && turns.first?.text.hasPrefix("Thank you for calling Bright Smile Dental") == true,
                "\(turns.map(\.text))")
        #expect(turns.contains { $0.role == .user && $0.text == "i would like to book a cleaning" }, "\(turns.map(\.text))")
        let dialog = try await h.store.fields(id, ["sip_dialog"])["sip_dialog"] ?? ""
        #expect(dialog.contains(#""transport":"\#(transport.uppercased())""#), "\(dialog)")

        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 30) == 0)
        #expect(worker.output.contains("registration removed"), "\(worker.output.suffix(2000))")
        let after = try PJSIPPeer(play: nil, record: false, call: "sip:siphon@127.0.0.1:\(kamailio.port)", timeout: 10,
                                  auth: ("caller", kamailio.password))
        try await after.waitExit(20)
        #expect(after.has("disconnected") { $0["code"] as? Int == 404 }, "\(after.output)")
    }
}
