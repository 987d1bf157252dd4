#!/usr/bin/env python3
"""Cross-checks LiveKit access tokens with the official livekit-api package.

  livekit_tokens.py verify KEY SECRET   < tokens, one per line → one JSON object of claims per line
                                          ({"error": "..."} for a token TokenVerifier refuses)
  livekit_tokens.py mint KEY SECRET     → tokens minted by livekit-api's AccessToken, one per line,
                                          each preceded by the JSON of what it grants"""
import json
import sys
from datetime import timedelta

from livekit.api import AccessToken, SIPGrants, TokenVerifier, VideoGrants

mode, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]


def claims_json(c):
    out = {"identity": c.identity, "name": c.name, "metadata": c.metadata, "kind": c.kind, "attributes": c.attributes or {}}
    if c.video:
        out["video"] = {k: v for k, v in vars(c.video).items() if v is not None}
    if c.sip:
        out["sip"] = {k: v for k, v in vars(c.sip).items() if v is not None}
    return out


if mode == "verify":
    verifier = TokenVerifier(key, secret)
    for line in sys.stdin:
        try:
            print(json.dumps(claims_json(verifier.verify(line.strip()))), flush=True)
        except Exception as e:
            print(json.dumps({"error": str(e)}), flush=True)
elif mode == "mint":
    cases = [
        ("agent-1", "Agent", "agent", VideoGrants(room_join=True, room="call-1", can_publish=True, can_subscribe=True,
                                                  can_publish_data=True, agent=True), None),
        ("", "", "", VideoGrants(room_create=True, can_publish=False, can_subscribe=False, can_publish_data=False), None),
        ("ops", "", "", None, SIPGrants(admin=True, call=False)),
        ("dialer", "", "", VideoGrants(room_admin=True, room="call-2"), SIPGrants(call=True)),
    ]
    for identity, name, kind, video, sip in cases:
        t = AccessToken(key, secret).with_ttl(timedelta(minutes=10))
        if identity:
            t = t.with_identity(identity)
        if name:
            t = t.with_name(name)
        if kind:
            t = t.with_kind(kind)
        if video:
            t = t.with_grants(video)
        if sip:
            t = t.with_sip_grants(sip)
        t = t.with_attributes({"siphon.test": "1"})
        print(json.dumps({"identity": identity, "name": name, "kind": kind,
                          "video": {k: v for k, v in vars(video).items() if v is not None} if video else None,
                          "sip": vars(sip) if sip else None}))
        print(t.to_jwt(), flush=True)
