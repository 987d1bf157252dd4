#!/usr/bin/env python3
"""A stand-in for livekit-server's Twirp API (SIP, RoomService, AgentDispatchService), strict where
the real one is and shaped like it on the wire:

- every request body is parsed into the official protobuf message from `livekit-protocol` with
  unknown fields rejected; a body that does not parse is answered `malformed` and counted as a
  wire failure (GET /_test/failures);
- every token is checked with livekit-api's TokenVerifier and the grant each method needs
  (livekit-server auth.go, sip.go, roomservice.go); a missing grant is `unauthenticated`
  "permissions denied", as the server says;
- replies are protojson with snake_case names and defaults included; errors are twirp bodies
  {"code","msg","meta"} with the HTTP status twirp v8 gives each code, and a failed INVITE carries
  meta.sip_status_code / sip_status.

SIP calls: CreateSIPParticipant puts the phone in the room with sip.callStatus dialing, ringing
after 0.3 s, active after 0.8 s (wait_until_answered answers then). Numbers ending in 0486, 0480,
0408, 0403 and 0503 fail with that SIP status; 0000 rings out (`canceled` "sip request timed out",
no SIP status, after ringing_timeout, at most 5 s) and 0999 is a trunk that never answers. Test hooks: GET /_test/requests (every parsed
request with the grants it came with), GET /_test/failures, POST /_test/hangup {"room": R}
(the phone hangs up).

Usage: livekit_server.py PORT API_KEY API_SECRET"""
import base64
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from livekit.api import TokenVerifier
from livekit.protocol import agent_dispatch, models, room, sip

port, key, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
verifier = TokenVerifier(key, secret)
lock = threading.Lock()
outbound, inbound, rules, rooms, dispatches = {}, {}, {}, {}, {}
participants = {}  # room -> {identity: dict(info=ParticipantInfo, started=t, status=...)}
log, failures, hangups = [], [], []

HTTP_STATUS = {"invalid_argument": 400, "malformed": 400, "out_of_range": 400, "unauthenticated": 401,
               "permission_denied": 403, "resource_exhausted": 429, "not_found": 404, "bad_route": 404,
               "canceled": 408, "deadline_exceeded": 408, "already_exists": 409, "aborted": 409,
               "failed_precondition": 412, "internal": 500, "unknown": 500, "unimplemented": 501, "unavailable": 503}
SIP_FAILURES = {"0486": ("resource_exhausted", 486, "Busy Here"), "0480": ("resource_exhausted", 480, "Temporarily Unavailable"),
                "0408": ("deadline_exceeded", 408, "Request Timeout"), "0403": ("permission_denied", 403, "Forbidden"),
                "0503": ("failed_precondition", 503, "Service Unavailable")}


class TwirpError(Exception):
    def __init__(self, code, msg, meta=None):
        super().__init__(msg)
        self.code, self.msg, self.meta = code, msg, meta or {}


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:12]


def need(claims, method, req):
    """The grant each method needs (livekit-server); raises unauthenticated like the server."""
    video, sipg = claims.video, claims.sip
    room_of = getattr(req, "room", "") or getattr(req, "room_name", "")
    ok = False
    if method in ("CreateRoom", "DeleteRoom"):
        ok = bool(video and video.room_create)
    elif method == "ListRooms":
        ok = bool(video and video.room_list)
    elif method in ("ListParticipants", "RemoveParticipant", "GetParticipant", "CreateDispatch", "ListDispatch", "DeleteDispatch"):
        ok = bool(video and video.room_admin and video.room and video.room == room_of)
    elif method == "CreateSIPParticipant":
        ok = bool(sipg and sipg.call)
    elif method == "TransferSIPParticipant":
        ok = bool(sipg and sipg.call and video and video.room_admin and video.room == room_of)
    else:
        ok = bool(sipg and sipg.admin)
    if not ok:
        raise TwirpError("unauthenticated", "permissions denied")


def phone_status(p):
    if p.get("hungup"):
        return "hangup"
    age = time.time() - p["started"]
    return "active" if age >= 0.8 else "ringing" if age >= 0.3 else "dialing"


def list_page(items, page, id_field):
    items = sorted(items, key=lambda m: getattr(m, id_field))
    if page.after_id:
        items = [m for m in items if getattr(m, id_field) > page.after_id]
    return items[: page.limit] if page.limit else items


