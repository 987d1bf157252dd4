import Foundation
import NIOCore
import Logging
import Synchronization
import SiphonAgent
import SiphonAudio
import SiphonCore
import SiphonProviderKit

/// Deepgram live transcription over its WebSocket (`/v1/listen`): audio frames go out as binary
/// messages as they arrive (linear16, or μ-law at 8 kHz to halve the bytes), interim and final
/// `Results` come back; Deepgram endpoints on its own (`endpointing`, `utterance_end_ms`).
public struct DeepgramSTT: SpeechToText {
    public enum Encoding: String, Sendable { case linear16, mulaw }

    public let apiKey: String
    public let model: String
    public var language: String?
    public var encoding: Encoding
    public let sampleRate: Int
    public var interimResults = true
    /// Silence (ms) after which Deepgram finalises a segment (`speech_final`).
    public var endpointingMs = 300
    public var utteranceEndMs: Int? = 1000
    public var keyterms: [String] = []
    /// `wss://api.deepgram.com`; tests point it at a local server.
    public var baseURL: String
    public var connectTimeout: Duration = .seconds(10)

    public init(apiKey: String, model: String = "nova-3", language: String? = nil, encoding: Encoding = .linear16, sampleRate: Int = 8000,
                baseURL: String = "wss://api.deepgram.com") throws {
        guard [8000, 16000, 24000, 48000].contains(sampleRate) else { throw SiphonError(.configuration, "stt.sample_rate must be 8000, 16000, 24000 or 48000") }
        if encoding == .mulaw, sampleRate != 8000 { throw SiphonError(.configuration, "stt.encoding mulaw is telephone audio: sample_rate 8000") }
        (self.apiKey, self.model, self.language, self.encoding, self.sampleRate, self.baseURL) = (apiKey, model, language, encoding, sampleRate, baseURL)
    }

    public var name: String { "deepgram:\(model)" }
    public var streamsInterimResults: Bool { interimResults }

