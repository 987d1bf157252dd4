import Foundation
import Testing
@testable import SiphonSIP

/// RFC 4475 torture messages through the parser and validator: valid ones parse, invalid ones are
/// refused with the status the RFC expects (or, for responses, refused so they are dropped).
@Suite struct TortureParseTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/sip-torture")

    static func load(_ kind: String) -> [(String, [UInt8])] {
        let folder = dir.appendingPathComponent(kind)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.filter { $0.hasSuffix(".sip") }.sorted() ?? []
        return names.map { ($0.replacingOccurrences(of: ".sip", with: ""), [UInt8](FileManager.default.contents(atPath: folder.appendingPathComponent($0).path)!)) }
    }

    /// Outcome for one datagram: nil = processable, else the error status.
    static func outcome(_ bytes: [UInt8]) -> Int? { error(bytes)?.status }

    static func error(_ bytes: [UInt8]) -> SIPMessageError? {
        do {
            let m = try SIPParser.parse(datagram: bytes)
            if m.isRequest { try SIPValidation.validate(request: m) } else { try SIPValidation.validate(response: m) }
            return nil
        } catch let e as SIPMessageError {
            return e
        } catch {
            return SIPMessageError(-1, "\(error)")
        }
    }

    @Test func corpusIsPresent() {
        #expect(Self.load("valid").count == 26)
        #expect(Self.load("invalid").count == 23)
    }

    @Test func validMessagesParse() {
        // Unknown methods get 501 from validation only when the CSeq mismatches; all valid ones pass.
        for (name, bytes) in Self.load("valid") {
            #expect(Self.error(bytes) == nil, "\(name) was refused: \(Self.error(bytes).map(String.init(describing:)) ?? "")")
        }
    }

    @Test func invalidMessagesAreRefusedWithTheExpectedStatus() {
        let expected: [String: Int] = [
            "badvers": 505, "mismatch02": 501,
            // baddate and badbranch: the RFC allows processing; badbranch we reject (400).
        ]
        for (name, bytes) in Self.load("invalid") where name != "baddate" {
            let status = Self.outcome(bytes)
            #expect(status != nil, "\(name) was accepted")
            #expect(status == (expected[name] ?? 400), "\(name): \(Self.error(bytes).map(String.init(describing:)) ?? "accepted")")
        }
    }
}
