#!/usr/bin/env python3
"""Headless Chromium driven over the DevTools protocol (no chromedriver, no Selenium): the browser
the console tests use. JSON lines on stdin, one JSON reply per line on stdout:

  {"goto": URL}                               navigate, wait for the load event
  {"eval": JS}                                evaluate (promises awaited) -> {"value": …} or {"error": …}
  {"wait": JS, "timeout": S}                  poll JS (every 100 ms) until truthy -> {"ok": bool, "value": …}
  {"screenshot": PATH}                        full-page PNG -> {"ok": true}
  {"errors": true[, "clear": true]}           console errors, uncaught exceptions, CSP and other
                                              browser errors, and dialogs (alert()) so far -> {"errors": [...]}
  {"webm": JS, "wav": PATH}                   JS yields base64 WebM/Opus; decoded (PyAV) to a mono WAV
  "stop"

  console_browser.py [--microphone SPEECH.wav] [--chromium PATH]

The fake microphone (Chromium's capture device) plays SPEECH.wav once, after --microphone-delay seconds (1) of silence."""
import argparse
import asyncio
import base64
import io
import json
import os
import shutil
import sys
import tempfile
import urllib.request
import wave

import av
import websockets

ap = argparse.ArgumentParser()
ap.add_argument("--microphone")
ap.add_argument("--microphone-delay", type=float, default=1.0)
ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
args = ap.parse_args()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.pending, self.errors = ws, 0, {}, []
        self.loaded = asyncio.Event()

    async def call(self, method, **params):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        return await future

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                f = self.pending.pop(msg["id"])
                if not f.done():
                    f.set_result(msg.get("result", {"__error": msg.get("error")}))
                continue
            method, p = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                self.errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                self.errors.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif method == "Page.javascriptDialogOpening":
                self.errors.append(f"dialog: {p.get('type')} {p.get('message')}")
                asyncio.ensure_future(self.call("Page.handleJavaScriptDialog", accept=True))
            elif method == "Page.loadEventFired":
                self.loaded.set()

    async def evaluate(self, js):
        r = await self.call("Runtime.evaluate", expression=js, awaitPromise=True, returnByValue=True, userGesture=True)
        if "__error" in r:
            return {"error": str(r["__error"])}
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            return {"error": d.get("exception", {}).get("description", d.get("text", "exception"))}
        return {"value": r.get("result", {}).get("value")}


def webm_to_wav(data, path):
    container = av.open(io.BytesIO(data))
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    pcm = bytearray()
    for frame in container.decode(audio=0):
        for f in resampler.resample(frame):
            pcm += bytes(f.planes[0])[: f.samples * 2]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(bytes(pcm))
    return len(pcm) // 2 / 48000


async def main():
    profile = tempfile.mkdtemp(prefix="siphon-console-")
    flags = []
    if args.microphone:
        mic = os.path.join(profile, "microphone.wav")
        with wave.open(args.microphone) as w:
            params, frames = w.getparams(), w.readframes(w.getnframes())
        with wave.open(mic, "wb") as w:
            w.setparams(params)
            silence = int(params.framerate * args.microphone_delay) * params.sampwidth * params.nchannels
            w.writeframes(b"\0" * silence + frames)
        flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={mic}%noloop"]
    browser = await asyncio.create_subprocess_exec(
        args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
        "--remote-debugging-port=0", f"--user-data-dir={profile}", "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900", "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
        *flags, "about:blank",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
                break
            await asyncio.sleep(0.05)
        port = int(open(port_file).read().split("\n")[0])
        # The page target (about:blank) from the browser's target list.
        targets = []
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    targets = [t for t in json.loads(r.read()) if t["type"] == "page"]
            except OSError:
                pass
            if targets:
                break
            await asyncio.sleep(0.1)
        target = targets[0]
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as ws:
            page = Page(ws)
            pump = asyncio.ensure_future(page.pump())
            for domain in ("Runtime", "Log", "Page"):
                await page.call(f"{domain}.enable")
            await serve(page)
            pump.cancel()
    finally:
        browser.terminate()
        await browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve(page):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            if reader.at_eof():
                return
            continue
        if line == "stop":
            return
        cmd = json.loads(line)
        try:
            if "goto" in cmd:
                page.loaded.clear()
                await page.call("Page.navigate", url=cmd["goto"])
                await asyncio.wait_for(page.loaded.wait(), 20)
                reply({"ok": True})
            elif "wait" in cmd:
                deadline = loop.time() + float(cmd.get("timeout", 10))
                result = {}
                while loop.time() < deadline:
                    result = await page.evaluate(cmd["wait"])
                    if result.get("value"):
                        break
                    await asyncio.sleep(0.1)
                reply({"ok": bool(result.get("value")), **result})
            elif "eval" in cmd:
                reply(await page.evaluate(cmd["eval"]))
            elif "screenshot" in cmd:
                shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                with open(cmd["screenshot"], "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                reply({"ok": True})
            elif "errors" in cmd:
                reply({"errors": page.errors})
                if cmd.get("clear"):
                    page.errors = []
            elif "webm" in cmd:
                result = await page.evaluate(cmd["webm"])
                if "error" in result or not result.get("value"):
                    reply({"error": result.get("error", "no recording")})
                else:
                    reply({"seconds": webm_to_wav(base64.b64decode(result["value"]), cmd["wav"])})
            else:
                reply({"error": f"unknown command {sorted(cmd)}"})
        except Exception as e:  # the test reads the reason
            reply({"error": f"{type(e).__name__}: {e}"})


asyncio.run(main())