    var url: String {
        var q: [(String, String)] = [("model", model), ("encoding", encoding.rawValue), ("sample_rate", String(sampleRate)), ("channels", "1"),
                                     ("interim_results", interimResults ? "true" : "false"), ("endpointing", String(endpointingMs)),
                                     ("vad_events", "true"), ("smart_format", "true"), ("punctuate", "true")]
        if let u = utteranceEndMs, interimResults { q.append(("utterance_end_ms", String(u))) }
        if let language { q.append(("language", language)) }
        for k in keyterms { q.append(("keyterm", k)) }
        var c = URLComponents()
        c.queryItems = q.map { URLQueryItem(name: $0.0, value: $0.1) }
        return baseURL + "/v1/listen" + (c.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    public func open() async throws -> any STTStream {
        let socket = try await WebSocketConnection.connect(url, headers: [("Authorization", "Token \(apiKey)")], provider: "deepgram",
                                                           timeout: connectTimeout, classify: Self.handshakeError)
        return DeepgramSTTStream(socket: socket, encoding: encoding)
    }

    /// A refused handshake: the status says the kind, `dg-error` (or the body) says why.
    static func handshakeError(_ status: Int, _ headers: [(String, String)], _ body: String) -> ProviderError {
        let header = { (name: String) in headers.first { $0.0.lowercased() == name }?.1 }
        struct Wire: Decodable { var err_code: String?; var err_msg: String? }
        let wire = try? JSONDecoder().decode(Wire.self, from: Data(body.utf8))
        return ProviderError(provider: "deepgram", kind: ProviderError.kind(forStatus: status), status: status, code: wire?.err_code,
                             message: header("dg-error") ?? wire?.err_msg ?? body, requestID: header("dg-request-id"),
                             retryAfter: RetryPolicy.retryAfter { header($0) })
    }
}

final class DeepgramSTTStream: STTStream {
    let socket: WebSocketConnection
    let encoding: DeepgramSTT.Encoding
    let transcripts: AsyncThrowingStream<Transcript, any Error>
    private let reader: Task<Void, Never>
    private let keepAlive: Task<Void, Never>
    private let lastSend = SendTime()
    private let sentSamples = Mutex((0, 0))

    init(socket: WebSocketConnection, encoding: DeepgramSTT.Encoding) {
        self.socket = socket
        self.encoding = encoding
        let (stream, sink) = AsyncThrowingStream<Transcript, any Error>.makeStream()
        transcripts = stream
        reader = Task {
            do {
                for try await message in socket.messages {
                    guard case .text(let text) = message else { continue }
                    if let t = try Self.transcript(text) { sink.yield(t) }
                }
                if let close = socket.serverClose, close.code != 1000 {
                    throw ProviderError(provider: "deepgram", kind: close.code == 1008 || close.code == 1011 ? .server : .malformed,
                                        code: String(close.code), message: close.reason)
                }
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        // Deepgram closes a socket that hears nothing for 10 s (NET-0001): on hold, say we are here.
        let last = lastSend
        keepAlive = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if ContinuousClock.now - last.value.withLock({ $0 }) >= .seconds(4) {
                    try? await socket.send(#"{"type":"KeepAlive"}"#)
                    last.value.withLock { $0 = ContinuousClock.now }
                }
            }
        }
    }

    /// One server message: `Results` become transcripts; `Error` fails the stream; the others
    /// (SpeechStarted, UtteranceEnd, Metadata) carry nothing to say.
    static func transcript(_ text: String) throws -> Transcript? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw ProviderError(provider: "deepgram", kind: .malformed, message: "message is not JSON: \(text.prefix(80))")
        }
        switch o["type"] as? String {
        case "Results":
            let alt = ((o["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first
            let words = (alt?["transcript"] as? String ?? "").trimmingCharacters(in: .whitespaces)
            let isFinal = o["is_final"] as? Bool ?? false
            if words.isEmpty && !isFinal { return nil }
            return Transcript(text: words, isFinal: isFinal, confidence: alt?["confidence"] as? Double)
        case "Error":
            throw ProviderError(provider: "deepgram", kind: .server, code: o["variant"] as? String ?? o["code"] as? String,
                                message: o["description"] as? String ?? o["message"] as? String ?? "error")
        default:
            return nil
        }
    }

    /// Frames per message: 40 ms of audio (Deepgram takes 20–250 ms at once). Half the messages —
    /// and the syscalls, here and at the server — of one per frame, for at most 20 ms of delay
    /// on a transcript; `flush` and `close` send what is held first.
    static let framesPerMessage = 2
    private let pending = Mutex((buffer: ByteBuffer(), frames: 0, samples: 0))

    func send(_ frame: AudioFrame, speech: Bool) async throws {
        // The frame's payload is written straight into the message buffer: no array per frame.
        let message = pending.withLock { p -> (ByteBuffer, samples: Int)? in
            switch encoding {
            case .mulaw:
                p.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frame.samples.count) { out in
                    frame.samples.withUnsafeBufferPointer { pcm in
                        G711.encode(.ulaw, pcm, into: UnsafeMutableBufferPointer(start: out.baseAddress!.assumingMemoryBound(to: UInt8.self), count: pcm.count))
                    }
                    return frame.samples.count
                }
            case .linear16:
                frame.samples.withUnsafeBytes { _ = p.buffer.writeBytes($0) }  // little-endian hosts, as linear16 is
            }
            p.frames += 1
            p.samples += frame.samples.count
            guard p.frames >= Self.framesPerMessage else { return nil }
            defer { p = (ByteBuffer(), 0, 0) }
            return (p.buffer, p.samples)
        }
        sentSamples.withLock { $0.1 = frame.sampleRate }
        if let (buffer, samples) = message { try stream(buffer, samples: samples, frames: Self.framesPerMessage) }
    }

    /// The audio held for the next message, sent now.
    private func sendPending() throws {
        let held = pending.withLock { p -> (ByteBuffer, samples: Int, frames: Int)? in
            defer { p = (ByteBuffer(), 0, 0) }
            return p.frames > 0 ? (p.buffer, p.samples, p.frames) : nil
        }
        if let (buffer, samples, frames) = held { try stream(buffer, samples: samples, frames: frames) }
    }

    /// One message out; audio the socket cannot take is dropped, counted, and not billed.
    private func stream(_ buffer: ByteBuffer, samples: Int, frames: Int) throws {
        guard try socket.stream(binary: buffer) else { return ProviderMetrics.sttAudioDropped("deepgram", frames: frames) }
        lastSend.value.withLock { $0 = ContinuousClock.now }
        sentSamples.withLock { $0.0 += samples }
    }

    /// `Finalize`: Deepgram finishes the pending segment now (a final with `from_finalize`).
    func flush() async throws {
        try sendPending()
        try socket.post(#"{"type":"Finalize"}"#)
    }

    /// `CloseStream`: Deepgram sends what it still has, then closes; then we are done.
    func close() async {
        keepAlive.cancel()
        try? sendPending()
        try? await socket.send(#"{"type":"CloseStream"}"#)
        if await !reader.finish(within: .seconds(3)) { socket.abort() }
        let (samples, rate) = sentSamples.withLock { $0 }
        if rate > 0 { ProviderMetrics.usage("deepgram", .stt, unit: "audio_seconds", Double(samples) / Double(rate)) }
    }
}

/// When audio last went out (shared with the keep-alive task).
final class SendTime: Sendable {
    let value = Mutex(ContinuousClock.now)
}
