#!/usr/bin/env python3
"""Validates the deployment files: the Compose files against the Compose Specification schema
(Tests/Fixtures/compose-spec.json) plus Siphon's own rules, the Kubernetes manifests against the
Kubernetes OpenAPI schemas (kubernetes-validate, strict), and the LiveKit configs as YAML.
Prints one line per problem; exit status 1 if there is any. Usage: validate-deploy.py [ROOT]"""
import glob, json, os, subprocess, sys

import jsonschema
import yaml

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
problems = []


def load(path):
    with open(os.path.join(root, path)) as f:
        return yaml.safe_load(f)


schema = json.load(open(os.path.join(root, "Tests/Fixtures/compose-spec.json")))
validator = jsonschema.Draft7Validator(schema)
for path in ["docker-compose.yml", "deploy/compose.direct-sip.yml"]:
    doc = load(path)
    for e in validator.iter_errors(doc):
        problems.append(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")

compose = load("docker-compose.yml")
services = compose.get("services", {})
for name in ["redis", "livekit", "livekit-sip", "dispatcher", "supervisor", "worker"]:
    if name not in services:
        problems.append(f"docker-compose.yml: service {name} is missing")
for name, s in services.items():
    if "healthcheck" not in s:
        problems.append(f"docker-compose.yml: {name} has no healthcheck")
    if s.get("restart") not in ("unless-stopped", "always"):
        problems.append(f"docker-compose.yml: {name} has no restart policy")
    if "limits" not in s.get("deploy", {}).get("resources", {}):
        problems.append(f"docker-compose.yml: {name} has no resource limits")
worker = services.get("worker", {})
if "replicas" not in worker.get("deploy", {}):
    problems.append("docker-compose.yml: worker needs deploy.replicas (so --scale worker=N works)")
if any(":" in str(p).split("/")[0] and str(p).split(":")[0].isdigit() for p in worker.get("ports", [])):
    problems.append("docker-compose.yml: a scaled worker cannot publish fixed host ports")
if "--appendonly" not in services.get("redis", {}).get("command", []):
    problems.append("docker-compose.yml: redis must run with AOF (--appendonly yes)")
if "redis-data" not in (compose.get("volumes") or {}):
    problems.append("docker-compose.yml: redis needs a persistent volume")
for name in ["livekit", "livekit-sip"]:
    ports = services.get(name, {}).get("ports", [])
    if not any("-" in str(p) and "/udp" in str(p) for p in ports):
        problems.append(f"docker-compose.yml: {name} needs an explicit UDP media port range")

lk = load("deploy/livekit.yaml")
if not (lk.get("rtc", {}).get("port_range_start") and lk.get("rtc", {}).get("port_range_end")):
    problems.append("deploy/livekit.yaml: rtc.port_range_start/end are required")
if "keys" in lk:
    problems.append("deploy/livekit.yaml: keys belong in LIVEKIT_KEYS (.env), not in the file")
sip = load("deploy/sip.yaml")
for key in ["sip_port", "rtp_port", "redis"]:
    if key not in sip:
        problems.append(f"deploy/sip.yaml: {key} is required")
for key in ["api_key", "api_secret"]:
    if key in sip:
        problems.append(f"deploy/sip.yaml: {key} belongs in the environment, not in the file")

manifests = sorted(glob.glob(os.path.join(root, "deploy/k8s/*.yaml")))
kv = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
r = subprocess.run([kv, "--strict", "--quiet", *manifests], capture_output=True, text=True)
if r.returncode != 0:
    problems += [f"kubernetes: {line}" for line in (r.stdout + r.stderr).splitlines() if line.strip()]
kinds = set()
for m in manifests:
    for doc in yaml.safe_load_all(open(m)):
        if doc:
            kinds.add((doc["kind"], doc["metadata"]["name"]))
for need in [("Deployment", "siphon-dispatcher"), ("Deployment", "siphon-supervisor"), ("Deployment", "siphon-worker"),
             ("HorizontalPodAutoscaler", "siphon-worker")]:
    if need not in kinds:
        problems.append(f"deploy/k8s: {need[0]} {need[1]} is missing")

for p in problems:
    print(p)
print(f"{len(problems)} problems" if problems else "deployment files valid")
sys.exit(1 if problems else 0)
