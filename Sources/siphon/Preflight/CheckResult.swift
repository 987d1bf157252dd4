/// One line of `siphon config check` or `siphon preflight`: what was checked, how it went, and
/// for a warning or failure, what to do about it.
struct CheckResult: Encodable, Sendable {
    enum Status: String, Encodable, Sendable {
        case pass, warn, fail, skip
    }

    var check: String
    var status: Status
    var detail: String
    var fix: String?

    static func pass(_ check: String, _ detail: String) -> CheckResult { .init(check: check, status: .pass, detail: detail) }
    static func warn(_ check: String, _ detail: String, fix: String) -> CheckResult { .init(check: check, status: .warn, detail: detail, fix: fix) }
    static func fail(_ check: String, _ detail: String, fix: String) -> CheckResult { .init(check: check, status: .fail, detail: detail, fix: fix) }
    static func skip(_ check: String, _ detail: String) -> CheckResult { .init(check: check, status: .skip, detail: detail) }

    var line: String {
        let tag = status.rawValue.uppercased().padding(toLength: 4, withPad: " ", startingAt: 0)
        return "\(tag)  \(check): \(detail)" + (fix.map { "\n        fix: \($0)" } ?? "")
    }
}

extension Array where Element == CheckResult {
    var failed: Bool { contains { $0.status == .fail } }

    func report(json: Bool) {
        if json { printJSON(["checks": self]); return }
        for r in self { print(r.line) }
        let count = { (s: CheckResult.Status) in self.filter { $0.status == s }.count }
        print("\(count(.pass)) passed, \(count(.warn)) warnings, \(count(.fail)) failed, \(count(.skip)) skipped")
    }
}
