import Foundation
import SiphonCore

/// An error answered by a Twirp service: `{"code","msg","meta"}`. Dispatch on `code`, never on the
/// HTTP status (twirp versions disagree on some statuses). A failed INVITE carries the SIP status
/// in `meta.sip_status_code` / `meta.sip_status` (livekit/protocol `livekit/sip.go`).
public struct TwirpError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var meta: [String: String]
    public var httpStatus: Int
    /// `Service/Method` that failed.
    public var method: String

    public init(code: String, message: String, meta: [String: String] = [:], httpStatus: Int, method: String) {
        (self.code, self.message, self.meta, self.httpStatus, self.method) = (code, message, meta, httpStatus, method)
    }

    /// From a non-200 reply: the Twirp body, or (a proxy's page, an empty body) the HTTP status.
    init(httpStatus: Int, body: Data, method: String) {
        struct Wire: Decodable { var code: String?; var msg: String?; var meta: [String: String]? }
        if let wire = try? JSONDecoder().decode(Wire.self, from: body), let code = wire.code {
            self.init(code: code, message: wire.msg ?? "", meta: wire.meta ?? [:], httpStatus: httpStatus, method: method)
        } else {
            let code = switch httpStatus {
            case 400: "invalid_argument"
            case 401: "unauthenticated"
            case 403: "permission_denied"
            case 404: "bad_route"
            case 408: "deadline_exceeded"
            case 429, 502, 503, 504: "unavailable"
            default: "internal"
            }
            let text = String(decoding: body.prefix(160), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            self.init(code: code, message: "HTTP \(httpStatus)\(text.isEmpty ? "" : ": " + text)", httpStatus: httpStatus, method: method)
        }
    }

    /// The SIP final response behind the error, when the server reported one.
    public var sipStatus: Int? { meta["sip_status_code"].flatMap { Int($0) } }

    public var description: String {
        var text = "LiveKit \(method): \(code)"
        if !message.isEmpty { text += " — \(message)" }
        if let sip = sipStatus { text += " (SIP \(sip)\(meta["sip_status"].map { " " + $0 } ?? ""))" }
        return text
    }

    /// Worth retrying as is (the server or the path to it was briefly unable).
    public var isTransient: Bool { ["unavailable", "internal", "unknown", "aborted"].contains(code) && sipStatus == nil }

    /// How a failed CreateSIPParticipant ends the call: by the SIP status when known (it is more
    /// precise than the Twirp code, which folds 480 and 486 together), else by the code.
    public var callEnd: (status: CallStatus, reason: String) {
        if let sip = sipStatus {
            switch sip {
            case 486, 600: return (.busy, "busy (SIP \(sip))")
            case 408, 480, 487, 504: return (.noAnswer, "no answer (SIP \(sip))")
            case 401, 403, 404, 407, 484, 488, 603, 604, 607, 608: return (.rejected, "rejected (SIP \(sip) \(meta["sip_status"] ?? ""))".replacingOccurrences(of: " )", with: ")"))
            case 500...599: return (.failed, "trunk failure (SIP \(sip) \(meta["sip_status"] ?? ""))".replacingOccurrences(of: " )", with: ")"))
            default: break
            }
        }
        // LiveKit SIP's own failures carry no SIP status (livekit/sip pkg/sip/errors.go,
        // classifyInviteError); their code is too coarse and their message says what happened.
        let text = message.lowercased()
        if text.contains("sip request timed out") { return (.noAnswer, "no answer: the phone rang until the ring timeout (\(message))") }
        if text.contains("transaction failed to complete") {
            // "(n intermediate responses)": after a 1xx the callee's side stalled; with none the trunk never answered.
            let provisional = text.range(of: #"\((\d+) intermediate"#, options: .regularExpression)
                .flatMap { Int(text[$0].filter(\.isNumber)) } ?? 0
            return provisional > 0 ? (.noAnswer, "no answer: no final response after ringing (\(message))")
                : (.failed, "trunk failure: the trunk never answered the INVITE (\(message))")
        }
        if text.contains("auth") && (text.contains("retry") || text.contains("credentials") || text.contains("no header")) {
            return (.rejected, "rejected: the trunk refused Siphon's credentials (\(message))")
        }
        switch code {
        case "resource_exhausted": return (.busy, "busy: \(message)")
        case "deadline_exceeded": return (.noAnswer, "no answer: \(message)")
        case "permission_denied" where sipStatus != nil: return (.rejected, "rejected: \(message)")
        case "failed_precondition": return (.failed, "trunk failure: \(message)")
        case "unavailable": return (.failed, "trunk unreachable: \(message)")
        case "invalid_argument": return (.failed, "LiveKit refused the dial: \(message)")
        default: return (.failed, description)
        }
    }
}
