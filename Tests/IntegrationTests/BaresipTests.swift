import Foundation
import Testing
import SiphonAudio
import SiphonSIP

/// baresip, a second independent SIP implementation (libre/librem), against Siphon.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BaresipTests {
    @Test func callToBaresipWhichHangsUp() async throws {
        let (probeURL, probe) = try PJSIPInteropTests.writeProbe()
        let baresip = try BaresipPeer(play: probeURL.path, quitAfter: 7)
        try await baresip.waitReady()
        let siphon = try await PJSIPInteropTests.Endpoint()
        let media = try await PJSIPInteropTests.Media()
        let call = try await siphon.ua.invite(OutboundCall(
            target: try SIPURI("sip:peer@127.0.0.1:\(baresip.port)"), from: NameAddress(uri: try SIPURI("sip:+15550100000@127.0.0.1")),
            peer: SIPPeer(host: "127.0.0.1", port: baresip.port), offer: PJSIPInteropTests.offer(port: media.port)))
        try media.start(try #require(await call.media))
        media.play(AudioCheck.resample(probe, from: 8000, to: 16000))
        var endedRemotely = false
        for await e in call.events { if case .ended(let remote, _) = e { endedRemotely = remote } }
        #expect(endedRemotely, "baresip's BYE ends the call")
        try await baresip.waitExit()
        media.stop()
        let heard = AudioCheck.resample(await media.samples, from: 16000, to: 8000)
        #expect(AudioCheck.correlation(probe, in: heard) > AudioCheck.whole)
        let dump = try #require(baresip.heard)
        let recorded = try WAVFile.read(dump.path)
        #expect(AudioCheck.correlation(probe, in: AudioCheck.resample(recorded.samples, from: recorded.sampleRate, to: 8000)) > AudioCheck.whole)
    }
}
