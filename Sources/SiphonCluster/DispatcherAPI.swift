import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SiphonCore
import SiphonRedis

public struct DispatcherConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Bearer token required on `/v1/*` (from `SIPHON_API_TOKEN`); nil only with `--no-auth`.
    public var apiToken: String?
    public var keys: ClusterKeys
    /// Renders `/metrics` (Prometheus text); nil serves no `/metrics`.
    public var metrics: (@Sendable () -> String)?
    /// Checks a browser's SDP offer before its call is queued (the executable plugs in the WebRTC
    /// parser); nil takes any text.
    public var validateOffer: (@Sendable (String) throws -> Void)?
    /// How long a browser's first offer waits for a worker's answer (claim included).
    public var webrtcAnswerTimeout = Duration.seconds(15)
    /// How long a re-offer waits: long enough for a dead worker to be noticed and its call reassigned.
    public var webrtcReofferTimeout = Duration.seconds(30)
    /// Serves the operator console at `/`.
    public var console = true
    /// Follows the cluster for `/v1/activity`; nil serves no live updates.
    public var activity: ActivityFeed?
    /// The workers' `SIPHON_RECORDINGS_DIR`, when the dispatcher shares it (a volume): serves
    /// `GET /v1/calls/{id}/recording` and the console's player.
    public var recordingsDirectory: String?
    public static let maxBodyBytes = 64 * 1024

    public init(host: String = "0.0.0.0", port: Int = 8080, apiToken: String?, keys: ClusterKeys = ClusterKeys()) {
        (self.host, self.port, self.apiToken, self.keys) = (host, port, apiToken, keys)
    }
}

/// The dispatcher's HTTP API: validates call requests, writes the call record and XADDs the job.
///
///     POST   /v1/calls              enqueue (201; 200 when the idempotency key matched)
///     GET    /v1/calls[?status=&limit=]
///     GET    /v1/calls/{id}         the call record
///     GET    /v1/calls/{id}/turns   dialogue turns
///     GET    /v1/calls/{id}/events  lifecycle events
///     DELETE /v1/calls/{id}         cancel a queued call / hang up a running one
///     GET    /v1/workers
///     GET    /v1/dead-letters[?limit=]
///     GET    /v1/activity[?call=]   server-sent events: every call event and turn, as they happen
///     POST   /v1/webrtc/...          browser calls (`BrowserCalls`)
///     GET    /healthz, /readyz, /metrics   (no auth)
///     GET    /, /console.js, /console.css   the operator console (no auth: it signs in with the token)
public struct DispatcherAPI: Sendable {
    public let configuration: DispatcherConfiguration
    let queue: CallQueue
    let store: SessionStore
    let authorization: APIAuthorization
    var browserCalls: BrowserCalls { BrowserCalls(queue: queue, store: store, configuration: configuration, authorization: authorization) }

    public init(configuration: DispatcherConfiguration, client: RedisClient, secretBox: SecretBox? = nil) {
        self.configuration = configuration
        var queue = CallQueue(client: client, keys: configuration.keys)
        queue.secretBox = secretBox
        self.queue = queue
        self.store = SessionStore(client: client, keys: configuration.keys)
        self.authorization = APIAuthorization(apiToken: configuration.apiToken)
    }

