#!/usr/bin/env python3
"""Chromium (headless) as the far end of a WebRTC call with Siphon's stack, driven over stdin/stdout
JSON lines exactly like webrtc_peer.py:

  browser_peer.py --mode offer|answer --play SPEECH.wav --record HEARD.wav [--chromium PATH]

offer:  prints {"sdp": <offer>}, reads {"sdp": <answer>}.
answer: reads {"sdp": <offer>}, prints {"sdp": <answer>}.
Then reads {"candidate": "candidate:…"} lines and "stop"; prints {"event": "connected", …} and,
after stop, {"event": "stats", …} with the browser's own getStats() figures.

The browser loads a page from this script's HTTP server (127.0.0.1, a free port). The page is an
ordinary RTCPeerConnection: once connected it opens the microphone — Chromium's fake capture device
playing SPEECH.wav once, after half a second of silence this script puts before it; with --mdns,
a page without microphone permission, through Web Audio) — records what it hears with MediaRecorder (WebM/Opus), and talks to this script over
two endpoints: POST /say (what it tells the test) and GET /next (the test's next message, a long
poll). The recording is decoded here with PyAV into HEARD.wav."""
import argparse
import asyncio
import io
import json
import os
import shutil
import sys
import tempfile
import wave

import av
from aiohttp import web

ap = argparse.ArgumentParser()
ap.add_argument("--mode", choices=["offer", "answer"], required=True)
ap.add_argument("--play", required=True)
ap.add_argument("--record", required=True)
ap.add_argument("--mdns", action="store_true", help="a page without microphone permission, where Chromium hides its addresses behind mDNS names")
ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
args = ap.parse_args()

PAGE = """<!doctype html><meta charset=utf-8><title>siphon webrtc peer</title><script>
const say = o => fetch('/say', {method: 'POST', body: JSON.stringify(o)});
const next = async () => (await fetch('/next')).json();
(async () => {
  const {mode, microphone} = await (await fetch('/mode')).json();
  const pc = new RTCPeerConnection();
  // The offerer adds its transceiver; the answerer takes the one the offer made (JSEP pairs an
  // offered m-line only with transceivers addTrack made) and makes it send too.
  let sender = mode === 'offer' ? pc.addTransceiver('audio', {direction: 'sendrecv'}).sender : null;
  // What it says: the fake microphone (Chromium plays SPEECH.wav as its capture device), opened only
  // once the call is up so the phrase is not spoken to nobody; or, for a page without microphone
  // permission, the same WAV through Web Audio.
  const speak = async () => {
    if (microphone) {
      const mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
      return sender.replaceTrack(mic.getAudioTracks()[0]);
    }
    const ctx = new AudioContext({sampleRate: 48000});
    const speech = await ctx.decodeAudioData(await (await fetch('/speech.wav')).arrayBuffer());
    const out = ctx.createMediaStreamDestination();
    await sender.replaceTrack(out.stream.getAudioTracks()[0]);
    const src = ctx.createBufferSource(); src.buffer = speech; src.connect(out); src.start();
  };
  const chunks = [];
  let recorder;
  pc.ontrack = e => {
    const s = new MediaStream([e.track]);
    const a = new Audio(); a.muted = true; a.srcObject = s; a.play();  // Chromium pulls remote audio only when it is played
    recorder = new MediaRecorder(s, {mimeType: 'audio/webm;codecs=opus'});
    recorder.ondataavailable = ev => chunks.push(ev.data);
    recorder.start(200);
  };
  let started = false;
  pc.onconnectionstatechange = async () => {
    if (pc.connectionState === 'connected' && !started) {
      started = true;
      const stats = await pc.getStats();
      let pair = {};
      stats.forEach(s => { if (s.type === 'transport') pair = s; });
      say({event: 'connected', dtls_role: pair.dtlsRole, srtp: pair.srtpCipher, tls: pair.tlsVersion});
      await speak();
    } else if (['failed', 'closed'].includes(pc.connectionState)) {
      say({event: pc.connectionState});
    }
  };
  const gathered = () => new Promise(r => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
  });
  if (mode === 'offer') {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered();
    await say({sdp: pc.localDescription.sdp});
    const a = await next();
    await pc.setRemoteDescription({type: 'answer', sdp: a.sdp});
  } else {
    const o = await next();
    await pc.setRemoteDescription({type: 'offer', sdp: o.sdp});
    const [t] = pc.getTransceivers(); t.direction = 'sendrecv'; sender = t.sender;
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered();
    await say({sdp: pc.localDescription.sdp});
  }
  for (;;) {
    const m = await next();
    if (m.candidate) { await pc.addIceCandidate({candidate: m.candidate, sdpMLineIndex: 0}); continue; }
    if (m.stop) break;
  }
  if (recorder) { recorder.stop(); await new Promise(r => { recorder.onstop = r; }); }
  const inbound = [], outbound = [];
  (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp') inbound.push(s); if (s.type === 'outbound-rtp') outbound.push(s); });
  await fetch('/recording', {method: 'POST', body: new Blob(chunks, {type: 'audio/webm'})});
  await say({event: 'stats', track: !!recorder,
             packets_received: inbound.reduce((n, s) => n + s.packetsReceived, 0),
             packets_sent: outbound.reduce((n, s) => n + s.packetsSent, 0),
             concealed: inbound.reduce((n, s) => n + (s.concealedSamples || 0), 0)});
  pc.close();
})().catch(e => say({event: 'error', error: String(e)}));
</script>"""


