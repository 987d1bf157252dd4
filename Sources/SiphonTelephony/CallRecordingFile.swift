import Logging
import SiphonAudio
import SiphonCluster

/// Where and how a worker records its part of a call, the same on every path (SIP, browser,
/// LiveKit): `<dir>/<call id>-<epoch>.wav`, and a failing disk stops the recording, not the call.
enum CallRecordingFile {
    static func path(in directory: String, for call: CallContext) -> String {
        "\(directory)/\(call.lease.callID)-\(call.lease.epoch).wav"
    }

    /// Logs the failure and counts it in `siphon_recording_failures_total`.
    static func onFailure(_ logger: Logger) -> @Sendable (String) -> Void {
        { reason in
            logger.error("recording stopped; the call goes on", metadata: ["error": "\(reason)"])
            TelephonyMetrics.recordingFailed()
        }
    }

    /// A WebRTC call's recorder: stereo at 16 kHz, the caller left, the agent right.
    static func webRTCRecorder(in directory: String, for call: CallContext, logger: Logger) -> CallRecorder {
        CallRecorder(path: path(in: directory, for: call), sampleRate: 16000, channels: 2, onFailure: onFailure(logger))
    }
}