def handle(method, req):
    now = int(time.time())
    if method == "CreateSIPOutboundTrunk":
        if req.trunk.sip_trunk_id:
            raise TwirpError("invalid_argument", "trunk ID must be empty")
        if not req.trunk.address or not req.trunk.numbers:
            raise TwirpError("invalid_argument", "address and numbers are required")
        time.sleep(0.05)  # a real server takes a while: races between workers show
        t = sip.SIPOutboundTrunkInfo()
        t.CopyFrom(req.trunk)
        t.sip_trunk_id = new_id("ST_")
        t.created_at.FromSeconds(now)
        with lock:
            outbound[t.sip_trunk_id] = t
        return t
    if method == "ListSIPOutboundTrunk" or method == "ListSIPInboundTrunk":
        store = outbound if method == "ListSIPOutboundTrunk" else inbound
        with lock:
            items = [t for t in store.values() if not req.numbers or set(req.numbers) & set(t.numbers)]
            items = [t for t in items if not req.trunk_ids or t.sip_trunk_id in req.trunk_ids]
        cls = sip.ListSIPOutboundTrunkResponse if store is outbound else sip.ListSIPInboundTrunkResponse
        return cls(items=list_page(items, req.page, "sip_trunk_id"))
    if method == "CreateSIPInboundTrunk":
        if not req.trunk.allowed_addresses and not (req.trunk.auth_username and req.trunk.auth_password):
            pass  # the server allows an open trunk; Siphon must never send one (the test checks)
        t = sip.SIPInboundTrunkInfo()
        t.CopyFrom(req.trunk)
        t.sip_trunk_id = new_id("ST_")
        with lock:
            inbound[t.sip_trunk_id] = t
        return t
    if method == "UpdateSIPInboundTrunk":
        with lock:
            if req.sip_trunk_id not in inbound:
                raise TwirpError("not_found", "requested SIP trunk does not exist")
            t = sip.SIPInboundTrunkInfo()
            t.CopyFrom(req.replace)
            t.sip_trunk_id = req.sip_trunk_id
            inbound[t.sip_trunk_id] = t
        return t
    if method == "DeleteSIPTrunk":
        with lock:
            t = outbound.pop(req.sip_trunk_id, None) or inbound.pop(req.sip_trunk_id, None)
        if t is None:
            raise TwirpError("not_found", "requested SIP trunk does not exist")
        return sip.SIPTrunkInfo(sip_trunk_id=req.sip_trunk_id)
    if method == "CreateSIPDispatchRule":
        r = sip.SIPDispatchRuleInfo()
        r.CopyFrom(req.dispatch_rule)
        if not r.rule.WhichOneof("rule"):
            raise TwirpError("invalid_argument", "dispatch rule is required")
        r.sip_dispatch_rule_id = new_id("SDR_")
        with lock:
            rules[r.sip_dispatch_rule_id] = r
        return r
    if method == "ListSIPDispatchRule":
        with lock:
            items = [r for r in rules.values() if not req.trunk_ids or set(req.trunk_ids) & set(r.trunk_ids)]
        return sip.ListSIPDispatchRuleResponse(items=list_page(items, req.page, "sip_dispatch_rule_id"))
    if method == "DeleteSIPDispatchRule":
        with lock:
            r = rules.pop(req.sip_dispatch_rule_id, None)
        if r is None:
            raise TwirpError("not_found", "requested SIP dispatch rule does not exist")
        return r
    if method == "CreateSIPParticipant":
        if not (req.sip_trunk_id or req.HasField("trunk") or req.sip_number):
            raise TwirpError("invalid_argument", "missing sip trunk id")
        if not req.sip_call_to or "@" in req.sip_call_to:
            raise TwirpError("invalid_argument", "call-to number must be set and must not contain '@'")
        if not req.room_name:
            raise TwirpError("invalid_argument", "missing room name")
        with lock:
            if req.sip_trunk_id and req.sip_trunk_id not in outbound:
                raise TwirpError("not_found", "requested SIP trunk does not exist")
        # Failures LiveKit SIP reports without a SIP status (livekit/sip pkg/sip/errors.go): a phone
        # that rings out (the ring timeout) and a trunk that never answers the INVITE.
        if req.sip_call_to.endswith("0000"):
            ring = req.ringing_timeout.ToTimedelta().total_seconds() or 30
            time.sleep(min(ring, 5))
            raise TwirpError("canceled", "sip request timed out")
        if req.sip_call_to.endswith("0999"):
            time.sleep(0.2)
            raise TwirpError("canceled", "transaction failed to complete (0 intermediate responses)")
        for suffix, (code, status, reason) in SIP_FAILURES.items():
            if req.sip_call_to.endswith(suffix):
                time.sleep(0.3)
                raise TwirpError(code, f"INVITE failed: sip status: {status}: {reason}",
                                 {"sip_status_code": str(status), "sip_status": reason})
        identity = req.participant_identity or "sip_" + req.sip_call_to
        call_id = new_id("SCL_")
        info = models.ParticipantInfo(sid=new_id("PA_"), identity=identity, name=req.participant_name,
                                      kind=models.ParticipantInfo.Kind.SIP, state=models.ParticipantInfo.State.ACTIVE)
        for k, v in req.participant_attributes.items():
            info.attributes[k] = v
        info.attributes["sip.callID"] = call_id
        info.attributes["sip.trunkID"] = req.sip_trunk_id
        info.attributes["sip.phoneNumber"] = req.sip_call_to
        with lock:
            if req.room_name not in rooms:
                rooms[req.room_name] = models.Room(sid=new_id("RM_"), name=req.room_name, creation_time=now)
            participants.setdefault(req.room_name, {})[identity] = {"info": info, "started": time.time()}
        if req.wait_until_answered:
            time.sleep(0.85)
        return sip.SIPParticipantInfo(participant_id=info.sid, participant_identity=identity, room_name=req.room_name, sip_call_id=call_id)
    if method == "TransferSIPParticipant":
        if not req.transfer_to.startswith(("sip:", "sips:", "tel:")):
            raise TwirpError("invalid_argument", "transfer_to must start with sip:, sips: or tel:")
        with lock:
            p = participants.get(req.room_name, {}).get(req.participant_identity)
            if p is None:
                raise TwirpError("not_found", "participant not found")
            p["hungup"] = True
        return sip.TransferSIPParticipantResponse(transfer_id=new_id("TR_"))
    if method == "CreateRoom":
        with lock:
            r = rooms.get(req.name)
            if r is None:
                r = models.Room(sid=new_id("RM_"), name=req.name, empty_timeout=req.empty_timeout, departure_timeout=req.departure_timeout,
                                max_participants=req.max_participants, metadata=req.metadata, creation_time=now)
                rooms[req.name] = r
        return r
    if method == "ListRooms":
        with lock:
            return room.ListRoomsResponse(rooms=[r for n, r in rooms.items() if not req.names or n in req.names])
    if method == "DeleteRoom":
        with lock:
            if rooms.pop(req.room, None) is None:
                raise TwirpError("not_found", "requested room does not exist")
            for identity in participants.pop(req.room, {}):
                hangups.append({"room": req.room, "identity": identity, "by": "DeleteRoom"})
        return room.DeleteRoomResponse()
    if method == "ListParticipants":
        with lock:
            if req.room not in rooms:
                raise TwirpError("not_found", "requested room does not exist")
            out = []
            for identity, p in list(participants.get(req.room, {}).items()):
                status = phone_status(p)
                if status == "hangup":
                    del participants[req.room][identity]
                    continue
                info = models.ParticipantInfo()
                info.CopyFrom(p["info"])
                info.attributes["sip.callStatus"] = status
                out.append(info)
        return room.ListParticipantsResponse(participants=out)
    if method == "RemoveParticipant":
        with lock:
            if participants.get(req.room, {}).pop(req.identity, None) is None:
                raise TwirpError("not_found", "participant not found")
            hangups.append({"room": req.room, "identity": req.identity, "by": "RemoveParticipant"})
        return room.RemoveParticipantResponse()
    if method == "CreateDispatch":
        d = agent_dispatch.AgentDispatch(id=new_id("AD_"), agent_name=req.agent_name, room=req.room, metadata=req.metadata)
        with lock:
            dispatches[d.id] = d
        return d
    if method == "ListDispatch":
        with lock:
            return agent_dispatch.ListAgentDispatchResponse(agent_dispatches=[d for d in dispatches.values() if d.room == req.room])
    if method == "DeleteDispatch":
        with lock:
            d = dispatches.pop(req.dispatch_id, None)
        if d is None:
            raise TwirpError("not_found", "dispatch not found")
        return d
    raise TwirpError("bad_route", "no handler for " + method)


