import Foundation
import Testing

/// The README's command list is checked against the CLI's own description of itself
/// (`siphon --experimental-dump-help`), so the two cannot drift apart again: every command is
/// listed, every option of it is shown and none that does not exist, required options are not
/// shown as optional nor defaulted ones as required, a default the README shows is the real one,
/// and the sentence about the common options is true.
@Suite struct ReadmeCommandsTests {
    static let common: Set<String> = ["redis", "prefix", "log-level", "log-format", "env-file"]

    /// README command lines (continuations joined), comments stripped.
    static func readmeCommands() throws -> [String] {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = text.components(separatedBy: "## Command line").dropFirst().first,
              let block = section.components(separatedBy: "```").dropFirst().first else { throw HarnessError("no command block in README.md") }
        var lines: [String] = []
        for raw in block.split(separator: "\n") {
            let line = String(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if line.hasPrefix("siphon ") { lines.append(line) } else if !lines.isEmpty, line.hasPrefix(" ") { lines[lines.count - 1] += " " + line }
        }
        return lines
    }

    struct Mention {
        var flag: String
        var value: String?
        var bracketed: Bool
    }

    /// The `--flags` of a line, with the value shown after each and whether it sits inside [ ] or ( ).
    static func mentions(_ line: String) -> [Mention] {
        var out: [Mention] = []
        var depth = 0
        var token = ""
        var tokens: [(String, Bool)] = []
        for ch in line + " " {
            switch ch {
            case "[", "(":
                if !token.isEmpty { tokens.append((token, depth > 0)); token = "" }
                depth += 1
            case "]", ")":
                if !token.isEmpty { tokens.append((token, depth > 0)); token = "" }
                depth -= 1
            case " ":
                if !token.isEmpty { tokens.append((token, depth > 0)); token = "" }
            default:
                token.append(ch)
            }
        }
        for (i, (t, bracketed)) in tokens.enumerated() where t.hasPrefix("--") {
            let next = i + 1 < tokens.count ? tokens[i + 1].0 : nil
            let value = next.flatMap { $0.hasPrefix("--") || $0 == "|" ? nil : $0 }
            out.append(Mention(flag: String(t.dropFirst(2).prefix { $0 != "=" && $0 != "…" }), value: value, bracketed: bracketed))
        }
        return out
    }

    @Test func theCommandListMatchesTheCLI() throws {
        let cli = try CLIHelp.load()
        let lines = try Self.readmeCommands()
        var listed: Set<String> = []
        for line in lines {
            let words = line.split(separator: " ").map(String.init)
            // The longest run of words after `siphon` that names a command.
            let command = (1..<words.count).reversed().map { words[1...$0].joined(separator: " ") }.first { cli.commands[$0] != nil }
            let name = try #require(command, "README names no command: \(line)")
            listed.insert(name)
            let options = cli.commands[name]!.filter { !Self.common.contains($0.key) && !["help", "version"].contains($0.key) }
            let shown = Self.mentions(line)
            for m in shown {
                let option = options[m.flag]
                #expect(option != nil, "README shows --\(m.flag) for `siphon \(name)`, which has no such option")
                guard let option else { continue }
                #expect(!option.isRequired || !m.bracketed, "`siphon \(name) --\(m.flag)` is required but the README shows it optional")
                #expect(option.isRequired || m.bracketed, "`siphon \(name) --\(m.flag)` is optional but the README shows it required")
                if let shownValue = m.value, let real = option.defaultValue, Self.isLiteral(shownValue) {
                    #expect(Self.same(shownValue, real), "`siphon \(name) --\(m.flag)`: README shows \(shownValue), the default is \(real)")
                }
            }
            let missing = Set(options.keys).subtracting(shown.map(\.flag))
            #expect(missing.isEmpty, "README omits \(missing.sorted().map { "--" + $0 }) of `siphon \(name)`")
        }
        let leaves = Set(cli.commands.keys.filter { key in key != "help" && !cli.commands.keys.contains { $0.hasPrefix(key + " ") } })
        #expect(leaves.subtracting(listed).isEmpty, "commands missing from the README: \(leaves.subtracting(listed).sorted())")
    }

    /// "every command takes --redis … except these, which talk to no Redis: `a`, `b` …": true of the CLI.
    @Test func theCommonOptionsSentenceIsTrue() throws {
        let cli = try CLIHelp.load()
        let text = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        let sentence = try #require(text.components(separatedBy: "Common options:").dropFirst().first?.components(separatedBy: "\n\n").first)
        let list = sentence.components(separatedBy: "which talk to no Redis:").last!.components(separatedBy: ". ").first!
        let exceptions = Set(list.components(separatedBy: "`").enumerated()
            .filter { $0.offset % 2 == 1 }.map(\.element))
        #expect(exceptions.contains("vad run") && exceptions.contains("config check"), "\(exceptions)")
        for (name, options) in cli.commands where name != "help" && !cli.commands.keys.contains(where: { $0.hasPrefix(name + " ") }) {
            if exceptions.contains(name) {
                #expect(options["redis"] == nil, "`siphon \(name)` takes --redis but the README says it talks to no Redis")
            } else {
                let lacking = Self.common.subtracting(options.keys)
                #expect(lacking.isEmpty, "`siphon \(name)` lacks \(lacking.sorted()) though the README says every command takes them")
            }
        }
    }

    /// A shown value that is a real default (not a placeholder like N, or a|b choices).
    static func isLiteral(_ value: String) -> Bool {
        let placeholder = value.contains(where: \.isLetter) && value == value.uppercased()  // N, E164, PUBLIC_IP, F.WAV
        return !placeholder && !value.contains("|") && !value.contains("…")
    }

    static func same(_ a: String, _ b: String) -> Bool {
        if let x = Double(a), let y = Double(b) { return x == y }
        return a == b
    }
}
