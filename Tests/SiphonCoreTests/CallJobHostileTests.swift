import Foundation
import Testing
@testable import SiphonCore

/// Jobs arrive from the API and from anyone who can XADD to the stream. Seeded structural
/// mutations of a complete job — values swapped for hostile ones, keys dropped or invented — must
/// each be refused with a `SiphonError` (the worker dead-letters it and goes on) or accepted as a
/// job that survives its own canonical JSON; nothing may trap.
@Suite struct CallJobHostileTests {
    nonisolated(unsafe) static let valid: [String: Any] = [
        "id": "call-1", "agent": "Front Desk", "to": "+15550200123", "from": "+15550100000", "transport": "sip",
        "idempotency_key": "k-1", "max_attempts": 3, "metadata": ["campaign": "spring"],
        "trunk": ["name": "t", "address": "sip.example.com", "transport": "udp", "number": "+15550100000", "username": "u",
                  "password_sealed": "v1.abc"],
        "ring_timeout": 30, "max_duration": 600, "retry_dial": false, "direction": "outbound",
    ]

    /// Values that have broken parsers before: huge and negative numbers, wrong types, empty and
    /// enormous strings, control characters, nesting.
    nonisolated(unsafe) static let hostile: [Any] = [
        1e300, -1, 0, Int.max, Int.min, 3.5, "", String(repeating: "9", count: 5000), "+", "+1", "+999999999999999999",
        "\u{0}", "../../etc", "sip:x@y;lr", ["nested": ["deeper": [1, 2]]], [1, "two", NSNull()], NSNull(), true, "inf", "NaN",
        "\u{202E}evil", "udp\r\nVia: x",
    ]

    @Test func mutatedJobsAreRefusedCleanlyOrRoundTrip() throws {
        _ = try CallJob.parse(try JSONSerialization.data(withJSONObject: Self.valid))  // the seed itself is a valid job
        var rng = SeededRandom(seed: 2)
        var accepted = 0, refused = 0
        for _ in 0..<4000 {
            var job = Self.valid
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let key = Self.valid.keys.sorted().randomElement(using: &rng)!
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: job[key] = nil
                case 1: job["extra_\(key)"] = 1
                case 2 where job[key] is [String: Any]:
                    var inner = job[key] as! [String: Any]
                    if let innerKey = inner.keys.sorted().randomElement(using: &rng) { inner[innerKey] = Self.hostile.randomElement(using: &rng)! }
                    job[key] = inner
                default: job[key] = Self.hostile.randomElement(using: &rng)!
                }
            }
            let data = try JSONSerialization.data(withJSONObject: job)
            do {
                let parsed = try CallJob.parse(data)
                #expect(try CallJob.parse(parsed.json()) == parsed)
                accepted += 1
            } catch is SiphonError {
                refused += 1
            }
        }
        #expect(accepted > 100 && refused > 1000, "accepted \(accepted), refused \(refused)")
    }
}
