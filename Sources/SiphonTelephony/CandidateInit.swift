import Foundation
import SiphonWebRTC

/// `RTCIceCandidateInit` as LiveKit carries it in `TrickleRequest.candidateInit`.
enum CandidateInit {
    static func json(_ c: ICECandidate) -> String {
        let object: [String: Any] = ["candidate": c.description, "sdpMid": "0", "sdpMLineIndex": 0]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ text: String) -> ICECandidate? {
        guard text.utf8.count <= 4096, let o = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let line = o["candidate"] as? String, !line.isEmpty else { return nil }
        return try? ICECandidate(parsing: line)
    }
}
