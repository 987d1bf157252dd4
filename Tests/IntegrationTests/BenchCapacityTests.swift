import Foundation
import Testing

/// `siphon bench capacity` end to end on a tiny step: real SIP calls from the worker to the load
/// phones, the worker measured, the phones' timing of its packets reported, the chart drawn.
/// (Figures only: whether a step "held" depends on the machine, so it is not asserted.)
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BenchCapacityTests {
    @Test func aStepOfRealCallsIsMeasuredOnTheWireAndCharted() throws {
        let redis = try RedisServer()
        let dir = try Repository.temporaryDirectory("bench-capacity")
        let (status, out, err) = try SiphonProcess.run(["bench", "capacity", "--steps", "2", "--hold", "6", "--speak-at", "2", "--spacing-ms", "50",
                                                        "--out", dir.path, "--json"], redis: redis.urlString)
        #expect(status == 0, "\(out)\(err)")
        let json = try #require(out.split(separator: "\n").last { $0.hasPrefix("{") })
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let step = try #require((result["steps"] as? [[String: Any]])?.first, "\(result)")
        #expect(step["calls"] as? Int == 2 && step["completed"] as? Int == 2, "\(step)")
        // The phones timed the worker's packets and the worker's cost was read (values not judged).
        #expect((step["delta_p50_ms"] as? Double ?? 0) > 0 && (step["delta_max_ms"] as? Double ?? 0) >= (step["delta_p99_ms"] as? Double ?? 1), "\(step)")
        #expect((step["cpu_ms_per_call_second"] as? Double ?? 0) > 0 && step["frames_dropped"] as? Int != nil, "\(step)")
        let svg = try String(contentsOfFile: dir.appendingPathComponent("capacity.svg").path, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains("inter-packet delta"), "\(svg.prefix(200))")
        // Bad steps are refused with a reason.
        let (bad, _, badErr) = try SiphonProcess.run(["bench", "capacity", "--steps", "0,x"], redis: redis.urlString)
        #expect(bad != 0 && badErr.contains("--steps"), "\(badErr)")
    }
}
