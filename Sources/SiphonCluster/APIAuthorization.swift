import Foundation
import Hummingbird
import SiphonCore

/// Who a request to `/v1` comes from: the operator (the API token) or a web page holding a
/// web client token, which may only place browser calls to its agent and follow the calls it placed.
public enum Principal: Sendable, Equatable {
    case `operator`
    case webClient(WebClientToken)
}

struct APIAuthorization: Sendable {
    let apiToken: String?
    let webKey: [UInt8]

    init(apiToken: String?) {
        self.apiToken = apiToken
        webKey = WebClientToken.key(apiToken: apiToken)
    }

    /// nil: refused (no token, a wrong one, an expired web token).
    func principal(_ request: Request) -> Principal? {
        guard let apiToken else { return .operator }
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer ") else { return nil }
        let presented = Array(header.utf8.dropFirst(7))
        if Self.constantTimeEqual(presented, Array(apiToken.utf8)) { return .operator }
        return WebClientToken.verify(String(decoding: presented, as: UTF8.self), key: webKey).map { .webClient($0) }
    }

    /// The routes a web client token opens (its calls are checked again by the handlers).
    static func webClientMay(_ method: HTTPRequest.Method, _ path: String) -> Bool {
        let p = path.split(separator: "/").map(String.init)
        switch (method, p.count) {
        case (.post, 3): return p == ["v1", "webrtc", "calls"]
        case (.post, 5): return p[0...2] == ["v1", "webrtc", "calls"] && p[4] == "offer"
        case (.get, 3), (.delete, 3): return p[0...1] == ["v1", "calls"]
        case (.get, 4): return p[0...1] == ["v1", "calls"] && ["turns", "events"].contains(p[3])
        case (.get, 2): return p == ["v1", "activity"]
        default: return false
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// `Authorization: Bearer <token>` on every `/v1` route: the API token (compared in constant
/// time), or a web client token on the routes it opens.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let authorization: APIAuthorization

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch authorization.principal(request) {
        case .operator?:
            return try await next(request, context)
        case .webClient?:
            guard APIAuthorization.webClientMay(request.method, request.uri.path) else {
                return DispatcherAPI.json(.forbidden, ErrorBody(code: "forbidden", message: "a web client token may only place and follow its own browser calls"))
            }
            return try await next(request, context)
        case nil:
            var response = DispatcherAPI.json(.unauthorized, ErrorBody(code: "unauthorized", message: "missing or wrong bearer token"))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
    }
}
