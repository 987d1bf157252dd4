import Foundation
import SiphonCore
import Yams

/// A YAML value with the path it came from, for error messages that name the key
/// (`agents[1].llm.temperature: expected a number`).
public struct ConfigValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case list([ConfigValue])
        case map([(String, ConfigValue)])
        case null

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case (.string(let x), .string(let y)): x == y
            case (.number(let x), .number(let y)): x == y
            case (.bool(let x), .bool(let y)): x == y
            case (.list(let x), .list(let y)): x == y
            case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            case (.null, .null): true
            default: false
            }
        }
    }

    public var kind: Kind
    public var path: String
    /// A scalar's text as written (a number or boolean asked for as text keeps its spelling:
    /// `from: 0015550200123` stays that, not `15550200123`).
    public var text: String?

    public init(kind: Kind, path: String, text: String? = nil) {
        self.kind = kind
        self.path = path
        self.text = text
    }

    public static func parse(yaml: String, source: String) throws -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml, Self.coreSchema)
        } catch {
            throw SiphonError(.configuration, "\(source): not valid YAML (\(String(describing: error).prefix(200)))")
        }
        guard let node else { throw SiphonError(.configuration, "\(source) is empty") }
        return try from(node, path: "")
    }

    /// The YAML 1.2 core schema's tag resolution. Yams' default resolver is YAML 1.1's, whose
    /// base-60 integers turn an unquoted `http://localhost:11434/v1` or `10:30` into a number and
    /// whose `yes`/`no`/`on`/`off` are booleans (so a voice called `no` was `false`).
    /// Immutable after creation (rules are compiled once; matching is thread-safe).
    nonisolated(unsafe) static let coreSchema: Resolver = {
        var r = Resolver.basic
        // The patterns are constants: a failure here is a typo caught by the first test run.
        r = try! r.appending(.null, "^(?:~|null|Null|NULL|)$")
        r = try! r.appending(.bool, "^(?:true|True|TRUE|false|False|FALSE)$")
        r = try! r.appending(.int, "^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
        r = try! r.appending(.float, "^(?:[-+]?(?:\\.[0-9]+|[0-9]+(?:\\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$")
        return r
    }()

    static func from(_ node: Node, path: String) throws -> ConfigValue {
        switch node {
        case .scalar(let s):
            let text = s.string
            // Quoted scalars are tagged `str`; plain ones get what the core schema resolves (or
            // an explicit `!!str`/`!!int` tag).
            switch Tag.Name(rawValue: node.tag.description) {  // Node.tag resolves; Scalar.tag does not
            case .null:
                return ConfigValue(kind: .null, path: path)
            case .bool:
                return ConfigValue(kind: .bool(text.lowercased() == "true"), path: path, text: text)
            case .int:
                guard let n = Self.integer(text) else { throw SiphonError(.configuration, "\(path): '\(text.prefix(40))' is not an integer") }
                return ConfigValue(kind: .number(n), path: path, text: text)
            case .float:
                guard let d = Self.float(text) else { throw SiphonError(.configuration, "\(path): '\(text.prefix(40))' is not a number") }
                return ConfigValue(kind: .number(d), path: path, text: text)
            default:
                return ConfigValue(kind: .string(text), path: path, text: text)
            }
        case .sequence(let seq):
            return ConfigValue(kind: .list(try seq.enumerated().map { try from($0.element, path: "\(path)[\($0.offset)]") }), path: path)
        case .mapping(let map):
            var items: [(String, ConfigValue)] = []
            var seen = Set<String>()
            for (k, v) in map {
                guard let key = k.string else { throw SiphonError(.configuration, "\(path.isEmpty ? "top level" : path): keys must be strings") }
                guard seen.insert(key).inserted else { throw SiphonError(.configuration, "\(join(path, key)): appears twice") }
                items.append((key, try from(v, path: join(path, key))))
            }
            return ConfigValue(kind: .map(items), path: path)
        @unknown default:
            throw SiphonError(.configuration, "\(path): unsupported YAML construct")
        }
    }

    /// A core-schema integer (`12`, `-3`, `0o17`, `0x1F`) as a Double (the type numbers have here).
    static func integer(_ text: String) -> Double? {
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16).map { Double($0) } }
        if text.hasPrefix("0o") { return UInt64(text.dropFirst(2), radix: 8).map { Double($0) } }
        return Int64(text).map { Double($0) } ?? Double(text)
    }

    /// A core-schema float; `.nan` is refused (no setting means "not a number").
    static func float(_ text: String) -> Double? {
        let t = text.lowercased()
        if t.hasSuffix(".inf") { return t.hasPrefix("-") ? -.infinity : .infinity }
        if t.hasSuffix(".nan") { return nil }
        var digits = text
        if digits.hasPrefix("+") { digits.removeFirst() }
        if digits.hasPrefix(".") { digits = "0" + digits } else if digits.hasPrefix("-.") { digits = "-0" + digits.dropFirst() }
        return Double(digits).flatMap { $0.isFinite ? $0 : nil }
    }

    public static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: typed access

    func fail(_ expectation: String) -> SiphonError { SiphonError(.configuration, "\(path.isEmpty ? "top level" : path): \(expectation)") }

    public func string() throws -> String {
        switch kind {
        case .string(let s): return s
        case .number, .bool: if let text { return text }
        default: break
        }
        if case .number(let d) = kind { return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }
        throw fail("expected text")
    }

    public func number() throws -> Double {
        if case .number(let d) = kind { return d }
        throw fail("expected a number")
    }

    public func int() throws -> Int {
        let d = try number()
        guard d == d.rounded() else { throw fail("expected a whole number") }
        return Int(d)
    }

    /// `true`/`false`; for a key that can only be a boolean, YAML 1.1's `yes`/`no`/`on`/`off`
    /// are understood too (they stay text everywhere else).
    public func bool() throws -> Bool {
        if case .bool(let b) = kind { return b }
        if case .string(let s) = kind {
            switch s.lowercased() {
            case "yes", "on": return true
            case "no", "off": return false
            default: break
            }
        }
        throw fail("expected true or false")
    }

    public func list() throws -> [ConfigValue] {
        if case .list(let l) = kind { return l }
        throw fail("expected a list")
    }

    public func strings() throws -> [String] { try list().map { try $0.string() } }

    /// A map whose keys must all be in `allowed`: an unknown key is an error, not silently ignored.
    public func map(allowed: Set<String>) throws -> ConfigMap {
        guard case .map(let items) = kind else { throw fail("expected a mapping") }
        for (k, _) in items where !allowed.contains(k) {
            throw SiphonError(.configuration, "\(Self.join(path, k)): unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        return ConfigMap(path: path, items: items)
    }

    /// JSON text for this value (tool parameter schemas).
    public func json() -> String {
        func any(_ v: ConfigValue) -> Any {
            switch v.kind {
            case .string(let s): return s
            case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? Int(d) as Any : d as Any
            case .bool(let b): return b
            case .list(let l): return l.map(any)
            case .map(let m): return Dictionary(m.map { ($0.0, any($0.1)) }, uniquingKeysWith: { a, _ in a })
            case .null: return NSNull()
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: any(self), options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A checked mapping: typed getters that name the key on error.
public struct ConfigMap: Sendable {
    public let path: String
    let items: [(String, ConfigValue)]

    public subscript(key: String) -> ConfigValue? { items.first { $0.0 == key }?.1 }

    public func require(_ key: String) throws -> ConfigValue {
        guard let v = self[key], v.kind != .null else { throw SiphonError(.configuration, "\(ConfigValue.join(path, key)): required") }
        return v
    }

    public func string(_ key: String) throws -> String? { try self[key].flatMap { $0.kind == .null ? nil : try $0.string() } }
    public func number(_ key: String) throws -> Double? { try self[key].flatMap { $0.kind == .null ? nil : try $0.number() } }
    public func int(_ key: String) throws -> Int? { try self[key].flatMap { $0.kind == .null ? nil : try $0.int() } }
    public func bool(_ key: String) throws -> Bool? { try self[key].flatMap { $0.kind == .null ? nil : try $0.bool() } }
    public func strings(_ key: String) throws -> [String]? { try self[key].flatMap { $0.kind == .null ? nil : try $0.strings() } }
    public var keys: [String] { items.map(\.0) }
}