    public func application(logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.get("/healthz") { _, _ in Self.json(.ok, ["status": "ok"]) }
        if configuration.console { ConsoleAssets.routes(router) }
        router.get("/readyz") { _, _ in try await readiness() }
        if let metrics = configuration.metrics { router.get("/metrics") { _, _ in MetricsServer.response(metrics()) } }
        let v1 = router.group("/v1").add(middleware: BearerAuthMiddleware(authorization: authorization))
        v1.post("/calls") { request, _ in try await createCall(request) }
        v1.get("/calls") { request, _ in try await listCalls(request) }
        v1.get("/calls/:id") { request, context in try await getCall(context.parameters.require("id"), request) }
        v1.get("/calls/:id/turns") { request, context in try await getTurns(context.parameters.require("id"), request) }
        v1.get("/calls/:id/events") { request, context in try await getEvents(context.parameters.require("id"), request) }
        v1.get("/calls/:id/recording") { request, context in try await getRecording(context.parameters.require("id"), request, context) }
        v1.delete("/calls/:id") { request, context in try await cancelCall(context.parameters.require("id"), request) }
        v1.get("/workers") { _, _ in Self.json(.ok, ["workers": try await queue.workers()]) }
        v1.get("/dead-letters") { request, _ in try await deadLetters(request) }
        v1.get("/activity") { request, _ in try await activity(request) }
        v1.post("/webrtc/calls") { request, _ in try await browserCalls.create(request) }
        v1.post("/webrtc/calls/:id/offer") { request, context in try await browserCalls.reoffer(request, id: context.parameters.require("id")) }
        v1.post("/webrtc/tokens") { request, _ in try await browserCalls.mintToken(request) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "siphon-dispatcher"),
            logger: logger)
    }

    func readiness() async throws -> Response {
        do {
            try await queue.client.send("PING")
            let live = try await queue.liveWorkers().count
            return Self.json(.ok, ReadyBody(status: "ready", redis: "ok", liveWorkers: live))
        } catch {
            return Self.json(.serviceUnavailable, ReadyBody(status: "not_ready", redis: "\(error)", liveWorkers: 0))
        }
    }

    struct ReadyBody: Encodable {
        var status: String
        var redis: String
        var liveWorkers: Int
        enum CodingKeys: String, CodingKey { case status, redis, liveWorkers = "live_workers" }
    }

    func createCall(_ request: Request) async throws -> Response {
        do {
            let response = try await enqueueCall(request)
            ClusterMetrics.apiCall(created: response.status == .created, error: nil)
            return response
        } catch {
            ClusterMetrics.apiCall(created: false, error: (error as? SiphonError)?.code.description ?? "internal")
            throw error
        }
    }

    func enqueueCall(_ request: Request) async throws -> Response {
        var job = try CallJob.parse(Data(buffer: try await Self.body(request)), allowPlainSecrets: true)
        // Inbound jobs come from the cluster itself (a worker answering, LiveKit's dispatch): an
        // API client must not send an agent into a room of its choosing.
        guard job.direction == .outbound else {
            throw SiphonError.invalid("direction 'inbound' (and room) are for calls the cluster answers; the API places outbound calls")
        }
        if job.idempotencyKey == nil, let key = request.headers[.init("Idempotency-Key")!] {
            job.idempotencyKey = key
            try job.validate()
        }
        let result = try await queue.enqueue(job)
        if result.created {
            return Self.json(.created, ["id": result.id, "status": CallStatus.queued.rawValue])
        }
        let status = try await store.call(result.id)?.status.rawValue ?? CallStatus.queued.rawValue
        return Self.json(.ok, ["id": result.id, "status": status, "idempotent_replay": "true"])
    }

    func listCalls(_ request: Request) async throws -> Response {
        if let ids = request.uri.queryParameters.get("ids") {
            // The console refreshing the rows that changed: one pipelined read.
            let list = ids.split(separator: ",").map(String.init)
            guard (1...200).contains(list.count) else { throw SiphonError.invalid("ids: 1 to 200 call ids, comma-separated") }
            for id in list { try Identifier.validateID(id, what: "call id") }
            let replies = try await queue.client.pipeline(list.map { ["HGETALL", queue.keys.call($0)] })
            return Self.json(.ok, ["calls": zip(list, replies).compactMap { CallRecord(id: $0, fields: $1.fieldMap) }])
        }
        var status: CallStatus?
        if let s = request.uri.queryParameters.get("status") {
            guard let parsed = CallStatus(rawValue: s) else {
                throw SiphonError.invalid("status must be one of \(CallStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
        guard (1...1000).contains(limit) else { throw SiphonError.invalid("limit must be 1 to 1000") }
        return Self.json(.ok, ["calls": try await store.list(status: status, limit: limit)])
    }

    /// The call, when this request's principal may see it.
    func visibleCall(_ id: String, _ request: Request) async throws -> CallRecord {
        try Identifier.validateID(id, what: "call id")
        return try await browserCalls.ownedCall(id, try browserCalls.principal(request))
    }

    func getCall(_ id: String, _ request: Request) async throws -> Response {
        var record = try await visibleCall(id, request)
        if configuration.recordingsDirectory != nil { record.recording = try await recordingPath(record) != nil }
        return Self.json(.ok, record)
    }

    /// The call's recording (WAV), from its latest owner's file (`<id>-<epoch>.wav`; a call taken
    /// over has one per worker). Read on NIO's file thread pool, never on Swift's.
    func getRecording(_ id: String, _ request: Request, _ context: some RequestContext) async throws -> Response {
        let record = try await visibleCall(id, request)
        guard configuration.recordingsDirectory != nil else { throw SiphonError(.notFound, "this dispatcher serves no recordings (SIPHON_RECORDINGS_DIR)") }
        guard let path = try await recordingPath(record) else { throw SiphonError(.notFound, "no recording of call \(id)") }
        let body = try await FileIO().loadFile(path: path, context: context)
        return Response(status: .ok, headers: [.contentType: "audio/wav", .cacheControl: "no-store"], body: body)
    }

    private func recordingPath(_ record: CallRecord) async throws -> String? {
        guard let dir = configuration.recordingsDirectory else { return nil }
        let id = record.id, epoch = record.epoch
        return try await NIOThreadPool.singleton.runIfActive {
            for e in stride(from: epoch, through: 1, by: -1) {
                let path = "\(dir)/\(id)-\(e).wav"
                if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size > 44 { return path }
            }
            return nil
        }
    }

    func getTurns(_ id: String, _ request: Request) async throws -> Response {
        _ = try await visibleCall(id, request)
        return Self.json(.ok, TurnsBody(id: id, turns: try await store.turns(id)))
    }

    func getEvents(_ id: String, _ request: Request) async throws -> Response {
        _ = try await visibleCall(id, request)
        return Self.json(.ok, EventsBody(id: id, events: try await store.events(id)))
    }

    func deadLetters(_ request: Request) async throws -> Response {
        let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
        guard (1...1000).contains(limit) else { throw SiphonError.invalid("limit must be 1 to 1000") }
        return Self.json(.ok, ["dead_letters": try await queue.deadLetters(limit: limit)])
    }

    /// Server-sent events, one per call event or turn (`data: {"call":…,"type":…}`); with
    /// `?call=`, that call's only. Pages refetch what an event names.
    func activity(_ request: Request) async throws -> Response {
        guard let feed = configuration.activity else { throw SiphonError(.notFound, "this dispatcher serves no activity feed") }
        let only = request.uri.queryParameters.get("call").map { String($0) }
        if let only { _ = try await visibleCall(only, request) } else if try browserCalls.principal(request) != .operator {
            throw SiphonError(.forbidden, "a web client follows its own call only (?call=)")
        }
        let (items, cancel) = feed.subscribe()
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: ResponseBody { writer in
            defer { cancel() }
            try await writer.write(ByteBuffer(string: ": siphon activity\nretry: 1000\n\n"))
            for await item in items {
                if item.type == "ping" {
                    try await writer.write(ByteBuffer(string: ": ping\n\n"))
                    continue
                }
                if let only, item.call != only { continue }
                var w = JSONWriter()
                w.field("call", item.call)
                w.field("type", item.type)
                try await writer.write(ByteBuffer(string: "data: \(w.finished())\n\n"))
            }
            try await writer.finish(nil)
        })
    }

    /// A request's body, up to `maxBodyBytes`.
    static func body(_ request: Request) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: DispatcherConfiguration.maxBodyBytes)
        } catch {
            throw SiphonError(.tooLarge, "request body is larger than \(DispatcherConfiguration.maxBodyBytes) bytes")
        }
    }

    /// A request body as a JSON object, with clear errors for anything else.
    static func jsonObject(_ request: Request) async throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: try await body(request))) as? [String: Any] else {
            throw SiphonError.invalid("the body must be a JSON object")
        }
        return object
    }

    struct TurnsBody: Encodable { var id: String; var turns: [Turn] }
    struct EventsBody: Encodable { var id: String; var events: [CallEvent] }

    func cancelCall(_ id: String, _ request: Request) async throws -> Response {
        _ = try await visibleCall(id, request)
        switch try await queue.cancel(id) {
        case .canceled: return Self.json(.ok, ["id": id, "status": CallStatus.canceled.rawValue])
        case .requested(let worker): return Self.json(.accepted, ["id": id, "status": "canceling", "worker": worker])
        case .alreadyEnded(let s): throw SiphonError(.conflict, "call \(id) already ended (\(s.rawValue))")
        case .notFound: throw SiphonError(.notFound, "no call \(id)")
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

struct ErrorBody: Encodable {
    var error: Detail
    struct Detail: Encodable { var code: String; var message: String }
    init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// Turns thrown errors into JSON error bodies with the right status; never leaks internals.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as SiphonError {
            let status: HTTPResponse.Status = switch e.code {
            case .invalidInput: .badRequest
            case .notFound: .notFound
            case .conflict: .conflict
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .unavailable: .serviceUnavailable
            case .tooLarge: .contentTooLarge
            default: .internalServerError
            }
            return DispatcherAPI.json(status, ErrorBody(code: e.code.description, message: e.message))
        } catch let e as RedisError {
            logger.error("redis error in request", metadata: ["error": "\(e)"])
            return DispatcherAPI.json(.serviceUnavailable, ErrorBody(code: "unavailable", message: "the call store is unavailable"))
        } catch let e as HTTPError {
            return DispatcherAPI.json(e.status, ErrorBody(code: "http", message: e.body ?? e.status.reasonPhrase))
        } catch {
            logger.error("unexpected error in request", metadata: ["error": "\(error)"])
            return DispatcherAPI.json(.internalServerError, ErrorBody(code: "internal", message: "internal error"))
        }
    }
}