def tell(obj):
    print(json.dumps(obj), flush=True)


async def main():
    to_page = asyncio.Queue()
    finished = asyncio.Event()

    async def page(_):
        return web.Response(text=PAGE, content_type="text/html")

    async def mode(_):
        return web.json_response({"mode": args.mode, "microphone": not args.mdns})

    async def speech(_):
        return web.FileResponse(microphone)

    async def next_message(_):
        return web.json_response(await to_page.get())

    async def said(request):
        obj = json.loads(await request.text())
        tell(obj)
        if obj.get("event") in ("stats", "error"):
            finished.set()
        return web.json_response({})

    async def recording(request):
        data = await request.read()
        decode(data)
        return web.json_response({})

    app = web.Application(client_max_size=64 << 20)
    app.router.add_get("/", page)
    app.router.add_get("/mode", mode)
    app.router.add_get("/speech.wav", speech)
    app.router.add_get("/next", next_message)
    app.router.add_post("/say", said)
    app.router.add_post("/recording", recording)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]

    profile = tempfile.mkdtemp(prefix="siphon-chromium-")
    microphone = os.path.join(profile, "microphone.wav")
    with wave.open(args.play) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(microphone, "wb") as w:
        w.setparams(params)
        w.writeframes(b"\0" * (params.framerate // 2 * params.sampwidth * params.nchannels) + frames)
    browser = await asyncio.create_subprocess_exec(
        args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
        f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required",
        # Microphone permission granted makes Chromium show its real addresses, so an --mdns page
        # goes without (and speaks through Web Audio).
        *([] if args.mdns else ["--use-fake-ui-for-media-stream"]), "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        # Loopback is where Siphon listens in the tests (Chromium leaves it out unless told); real
        # addresses rather than mDNS names unless --mdns (nothing here resolves .local names).
        "--allow-loopback-in-peer-connection",
        *([] if args.mdns else ["--disable-features=WebRtcHideLocalIpsWithMdns"]),
        f"http://127.0.0.1:{port}/",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            if reader.at_eof():
                break
            continue
        if line == "stop":
            await to_page.put({"stop": True})
            break
        await to_page.put(json.loads(line))
    try:
        await asyncio.wait_for(finished.wait(), 20)
    finally:
        browser.terminate()
        await browser.wait()
        await runner.cleanup()
        shutil.rmtree(profile, ignore_errors=True)


def decode(data):
    """WebM/Opus from MediaRecorder into 48 kHz mono 16-bit WAV."""
    if not data:
        open(args.record, "wb").close()
        return
    with av.open(io.BytesIO(data)) as src, av.open(args.record, "w", format="wav") as dst:
        stream = dst.add_stream("pcm_s16le", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in src.decode(audio=0):
            for f in resampler.resample(frame):
                for p in stream.encode(f):
                    dst.mux(p)
        for p in stream.encode(None):
            dst.mux(p)


asyncio.run(main())