REQUESTS = {
    "SIP": {"CreateSIPOutboundTrunk": sip.CreateSIPOutboundTrunkRequest, "ListSIPOutboundTrunk": sip.ListSIPOutboundTrunkRequest,
            "CreateSIPInboundTrunk": sip.CreateSIPInboundTrunkRequest, "UpdateSIPInboundTrunk": sip.UpdateSIPInboundTrunkRequest,
            "ListSIPInboundTrunk": sip.ListSIPInboundTrunkRequest, "DeleteSIPTrunk": sip.DeleteSIPTrunkRequest,
            "CreateSIPDispatchRule": sip.CreateSIPDispatchRuleRequest, "ListSIPDispatchRule": sip.ListSIPDispatchRuleRequest,
            "DeleteSIPDispatchRule": sip.DeleteSIPDispatchRuleRequest, "CreateSIPParticipant": sip.CreateSIPParticipantRequest,
            "TransferSIPParticipant": sip.TransferSIPParticipantRequest},
    "RoomService": {"CreateRoom": room.CreateRoomRequest, "ListRooms": room.ListRoomsRequest, "DeleteRoom": room.DeleteRoomRequest,
                    "ListParticipants": room.ListParticipantsRequest, "RemoveParticipant": room.RoomParticipantIdentity},
    "AgentDispatchService": {"CreateDispatch": agent_dispatch.CreateAgentDispatchRequest,
                             "ListDispatch": agent_dispatch.ListAgentDispatchRequest,
                             "DeleteDispatch": agent_dispatch.DeleteAgentDispatchRequest},
}


