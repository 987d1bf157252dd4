import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SiphonCore

/// Twirp over JSON: `POST {base}/twirp/livekit.<Service>/<Method>` with a bearer token.
/// Requests are written in protojson's snake_case, with only the fields that are set; replies are
/// decoded leniently (the server includes every default and may add fields).
public struct TwirpClient: Sendable {
    public let credentials: LiveKitCredentials
    let http: HTTPClient
    /// The server-side deadline is sent as `X-Twirp-Timeout-Ms`; the client waits a little longer.
    public var timeout: Duration

    public init(credentials: LiveKitCredentials, http: HTTPClient = .shared, timeout: Duration = .seconds(10)) {
        (self.credentials, self.http, self.timeout) = (credentials, http, timeout)
    }

    /// Calls `service`/`method` with a token carrying `claims`, the narrowest grant the call needs.
    public func call<Request: Encodable, Response: Decodable>(
        _ service: String, _ method: String, _ request: Request, claims: LiveKitClaims, timeout: Duration? = nil,
        as: Response.Type = Response.self
    ) async throws -> Response {
        let name = "\(service)/\(method)"
        let deadline = timeout ?? self.timeout
        let token = try credentials.token(claims: claims, ttl: 600)
        var req = HTTPClientRequest(url: "\(credentials.httpURL)/twirp/livekit.\(service)/\(method)")
        req.method = .POST
        req.headers.add(name: "Authorization", value: "Bearer \(token)")
        req.headers.add(name: "Content-Type", value: "application/json")
        req.headers.add(name: "X-Twirp-Timeout-Ms", value: String(deadline.wholeMilliseconds))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        req.body = .bytes(ByteBuffer(data: try encoder.encode(request)))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(req, timeout: .milliseconds(deadline.wholeMilliseconds + 2_000))
            body = try await response.body.collect(upTo: 8 << 20)
        } catch let error as HTTPClientError {
            throw TwirpError(code: "unavailable", message: "\(error) at \(credentials.httpURL)", httpStatus: 0, method: name)
        } catch let error as NIOTooManyBytesError {
            throw TwirpError(code: "malformed", message: "reply larger than 8 MiB (\(error))", httpStatus: 0, method: name)
        } catch {
            throw TwirpError(code: "unavailable", message: "\(error) at \(credentials.httpURL)", httpStatus: 0, method: name)
        }
        let data = Data(buffer: body)
        guard response.status == .ok else { throw TwirpError(httpStatus: Int(response.status.code), body: data, method: name) }
        do {
            return try JSONDecoder().decode(Response.self, from: data)
        } catch {
            throw TwirpError(code: "malformed", message: "unreadable reply: \(error)", httpStatus: 200, method: name)
        }
    }
}

/// protojson's `google.protobuf.Duration`: "30s", "1.5s".
struct ProtoDuration: Codable, Sendable, Equatable {
    var seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard text.hasSuffix("s"), let s = Double(text.dropLast()) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a protobuf Duration: \(text)"))
        }
        seconds = s
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        let whole = seconds.rounded(.towardZero)
        try c.encode(whole == seconds ? "\(Int64(whole))s" : String(format: "%.3fs", seconds))
    }
}

/// protojson writes 64-bit integers as strings; accept either.
struct ProtoInt64: Codable, Sendable, Equatable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            value = n
        } else if let n = Int64(try c.decode(String.self)) {
            value = n
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an int64"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(String(value))
    }
}
