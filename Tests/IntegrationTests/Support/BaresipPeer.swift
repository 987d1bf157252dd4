import Foundation
import SiphonCore

/// baresip 1.0 as a second, independent user agent: auto-answers with G.711 or Opus (libopus, its
/// own RTP payloading), plays a WAV (aufile), and dumps what it hears with the sndfile module. Quits (hanging up) after `quitAfter` seconds.
final class BaresipPeer: @unchecked Sendable {
    let port: Int
    let dir: URL
    private let process: ChildProcess

    init(play: String, quitAfter: Int) throws {
        port = LoopbackPort.free(udp: true)
        dir = try Repository.temporaryDirectory("baresip")
        let rtp = Int.random(in: 30000...39000) & ~1
        let config = """
            sip_listen\t\t127.0.0.1:\(port)
            rtp_ports\t\t\(rtp)-\(rtp + 40)
            module_path\t\t/usr/lib/baresip/modules
            module\t\t\tg711.so
            module\t\t\topus.so
            module\t\t\taufile.so
            module\t\t\taubridge.so
            module\t\t\tsndfile.so
            module\t\t\taccount.so
            audio_source\t\taufile,\(play)
            audio_player\t\taubridge,nil
            audio_alert\t\taubridge,nil
            snd_path\t\t\(dir.path)

            """
        try config.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try "<sip:peer@127.0.0.1:\(port)>;regint=0;answermode=auto\n".write(to: dir.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        process = try ChildProcess("/usr/bin/baresip", ["-f", dir.path, "-t", String(quitAfter)],
                                   environment: ProcessInfo.processInfo.environment, output: dir.appendingPathComponent("baresip.log").path)
    }

    var output: String { (try? String(contentsOf: dir.appendingPathComponent("baresip.log"), encoding: .utf8)) ?? "" }

    func waitReady() async throws { try await eventually(15, "baresip ready") { self.output.contains("baresip is ready") } }

    func waitExit(_ seconds: Double = 20) async throws { try await eventually(seconds, "baresip exit") { !self.process.isRunning } }

    /// The sndfile dump of the audio baresip decoded from us.
    var heard: URL? {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.first { $0.hasSuffix("-dec.wav") }.map { dir.appendingPathComponent($0) }
    }

    deinit { process.signal(SIGTERM); process.wait(seconds: 5) }
}
