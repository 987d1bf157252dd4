import SiphonAgent
import SiphonCluster
import SiphonCore

extension CallContext {
    /// Answering-machine detection for this call: the job's `amd`, else the agent's — on outbound
    /// phone calls only (an inbound caller, or a browser, is a person by definition).
    func answerDetection(_ agent: Agent) -> AMDSettings? {
        guard job.direction == .outbound, job.transport == .sip || job.transport == .livekit else { return nil }
        return (job.amd ?? agent.amd).flatMap { $0.enabled ? $0 : nil }
    }
}
