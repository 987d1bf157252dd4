import Hummingbird
import NIOCore

/// The operator console's three files (`Console/`, compiled in with `embedInCode`), served at `/`.
/// The page signs in with the API token and talks to `/v1` like any client; its paths are
/// relative, so it works behind a proxy's path prefix.
enum ConsoleAssets {
    static func routes<Context: RequestContext>(_ router: Router<Context>) {
        let page = asset(PackageResources.index_html, "text/html; charset=utf-8")
        router.get("/") { _, _ in page() }
        router.get("/index.html") { _, _ in page() }
        let script = asset(PackageResources.console_js, "text/javascript; charset=utf-8")
        router.get("/console.js") { _, _ in script() }
        let style = asset(PackageResources.console_css, "text/css; charset=utf-8")
        router.get("/console.css") { _, _ in style() }
        // Browsers ask for it; an empty answer keeps a 404 out of every page's console.
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
    }

    private static func asset(_ bytes: [UInt8], _ type: String) -> @Sendable () -> Response {
        let buffer = ByteBuffer(bytes: bytes)
        return {
            Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: buffer))
        }
    }
}

/// Headers on every response: the console's scripts and styles come from this origin only (no
/// inline script — an injected `<img onerror>` cannot run), nothing may frame it, and nothing is
/// sniffed or leaked in a Referer.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