def grants_of(token):
    """The grants exactly as the token carries them (livekit-api's Claims fill in defaults such as
    can_publish=True, which would hide what was really granted), keys in snake_case."""
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    snake = lambda k: re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k)
    return {g: {snake(k): v for k, v in payload[g].items() if v not in (None, "", False, [])} for g in ("video", "sip") if g in payload}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with lock:
            if self.path == "/_test/requests":
                return self.reply(200, log)
            if self.path == "/_test/failures":
                return self.reply(200, failures)
            if self.path == "/_test/hangups":
                return self.reply(200, hangups)
        self.reply(200, {"ok": True})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/_test/hangup":
            target = json.loads(body)
            with lock:
                for p in participants.get(target["room"], {}).values():
                    p["hungup"] = True
            return self.reply(200, {})
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "twirp" or not parts[2].startswith("livekit."):
            return self.error(TwirpError("bad_route", "no handler for path " + self.path))
        service, method = parts[2][len("livekit."):], parts[3]
        cls = REQUESTS.get(service, {}).get(method)
        if cls is None:
            return self.error(TwirpError("bad_route", f"no handler for path {self.path}"))
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.error(TwirpError("bad_route", "unexpected Content-Type"))
        try:
            req = json_format.Parse(body.decode(), cls(), ignore_unknown_fields=False)
        except Exception as e:
            with lock:
                failures.append({"method": method, "error": str(e), "body": body.decode(errors="replace")})
            return self.error(TwirpError("malformed", f"the json request could not be decoded: {e}"))
        auth = self.headers.get("Authorization", "")
        try:
            claims = verifier.verify(auth.removeprefix("Bearer "))
        except Exception as e:
            return self.error(TwirpError("unauthenticated", str(e)))
        with lock:
            log.append({"method": f"{service}/{method}", "request": json_format.MessageToDict(req, preserving_proto_field_name=True),
                        "grants": grants_of(auth.removeprefix("Bearer ")), "timeout_ms": self.headers.get("X-Twirp-Timeout-Ms")})
        try:
            need(claims, method, req)
            resp = handle(method, req)
        except TwirpError as e:
            return self.error(e)
        data = json_format.MessageToJson(resp, preserving_proto_field_name=True, always_print_fields_with_no_presence=True).encode()
        self.send(200, data)

    def error(self, e):
        self.reply(HTTP_STATUS.get(e.code, 500), {"code": e.code, "msg": e.msg, "meta": e.meta} if e.meta else {"code": e.code, "msg": e.msg})

    def reply(self, status, body):
        self.send(status, json.dumps(body).encode())

    def send(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
