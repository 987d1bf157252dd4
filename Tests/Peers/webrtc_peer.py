#!/usr/bin/env python3
"""aiortc as the far end of a WebRTC call with Siphon's stack, driven over stdin/stdout JSON lines.

  webrtc_peer.py --mode offer|answer --play SPEECH.wav --record HEARD.wav [--loopback] [--cue]

offer:  prints {"sdp": <offer>}, reads {"sdp": <answer>}.
answer: reads {"sdp": <offer>}, prints {"sdp": <answer>}.
Either way it then reads {"candidate": "candidate:…"} lines (trickled candidates) and "stop", and
prints {"event": "connected", "srtp": …} and, after stop, {"event": "stats", …}. It plays its WAV
once (then silence) and records what it hears. --loopback: gather 127.0.0.1 host candidates only
(aioice leaves loopback out by default). --cue: the WAV waits for a "play" line (silence until then):
on a lossy path this side may be connected a second or more before the other, whose DTLS flight was
lost, can decrypt anything."""
import argparse
import asyncio
import audioop
import fractions
import json
import sys
import time
import wave

import aioice.ice
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame

ap = argparse.ArgumentParser()
ap.add_argument("--mode", choices=["offer", "answer"], required=True)
ap.add_argument("--play", required=True)
ap.add_argument("--record", required=True)
ap.add_argument("--loopback", action="store_true")
ap.add_argument("--datachannel", action="store_true", help="open a 'chat' channel (offer) and echo every message")
ap.add_argument("--cue", action="store_true", help='play the WAV when a "play" line comes, not at once')
args = ap.parse_args()

if args.loopback:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def say(obj):
    print(json.dumps(obj), flush=True)


class Speech(MediaStreamTrack):
    """A WAV, 20 ms a frame on the wall clock once `playing`; silence before and after."""
    kind = "audio"
    RATE = 16000

    def __init__(self, path, playing):
        super().__init__()
        with wave.open(path) as w:
            pcm, rate, width, channels = w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth(), w.getnchannels()
        pcm = audioop.lin2lin(pcm, width, 2) if width != 2 else pcm
        pcm = audioop.tomono(pcm, 2, 0.5, 0.5) if channels == 2 else pcm
        self.pcm = audioop.ratecv(pcm, 2, 1, rate, self.RATE, None)[0]
        self.playing, self.at, self.sent, self.start = playing, 0, 0, None

    async def recv(self):
        n = self.RATE // 50
        if self.start is None:
            self.start = time.time()
        else:
            await asyncio.sleep(max(0.0, self.start + self.sent * n / self.RATE - time.time()))
        chunk = b""
        if self.playing:
            chunk, self.at = self.pcm[self.at:self.at + 2 * n], self.at + 2 * n
        frame = AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(chunk.ljust(frame.planes[0].buffer_size, b"\0"))
        frame.pts, frame.sample_rate, frame.time_base = self.sent * n, self.RATE, fractions.Fraction(1, self.RATE)
        self.sent += 1
        return frame


async def lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line.decode().strip()


async def main():
    pc = RTCPeerConnection()
    speech = Speech(args.play, playing=not args.cue)
    recorder = MediaRecorder(args.record)
    pc.addTrack(speech)
    received = {"track": False}

    @pc.on("track")
    def on_track(track):
        received["track"] = True
        recorder.addTrack(track)

    def wire(channel):
        @channel.on("open")
        def on_open():
            say({"event": "channel", "label": channel.label})
            channel.send("hello from aiortc")

        @channel.on("message")
        def on_message(message):
            say({"event": "message", "label": channel.label, "text": message if isinstance(message, str) else message.decode(errors="replace")})
            channel.send("echo: " + (message if isinstance(message, str) else message.decode(errors="replace")))

        if channel.readyState == "open":
            on_open()

    @pc.on("datachannel")
    def on_datachannel(channel):
        wire(channel)

    if args.datachannel and args.mode == "offer":
        wire(pc.createDataChannel("chat"))

    @pc.on("connectionstatechange")
    async def on_state():
        if pc.connectionState == "connected":
            await recorder.start()
            dtls = pc.getTransceivers()[0].receiver.transport
            say({"event": "connected", "dtls_role": dtls._role, "srtp": str(getattr(dtls, "_srtp_profile", ""))})
        elif pc.connectionState in ("failed", "closed"):
            say({"event": pc.connectionState})

    stream = lines()
    if args.mode == "offer":
        await pc.setLocalDescription(await pc.createOffer())
        say({"sdp": pc.localDescription.sdp})
        answer = json.loads(await stream.__anext__())
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    else:
        offer = json.loads(await stream.__anext__())
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        say({"sdp": pc.localDescription.sdp})

    async for line in stream:
        if line == "stop":
            break
        if line == "play":
            speech.playing = True
            continue
        msg = json.loads(line)
        if "candidate" in msg:
            c = candidate_from_sdp(msg["candidate"].removeprefix("candidate:"))
            c.sdpMid = pc.getTransceivers()[0].mid
            c.sdpMLineIndex = 0
            await pc.addIceCandidate(c)
    stats = await pc.getStats()
    inbound = [s for s in stats.values() if s.type == "inbound-rtp"]
    outbound = [s for s in stats.values() if s.type == "outbound-rtp"]
    await recorder.stop()
    say({"event": "stats", "track": received["track"],
         "packets_received": sum(s.packetsReceived for s in inbound), "packets_sent": sum(s.packetsSent for s in outbound)})
    await pc.close()


asyncio.run(main())
