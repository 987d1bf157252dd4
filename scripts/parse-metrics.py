#!/usr/bin/env python3
"""Parses Prometheus text exposition (stdin) with prometheus_client's parser, the reference one.
Prints {"<sample name>": [[{labels}, value], ...]} as JSON; exit status 1 on a parse error."""
import json, sys

from prometheus_client.parser import text_string_to_metric_families

out = {}
try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        for s in family.samples:
            out.setdefault(s.name, []).append([s.labels, s.value])
except Exception as e:  # the parser raises ValueError and friends on malformed input
    print(f"parse error: {e}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(out))
