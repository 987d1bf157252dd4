import SiphonAudio
import SiphonCore
import SiphonRTP

/// One Opus audio stream each way over RTP (RFC 7587: 48 kHz RTP clock whatever the coded
/// bandwidth): the sender's sequence and timestamps, the receiver's jitter buffer and decoder.
/// Frames are at the pipeline rate (Opus encodes and decodes at 8, 16, 24 or 48 kHz directly).
/// Confined to the peer's event loop.
final class AudioTrack {
    let payloadType: UInt8
    let ssrc: UInt32
    let pipelineRate: Int
    private let encoder: OpusEncoder
    private let decoder: OpusDecoder
    private let jitter = JitterBuffer(configuration: .init(clockRate: 48000))
    private var sequence = UInt16.random(in: 0...UInt16.max)
    private var timestamp = UInt32.random(in: 0...UInt32.max)
    private var marker = true
    private var remoteSSRC: UInt32?
    private var lastFromRemote: UInt64 = 0
    private(set) var concealed = 0
    private var ticks = 0
    private var packetsSent: UInt32 = 0
    private var octetsSent: UInt32 = 0
    private let silence: [Int16]
    /// Ticks since the agent's last frame.
    private(set) var silentFrames = 0

    init(payloadType: UInt8, ssrc: UInt32, pipelineRate: Int) throws {
        (self.payloadType, self.ssrc, self.pipelineRate) = (payloadType, ssrc, pipelineRate)
        var settings = OpusEncoder.Settings()
        settings.bitrate = 32_000
        encoder = try OpusEncoder(sampleRate: pipelineRate, settings: settings)
        decoder = try OpusDecoder(sampleRate: pipelineRate)
        silence = Array(repeating: 0, count: pipelineRate / 50)
    }

    /// A decrypted RTP packet from the peer. One stream is played: the first SSRC, replaced when
    /// another one starts after it stopped for a second (a new sender after a reconnect).
    func receive(_ bytes: [UInt8]) {
        guard let packet = try? RTPPacket(parsing: bytes), packet.payloadType == payloadType || packet.payloadType == 111 else { return }
        let now = WebRTCPeer.now()
        if let current = remoteSSRC, current != packet.ssrc {
            guard now - lastFromRemote > 1_000_000_000 else { return }
        }
        if remoteSSRC != packet.ssrc { remoteSSRC = packet.ssrc }
        lastFromRemote = now
        jitter.insert(packet, arrivalNanoseconds: now)
    }

    /// One 20 ms frame of the caller: decoded, concealed when a packet is missing (Opus PLC), or
    /// silence when nothing is playing.
    func playout() -> AudioFrame {
        ticks += 1
        switch jitter.pop() {
        case .frame(let payload):
            if let pcm = try? decoder.decode(payload) { return AudioFrame(sampleRate: pipelineRate, samples: fit(pcm)) }
            fallthrough
        case .missing:
            concealed += 1
            return AudioFrame(sampleRate: pipelineRate, samples: fit((try? decoder.decode(nil)) ?? silence))
        case .empty:
            return AudioFrame(sampleRate: pipelineRate, samples: silence)
        }
    }

    private func fit(_ pcm: [Int16]) -> [Int16] {
        pcm.count == silence.count ? pcm : Array((pcm + silence).prefix(silence.count))
    }

    /// The next talkspurt starts with the marker bit (after a barge-in flush).
    func markTalkspurt() { marker = true }

    /// The RTP packet for this tick: the agent's frame, or Opus silence to keep the stream (and
    /// NAT bindings, and the far jitter buffer) going. Silence is coded for
    /// `OpusEncoder.codedSilenceFrames` after the agent stops, then sent as `OpusEncoder.silenceFrame`
    /// instead of an encode: most of a call the agent listens, and encoding was most of what its
    /// connection cost. The far decoder takes the next talkspurt from the canned frames as it
    /// would from coded silence (AudioTrackTests).
    func packet(for frame: AudioFrame?) -> [UInt8]? {
        let payload: [UInt8]
        if let frame {
            silentFrames = 0
            guard let coded = try? encoder.encode(fit(frame.samples)) else { return nil }
            payload = coded
        } else {
            silentFrames += 1
            if silentFrames > OpusEncoder.codedSilenceFrames {
                payload = OpusEncoder.silenceFrame
            } else {
                guard let coded = try? encoder.encode(silence) else { return nil }
                payload = coded
            }
        }
        let packet = RTPPacket(marker: frame != nil && marker, payloadType: payloadType, sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload)
        if frame != nil { marker = false } else { marker = true }
        sequence &+= 1
        timestamp &+= 960
        packetsSent &+= 1
        octetsSent &+= UInt32(payload.count)
        return packet.serialized()
    }

    var jitterStatistics: JitterBuffer.Statistics { jitter.statistics }

    /// A sender report every 5 s (250 ticks).
    var reportDue: Bool { ticks % 250 == 0 }

    func senderReport() -> [UInt8] {
        var blocks: [RTCPReport.Block] = []
        if let remote = remoteSSRC {
            let st = jitter.statistics
            let expected = max(1, st.received + st.lost)
            blocks.append(.init(ssrc: remote, fractionLost: UInt8(min(255, st.lost * 256 / expected)), cumulativeLost: Int32(st.lost),
                                highestSequence: st.highestSequence, jitter: UInt32(st.jitter), lastSR: 0, delaySinceLastSR: 0))
        }
        let sender = RTCPReport.SenderInfo(ntpTimestamp: RTCPReport.ntpNow(), rtpTimestamp: timestamp, packetCount: packetsSent, octetCount: octetsSent)
        return RTCPReport(ssrc: ssrc, sender: sender, blocks: blocks, cname: "siphon").serialized()
    }
}
