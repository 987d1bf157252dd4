import Foundation
import Testing
import SiphonAudio
import SiphonSIP

/// baresip, a second independent SIP implementation (libre/librem), against Siphon, in each codec.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BaresipTests {
    /// Each codec Siphon offers, offered alone: μ-law, A-law and Opus (48 kHz on the wire, the
    /// pipeline's 16 kHz resampled both ways) carry the probe whole in both directions.
    @Test(arguments: ["PCMU", "PCMA", "opus"])
    func callToBaresipWhichHangsUp(codec: String) async throws {
        let (probeURL, probe) = try PJSIPInteropTests.writeProbe(fileRate: codec == "opus" ? 48000 : 8000, channels: codec == "opus" ? 2 : 1)
        let baresip = try BaresipPeer(play: probeURL.path, quitAfter: 7)
        try await baresip.waitReady()
        let siphon = try await PJSIPInteropTests.Endpoint()
        let media = try await PJSIPInteropTests.Media()
        let policy = MediaPolicy(codecs: [MediaPolicy().codecs.first { $0.name == codec }!])
        let offer = SDPNegotiator.offer(policy: policy, address: "127.0.0.1", port: media.port, sessionID: 1, version: 1)
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:peer@127.0.0.1:\(baresip.port)"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: baresip.port), offer: offer))
        let negotiated = try #require(await call.media)
        #expect(negotiated.codec.name == codec)
        try media.start(negotiated)
        media.play(AudioCheck.resample(probe, from: 8000, to: 16000))
        var endedRemotely = false
        for await e in call.events { if case .ended(let remote, _) = e { endedRemotely = remote } }
        #expect(endedRemotely, "baresip's BYE ends the call")
        try await baresip.waitExit()
        media.stop()
        let heard = AudioCheck.resample(await media.samples, from: 16000, to: 8000)
        let received = AudioCheck.correlation(probe, in: heard)
        #expect(received > AudioCheck.whole, "\(codec): baresip → Siphon")
        let dump = try #require(baresip.heard)
        let recorded = try WAVFile.read(dump.path)
        let sent = AudioCheck.correlation(probe, in: AudioCheck.resample(recorded.samples, from: recorded.sampleRate, to: 8000))
        #expect(sent > AudioCheck.whole, "\(codec): Siphon → baresip")
        print(String(format: "baresip %@: probe correlation %.3f Siphon → baresip, %.3f baresip → Siphon", codec, sent, received))
    }
}
