#!/usr/bin/env python3
"""What the operator console costs the dispatcher and Redis while calls are live.

Starts Redis, a dispatcher, a supervisor and a worker on free loopback ports, places CALLS sim
calls that each write a turn every TURN_MS (so the console has something to follow), and measures
three windows of SECONDS each, in the same run:

  baseline     no console open
  calls page   one headless Chromium with the console's calls page open (live list)
  + 10 feeds   the same, plus ten more pages' worth of /v1/activity streams

For each: the dispatcher's CPU (share of one core, from /proc), and Redis commands per second
(`total_commands_processed`), with the ratio to the baseline. Figures, not pass/fail.

  .venv/bin/python scripts/bench-console.py [--calls 200] [--seconds 20] [--turn-ms 2000] [--out out/bench-console]"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--calls", type=int, default=200)
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--turn-ms", type=int, default=2000)
ap.add_argument("--siphon", default=os.environ.get("SIPHON_BIN", os.path.join(ROOT, ".build/release/siphon")))
ap.add_argument("--out", default=os.path.join(ROOT, "out/bench-console"))
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
TOKEN = "bench-console-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


procs = []


def start(cmd, log, env=None):
    p = subprocess.Popen(cmd, stdout=open(os.path.join(args.out, log), "w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def redis(*cmd):
    return subprocess.check_output(["redis-cli", "-p", str(redis_port), *cmd], text=True, stderr=subprocess.DEVNULL)


def api(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{api_port}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commands():
    for line in redis("INFO", "stats").splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    return 0


def window(name):
    c0, r0, t0 = cpu_seconds(dispatcher.pid), commands(), time.monotonic()
    time.sleep(args.seconds)
    c1, r1, t1 = cpu_seconds(dispatcher.pid), commands(), time.monotonic()
    active = sum(w["active"] for w in api("GET", "/v1/workers")["workers"])
    figure = {"window": name, "dispatcher_cpu_pct": 100 * (c1 - c0) / (t1 - t0), "redis_commands_per_s": (r1 - r0) / (t1 - t0), "active_calls": active}
    print(f"  {name:<12} dispatcher {figure['dispatcher_cpu_pct']:5.2f} % of a core · redis {figure['redis_commands_per_s']:7.1f} commands/s · {active} calls live",
          file=sys.stderr)
    return figure


redis_port, api_port = free_port(), free_port()
try:
    start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "redis.log")
    for _ in range(100):
        try:
            redis("PING")
            break
        except subprocess.CalledProcessError:
            time.sleep(0.05)
    url = f"redis://127.0.0.1:{redis_port}/0"
    common = ["--redis", url, "--env-file", "/nonexistent"]
    dispatcher = start([args.siphon, "dispatcher", "--host", "127.0.0.1", "--port", str(api_port), *common], "dispatcher.log", {"SIPHON_API_TOKEN": TOKEN})
    start([args.siphon, "supervisor", "--metrics-port", "0", *common], "supervisor.log")
    start([args.siphon, "worker", "--no-sip", "--metrics-port", "0", "--capacity", str(args.calls + 10), *common], "worker.log")
    for _ in range(200):
        try:
            if any(w["alive"] for w in api("GET", "/v1/workers")["workers"]):
                break
        except OSError:
            pass
        time.sleep(0.1)
    for i in range(args.calls):
        api("POST", "/v1/calls", {"agent": "Sim", "to": f"+1555010{i:04d}", "transport": "sim", "sim": {"turns": 10000, "interval_ms": args.turn_ms}})
    while sum(w["active"] for w in api("GET", "/v1/workers")["workers"]) < args.calls:
        time.sleep(0.2)
    time.sleep(2)
    print(f"console cost: {args.calls} live sim calls, a turn each every {args.turn_ms} ms; {args.seconds:.0f} s windows", file=sys.stderr)
    figures = [window("baseline")]

    browser = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Peers/console_browser.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def drive(cmd):
        browser.stdin.write(json.dumps(cmd) + "\n")
        browser.stdin.flush()
        return json.loads(browser.stdout.readline())

    drive({"goto": f"http://127.0.0.1:{api_port}/"})
    drive({"eval": f"document.getElementById('token').value = {json.dumps(TOKEN)}; document.getElementById('signin').requestSubmit(); 1"})
    drive({"wait": f"document.querySelectorAll('#calls-body tr').length >= {args.calls}", "timeout": 20})
    figures.append(window("calls page"))
    rows = drive({"eval": "document.querySelectorAll('#calls-body tr').length"}).get("value")
    drive({"screenshot": os.path.join(args.out, "calls-200.png")})

    feeds = [subprocess.Popen(["curl", "-sN", "-H", f"Authorization: Bearer {TOKEN}", f"http://127.0.0.1:{api_port}/v1/activity"],
                              stdout=subprocess.DEVNULL) for _ in range(10)]
    figures.append(window("+ 10 feeds"))
    for f in feeds:
        f.terminate()
    browser.stdin.write("stop\n")
    browser.stdin.flush()
    browser.wait(20)

    base = figures[0]
    for f in figures[1:]:
        f["dispatcher_cpu_over_baseline_pct"] = f["dispatcher_cpu_pct"] - base["dispatcher_cpu_pct"]
        f["redis_commands_ratio"] = f["redis_commands_per_s"] / max(1, base["redis_commands_per_s"])
        print(f"  {f['window']:<12} vs baseline: dispatcher +{f['dispatcher_cpu_over_baseline_pct']:.2f} points of a core, "
              f"redis commands x{f['redis_commands_ratio']:.3f}", file=sys.stderr)
    print(f"  the calls page showed {rows} rows", file=sys.stderr)
    json.dump({"calls": args.calls, "turn_ms": args.turn_ms, "seconds": args.seconds, "windows": figures}, open(os.path.join(args.out, "console-cost.json"), "w"), indent=2)
finally:
    stop_all()
