import Foundation

/// The far end of a WebRTC call, spoken to in JSON lines: aiortc (Tests/Peers/webrtc_peer.py) or
/// headless Chromium (Tests/Peers/browser_peer.py), which speak the same protocol.
final class WebRTCTestPeer: @unchecked Sendable {
    enum Implementation: String, Sendable { case aiortc, chromium }
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines = LineBuffer()
    let recording: URL

    /// `namespace`: run inside it (its interfaces, not loopback, are gathered).
    init(_ implementation: Implementation = .aiortc, mode: String, play: URL, loopback: Bool = true, extra: [String] = [],
         namespace: NetworkNamespace? = nil) throws {
        recording = FileManager.default.temporaryDirectory.appendingPathComponent("\(implementation)-heard-\(UUID().uuidString.prefix(8)).wav")
        let script = implementation == .aiortc ? "webrtc_peer.py" : "browser_peer.py"
        let command = [Repository.python, Repository.root.appendingPathComponent("Tests/Peers/\(script)").path, "--mode", mode,
                       "--play", play.path, "--record", recording.path]
            + (implementation == .aiortc && loopback && namespace == nil ? ["--loopback"] : []) + extra
        process.executableURL = URL(fileURLWithPath: namespace == nil ? command[0] : "/usr/sbin/ip")
        process.arguments = namespace.map { $0.prefix(command) } ?? Array(command.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        lines.read(output)
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: recording)
    }

    func send(_ object: [String: String]) throws {
        let data = try JSONSerialization.data(withJSONObject: object) + Data("\n".utf8)
        try input.fileHandleForWriting.write(contentsOf: data)
    }

    func stop() throws { try input.fileHandleForWriting.write(contentsOf: Data("stop\n".utf8)) }

    /// aiortc started with `--cue`: its WAV plays from now.
    func play() throws { try input.fileHandleForWriting.write(contentsOf: Data("play\n".utf8)) }

    /// The next JSON line that has `key`, waiting up to `seconds`.
    func next(_ key: String, seconds: Double = 20) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let found = lines.take(where: { $0[key] != nil }) { return found }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("the peer sent no '\(key)' within \(seconds) s (got: \(lines.all))")
    }

    final class LineBuffer: @unchecked Sendable {
        private let lock = NSLock()
        private var pending = Data()
        private var objects: [[String: Any]] = []
        private(set) var all: [String] = []

        /// Collects what `pipe` delivers, line by line, until it closes.
        func read(_ pipe: Pipe) {
            pipe.fileHandleForReading.readabilityHandler = { [self] h in
                let d = h.availableData
                if d.isEmpty { h.readabilityHandler = nil } else { append(d) }
            }
        }

        func append(_ d: Data) {
            lock.lock(); defer { lock.unlock() }
            pending += d
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = pending[pending.startIndex..<nl]
                pending = Data(pending[(nl + 1)...])
                all.append(String(decoding: line, as: UTF8.self))
                if let o = try? JSONSerialization.jsonObject(with: line) as? [String: Any] { objects.append(o) }
            }
        }

        func take(where match: ([String: Any]) -> Bool) -> [String: Any]? {
            lock.lock(); defer { lock.unlock() }
            guard let i = objects.firstIndex(where: match) else { return nil }
            return objects.remove(at: i)
        }
    }
}
