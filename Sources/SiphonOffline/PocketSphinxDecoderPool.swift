import CPocketSphinx
import Foundation
import SiphonCore
import Synchronization

/// PocketSphinx decoders for one recogniser configuration (acoustic model, dictionary, grammars),
/// shared by all of a worker's calls of that agent. A call holds a decoder only while its caller
/// speaks (one utterance), so a worker needs about as many decoders as callers speaking at once,
/// not one per call; idle ones are kept (up to `maxIdle`) for the next utterance. Created, used
/// and freed on engine lanes only (never on Swift's cooperative pool).
final class PocketSphinxDecoderPool: Sendable {
    struct Files: Sendable {
        var model: String
        var dictionary: String
        var languageModel: String
        var grammar: String?
        var looseGrammar: String?
        /// A grammar and a trimmed dictionary of this pool's own (a phrase list's), instead of
        /// `grammar` and `dictionary`: PocketSphinx reads both from files, so each decoder's are
        /// written just before it is made and removed just after — none is left behind by a
        /// worker that is killed.
        var written: (grammar: String, dictionary: String)?
    }

    let files: Files
    let maxIdle: Int
    private let state = Mutex(State())

    struct State {
        var idle: [Decoder] = []
        var created = 0
        var live = 0
        var freed = 0
    }

    /// A decoder handle (the C pointer), owned by whoever took it from the pool.
    struct Decoder: @unchecked Sendable { let pointer: OpaquePointer }

    init(files: Files, maxIdle: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) {
        (self.files, self.maxIdle) = (files, maxIdle)
    }

    deinit { drain() }

    /// An idle decoder, or a new one (~10 ms with a trimmed dictionary). Call on an engine lane.
    func take() throws -> Decoder {
        if let d = state.withLock({ s -> Decoder? in
            guard let d = s.idle.popLast() else { return nil }
            return d
        }) { return d }
        var (dictionary, grammar) = (files.dictionary, files.grammar)
        if let written = files.written {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("siphon-ps-\(UUID().uuidString)").path
            (grammar, dictionary) = (base + ".gram", base + ".dict")
            do {
                try written.grammar.write(toFile: base + ".gram", atomically: false, encoding: .utf8)
                try written.dictionary.write(toFile: base + ".dict", atomically: false, encoding: .utf8)
            } catch {
                throw SiphonError(.unavailable, "PocketSphinx: cannot write its grammar to \(FileManager.default.temporaryDirectory.path): \(error.localizedDescription)")
            }
        }
        defer {
            if files.written != nil, let grammar { for path in [grammar, dictionary] { try? FileManager.default.removeItem(atPath: path) } }
        }
        guard let pointer = siphon_ps_create(files.model, dictionary, files.languageModel, grammar, "batch") else {
            throw SiphonError(.unavailable, "PocketSphinx failed to start (model \(files.model))")
        }
        if let loose = files.looseGrammar, ps_set_jsgf_string(pointer, "loose", loose) != 0 {
            ps_free(pointer)
            throw SiphonError(.internal, "PocketSphinx rejected the fallback grammar")
        }
        state.withLock { $0.created += 1; $0.live += 1 }
        return Decoder(pointer: pointer)
    }

    /// Back to the pool after an utterance (freed when enough are idle already).
    func give(_ d: Decoder) {
        let keep = state.withLock { s -> Bool in
            guard s.idle.count < maxIdle else { return false }
            s.idle.append(d)
            return true
        }
        if !keep { free(d) }
    }

    /// Frees every idle decoder (the worker stops, or memory is wanted back).
    func drain() {
        let idle = state.withLock { s -> [Decoder] in defer { s.idle = [] }; return s.idle }
        for d in idle { free(d) }
    }

    private func free(_ d: Decoder) {
        ps_free(d.pointer)
        state.withLock { $0.live -= 1; $0.freed += 1 }
    }

    /// Decoders made so far, alive now (in use or idle), idle now, and freed.
    var counts: (created: Int, live: Int, idle: Int, freed: Int) { state.withLock { ($0.created, $0.live, $0.idle.count, $0.freed) } }
}
