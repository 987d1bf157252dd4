import Testing
@testable import SiphonCore

@Suite struct EnvironmentTests {
    @Test func parsesDotenv() throws {
        let values = try Environment.parseDotenv("""
            # comment
            export REDIS_URL=redis://127.0.0.1:6379/0
            SIP_PASSWORD="p@ss word#1"
            SINGLE='a b'
            TRAILING=value # a comment
            EMPTY=

            """)
        #expect(values["REDIS_URL"] == "redis://127.0.0.1:6379/0")
        #expect(values["SIP_PASSWORD"] == "p@ss word#1")
        #expect(values["SINGLE"] == "a b")
        #expect(values["TRAILING"] == "value")
        #expect(values["EMPTY"] == "")
        #expect(Environment(values)["EMPTY"] == nil)
    }

    @Test func errorsNameTheLineNotTheValue() {
        do {
            _ = try Environment.parseDotenv("OK=1\nSIP_PASSWORD=\"s3cret\n", source: "prod.env")
            Issue.record("accepted an unterminated quote")
        } catch let e as SiphonError {
            #expect(e.message.contains("prod.env:2"))
            #expect(!e.message.contains("s3cret"))
        } catch {
            Issue.record("\(error)")
        }
        #expect(throws: SiphonError.self) { try Environment.parseDotenv("1BAD=x") }
        #expect(throws: SiphonError.self) { try Environment.parseDotenv("no equals sign") }
    }
}

@Suite struct RedactionTests {
    @Test func removesSecretsFromJSONURLsAndHeaders() {
        let text = #"{"sip_password":"hunter2","api_key": "sk-abc","name":"ok"} redis://user:pw@host:6379 Authorization: Bearer abc.def"#
        let out = Redaction.redact(text)
        for secret in ["hunter2", "sk-abc", ":pw@", "abc.def"] { #expect(!out.contains(secret), "\(out)") }
        #expect(out.contains(#""name":"ok""#))
    }
}

@Suite struct BackoffTests {
    @Test func staysWithinTheExponentialCeiling() {
        var b = Backoff(baseMs: 10, capMs: 100)
        for attempt in 0..<12 {
            let d = b.next()
            #expect(d >= 0 && d <= min(100, 10 * Double(1 << attempt)))
        }
        b.reset()
        #expect(b.attempt == 0)
    }

    /// Full jitter that grows: delays spread over [0, ceiling] (a `next()` that always returned 0,
    /// or the ceiling, or ignored the attempt would fail here). 2,000 draws per attempt: the bounds
    /// below are ten standard deviations from what a uniform draw gives.
    @Test func delaysAreSpreadOverACeilingThatDoublesUpToTheCap() {
        func draws(atAttempt n: Int) -> [Double] {
            (0..<2000).map { _ in
                var b = Backoff(baseMs: 10, capMs: 1000)
                for _ in 0..<n { _ = b.next() }
                return b.next()
            }
        }
        for (attempt, ceiling) in [(0, 10.0), (3, 80.0), (6, 640.0), (12, 1000.0)] {
            let d = draws(atAttempt: attempt)
            let mean = d.reduce(0, +) / Double(d.count)
            #expect(d.allSatisfy { $0 >= 0 && $0 <= ceiling }, "attempt \(attempt)")
            #expect(abs(mean - ceiling / 2) < ceiling * 0.065, "attempt \(attempt): mean \(mean), ceiling \(ceiling)")
            #expect(d.max()! > ceiling * 0.9 && d.min()! < ceiling * 0.1, "attempt \(attempt): not spread")
            #expect(Set(d).count > 1900, "attempt \(attempt): repeats")
        }
    }
}
