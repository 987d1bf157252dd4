import Foundation

/// Headless Chromium over the DevTools protocol (Tests/Peers/console_browser.py): one command, one
/// reply. Console errors, uncaught exceptions, CSP violations and dialogs are collected by the page.
final class ConsoleBrowser: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines = WebRTCTestPeer.LineBuffer()

    /// `microphone`: what Chromium's fake capture device plays, once, after `delay` seconds of silence.
    init(microphone: URL? = nil, delay: Double = 1) throws {
        process.executableURL = URL(fileURLWithPath: Repository.python)
        process.arguments = [Repository.root.appendingPathComponent("Tests/Peers/console_browser.py").path]
            + (microphone.map { ["--microphone", $0.path, "--microphone-delay", String(delay)] } ?? [])
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        lines.read(output)
        try process.run()
    }

    deinit { close() }

    func close() {
        guard process.isRunning else { return }  // writing to its closed stdin would raise SIGPIPE
        try? input.fileHandleForWriting.write(contentsOf: Data("stop\n".utf8))
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { process.terminate() }
    }

    @discardableResult
    func send(_ command: [String: Any], seconds: Double = 60) async throws -> [String: Any] {
        guard process.isRunning else { throw HarnessError("the browser driver has exited") }
        try input.fileHandleForWriting.write(contentsOf: try JSONSerialization.data(withJSONObject: command) + Data("\n".utf8))
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let reply = lines.take(where: { _ in true }) {
                if let error = reply["error"] as? String { throw HarnessError("browser: \(command.keys.sorted()) failed: \(error)") }
                return reply
            }
            guard process.isRunning else { throw HarnessError("the browser driver exited") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("the browser did not answer \(command.keys.sorted()) within \(seconds) s")
    }

    func goto(_ url: String) async throws { try await send(["goto": url]) }

    /// The value of a JavaScript expression (promises awaited).
    func eval(_ js: String) async throws -> Any? { try await send(["eval": js])["value"] }

    /// Waits until `js` is truthy; its value.
    @discardableResult
    func wait(_ js: String, _ what: String, seconds: Double = 10) async throws -> Any? {
        let reply = try await send(["wait": js, "timeout": seconds], seconds: seconds + 30)
        guard reply["ok"] as? Bool == true else { throw HarnessError("timed out after \(seconds) s waiting for \(what)") }
        return reply["value"]
    }

    func screenshot(_ path: URL) async throws { try await send(["screenshot": path.path]) }

    /// What went wrong on the page so far (and forget it, with `clear`).
    func errors(clear: Bool = false) async throws -> [String] {
        try await send(["errors": true, "clear": clear])["errors"] as? [String] ?? ["unreadable"]
    }

    /// Signs in on the console's form with `token`.
    func signIn(_ token: String) async throws {
        _ = try await eval("document.getElementById('token').value = \(Self.quoted(token)); document.getElementById('signin').requestSubmit(); 1")
    }

    static func quoted(_ s: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [s]), as: UTF8.self).dropFirst().dropLast().description
    }
}
