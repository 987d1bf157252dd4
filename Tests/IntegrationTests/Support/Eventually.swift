import Foundation
import SiphonCore

/// Polls `condition` every 20 ms until it holds or `seconds` pass. Tests wait for states, never sleep for them.
/// Errors while polling (Redis restarting under the test) count as "not yet"; the last one is reported.
func eventually(_ seconds: Double = 20, _ what: String = "condition", _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    var lastError: (any Error)?
    while Date() < deadline {
        do {
            if try await condition() { return }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw HarnessError("timed out after \(seconds) s waiting for \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
