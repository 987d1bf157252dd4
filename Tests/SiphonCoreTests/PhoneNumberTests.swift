import Testing
@testable import SiphonCore

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        ("+15550200", "+15550200"),
        ("+1 (555) 020-0123", "+15550200123"),
        ("  +44 20 7946 0958 ", "+442079460958"),
        ("+861012345678901", "+861012345678901"),
    ])
    func acceptsE164(_ input: String, _ expected: String) throws {
        #expect(try PhoneNumber(input).e164 == expected)
    }

    @Test(arguments: ["15550200", "+0123456789", "+1555", "+1234567890123456", "+1555abc0200", "", "+", "++15550200", "+1555\u{0}0200"])
    func rejectsNonE164(_ input: String) {
        #expect(throws: SiphonError.self) { try PhoneNumber(input) }
    }

    @Test func errorNamesTheProblem() {
        do {
            _ = try PhoneNumber("+1555")
            Issue.record("expected an error")
        } catch let e as SiphonError {
            #expect(e.code == .invalidInput)
            #expect(e.message.contains("4 digits"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
