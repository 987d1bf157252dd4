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

Media (livekit_sfu.py): `/rtc` signalling with aiortc peer connections; the phone of a SIP call
plays what POST /_test/phone sets — {"play": WAV} or {"lines": ["text", "@2.5 text over the agent"]}
like `siphon caller` — and records what it hears ({"record": path with {room}}). With {"clock": "answer"} a
played WAV runs on the call's clock, as a real phone's voice does: silence until the answer, then the WAV
from its start, whoever listens late missing its beginning (GET /_test/events: `phone_listened`,
before_answer or late_ms).

SIP calls: CreateSIPParticipant puts the phone in the room with sip.callStatus dialing, ringing
after 0.3 s, active after 0.8 s (wait_until_answered answers then). Numbers ending in 0486, 0480,
0408, 0403 and 0503 fail with that SIP status; 0000 rings out (`canceled` "sip request timed out",
no SIP status, after ringing_timeout, at most 5 s) and 0999 is a trunk that never answers. Test hooks: GET /_test/requests (every parsed
request with the grants it came with), GET /_test/failures, POST /_test/hangup {"room": R}
(the phone hangs up), POST /_test/drop {"identity": I} (drops that participant's signalling
WebSocket), POST /_test/signalling {"v1": bool, "audio_sections": N} (serve /rtc/v1), POST /_test/ice {"servers": [{"urls": […], "username", "credential"}]} (what joins
advertise), POST /_test/dtmf {"room", "digits"} (the phone presses keys: sip_dtmf data packets),
GET /_test/events (joins, replacements, resumes), GET /_test/data (what participants published:
sip_dtmf, lk.transcription text streams); POST /_test/inbound {"number", "caller"} (a call arrives:
room and SIP participant by the dispatch rule, its agents dispatched over /agent — livekit_sfu's
AgentWorkers), GET /_test/agent_jobs, GET /_test/agent_workers.

Usage: livekit_server.py PORT API_KEY API_SECRET"""
import asyncio
import base64
import json
import logging
import re
import sys
import threading
import time
import uuid

from aiohttp import web
from google.protobuf import json_format
from livekit.api import TokenVerifier
from livekit.protocol import agent_dispatch, models, room, sip

from livekit_sfu import SFU, AgentWorkers

port, key, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
verifier = TokenVerifier(key, secret)
lock = threading.Lock()
outbound, inbound, rules, rooms, dispatches = {}, {}, {}, {}, {}
participants = {}  # room -> {identity: dict(info=ParticipantInfo, started=t, status=...)}
log, failures, hangups = [], [], []
media_effects = []  # (what, room) for the asyncio side: phones hanging up, rooms closing

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
        media_effects.append(("hangup", req.room_name))
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
        media_effects.append(("close", req.room))
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


def phone_info(room_name):
    """The SIP participant of a room while its call is up (for joins and the phone's media)."""
    with lock:
        for p in participants.get(room_name, {}).values():
            if p["info"].kind == models.ParticipantInfo.Kind.SIP and phone_status(p) != "hangup":
                info = models.ParticipantInfo()
                info.CopyFrom(p["info"])
                info.attributes["sip.callStatus"] = phone_status(p)
                return info
    return None


def mint_refreshed(identity, room_name):
    from livekit.api import AccessToken, VideoGrants
    return (AccessToken(key, secret).with_identity(identity).with_kind("agent").with_metadata("refreshed")
            .with_grants(VideoGrants(room_join=True, room=room_name, can_publish=True, can_subscribe=True, can_publish_data=True)).to_jwt())


def answer_time(room_name):
    """When the room's SIP call was answered (its status turned active), or None."""
    with lock:
        for p in participants.get(room_name, {}).values():
            if p["info"].kind == models.ParticipantInfo.Kind.SIP and time.time() - p["started"] >= 0.8:
                return p["started"] + 0.8
    return None


sfu = SFU(verifier, phone_info, mint_refreshed, answer_time)
agents = AgentWorkers(verifier, key, secret)


def inbound_call(number, caller):
    """A call arriving at LiveKit SIP on `number`: the dispatch rule of its inbound trunk picks the
    room (individual: prefix_caller_random) and the agents to dispatch (room_config.agents)."""
    with lock:
        trunks = [t.sip_trunk_id for t in inbound.values() if number in t.numbers]
        rule = next((r for r in rules.values() if set(r.trunk_ids) & set(trunks) or number in r.numbers), None)
        if rule is None:
            raise TwirpError("not_found", "no dispatch rule for the number")
        kind = rule.rule.WhichOneof("rule")
        prefix = getattr(rule.rule, kind).room_prefix if kind != "dispatch_rule_direct" else ""
        room_name = rule.rule.dispatch_rule_direct.room_name if kind == "dispatch_rule_direct" else f"{prefix}_{caller}_{uuid.uuid4().hex[:6]}"
        rooms[room_name] = models.Room(sid=new_id("RM_"), name=room_name, creation_time=int(time.time()))
        info = models.ParticipantInfo(sid=new_id("PA_"), identity="sip_" + caller, name="Phone " + caller,
                                      kind=models.ParticipantInfo.Kind.SIP, state=models.ParticipantInfo.State.ACTIVE)
        info.attributes.update({"sip.phoneNumber": caller, "sip.trunkPhoneNumber": number, "sip.trunkID": trunks[0] if trunks else "",
                                "sip.ruleID": rule.sip_dispatch_rule_id, "sip.callID": new_id("SCL_")})
        participants.setdefault(room_name, {})[info.identity] = {"info": info, "started": time.time() - 1}
        return room_name, [a.agent_name for a in rule.room_config.agents]


def reply(status, body):
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


def twirp_error(e):
    return reply(HTTP_STATUS.get(e.code, 500), {"code": e.code, "msg": e.msg, "meta": e.meta} if e.meta else {"code": e.code, "msg": e.msg})


def twirp(service, method, body, headers):
    """One Twirp call (in a worker thread: the handlers sleep to look like a real server)."""
    cls = REQUESTS.get(service, {}).get(method)
    if cls is None:
        raise TwirpError("bad_route", f"no handler for path /twirp/livekit.{service}/{method}")
    # Twirp takes JSON (what Siphon sends) or binary protobuf (what livekit-api sends) and answers
    # in the same encoding.
    encoding = headers.get("Content-Type", "").split(";")[0]
    if encoding not in ("application/json", "application/protobuf"):
        raise TwirpError("bad_route", "unexpected Content-Type")
    try:
        if encoding == "application/json":
            req = json_format.Parse(body.decode(), cls(), ignore_unknown_fields=False)
        else:
            req = cls.FromString(body)
    except Exception as e:
        with lock:
            failures.append({"method": method, "error": str(e), "body": body.decode(errors="replace")})
        raise TwirpError("malformed", f"the {'json' if encoding == 'application/json' else 'protobuf'} request could not be decoded: {e}")
    auth = headers.get("Authorization", "")
    try:
        claims = verifier.verify(auth.removeprefix("Bearer "))
    except Exception as e:
        raise TwirpError("unauthenticated", str(e))
    with lock:
        log.append({"method": f"{service}/{method}", "request": json_format.MessageToDict(req, preserving_proto_field_name=True),
                    "grants": grants_of(auth.removeprefix("Bearer ")), "timeout_ms": headers.get("X-Twirp-Timeout-Ms")})
    need(claims, method, req)
    resp = handle(method, req)
    if encoding == "application/protobuf":
        return resp.SerializeToString(), encoding
    return json_format.MessageToJson(resp, preserving_proto_field_name=True, always_print_fields_with_no_presence=True).encode(), encoding


async def apply_media_effects():
    while True:
        with lock:
            effects = list(media_effects)
            media_effects.clear()
        for what, room_name in effects:
            if what == "hangup":
                await sfu.hang_up_phone(room_name)
            elif what == "close":
                await sfu.close_room(room_name)
        await asyncio.sleep(0.05)


async def post_twirp(request):
    service, method = request.match_info["service"], request.match_info["method"]
    body = await request.read()
    try:
        data, encoding = await asyncio.get_running_loop().run_in_executor(None, twirp, service, method, body, dict(request.headers))
    except TwirpError as e:
        return twirp_error(e)
    return web.Response(status=200, body=data, content_type=encoding)


async def test_get(request):
    what = request.match_info["what"]
    with lock:
        table = {"requests": log, "failures": failures, "hangups": hangups}
        if what in table:
            return reply(200, table[what])
    if what == "events":
        return reply(200, sfu.events)
    if what == "data":
        return reply(200, sfu.data)
    if what == "agent_jobs":
        return reply(200, agents.jobs)
    if what == "agent_workers":
        return reply(200, [{"agent_name": w["agent_name"], "id": w["id"], "load": w["load"]} for w in agents.workers])
    return reply(200, {"ok": True})


async def test_post(request):
    what = request.match_info["what"]
    body = await request.json()
    if what == "hangup":
        sfu.phone_info(body["room"])  # remembered, so the update can name the phone after it left
        with lock:
            for p in participants.get(body["room"], {}).values():
                p["hungup"] = True
        await sfu.hang_up_phone(body["room"])
    elif what == "phone":
        sfu.phone_media = {k: body.get(k) for k in ("play", "lines", "record", "clock")}
    elif what == "drop":
        await sfu.drop_signalling(body["identity"])
    elif what == "signalling":
        sfu.v1 = bool(body.get("v1"))
        sfu.audio_sections = int(body.get("audio_sections", 1))
    elif what == "ice":
        sfu.ice_servers = body.get("servers", [])
    elif what == "dtmf":
        await sfu.send_dtmf(body["room"], body["digits"])
    elif what == "junk":
        await sfu.junk(body["identity"], body.get("count", 200))
    elif what == "inbound":
        try:
            room_name, names = inbound_call(body["number"], body["caller"])
        except TwirpError as e:
            return twirp_error(e)
        dispatched = [await agents.dispatch(room_name, n) for n in names]
        return reply(200, {"room": room_name, "jobs": dispatched})
    return reply(200, {})


async def ok(request):
    return web.Response(status=200, text="success")


async def start_background(app):
    app["effects"] = asyncio.ensure_future(apply_media_effects())


logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
app = web.Application(client_max_size=4 << 20)
app.router.add_post("/twirp/livekit.{service}/{method}", post_twirp)
app.router.add_get("/_test/{what}", test_get)
app.router.add_post("/_test/{what}", test_post)
app.router.add_get("/rtc", sfu.rtc)
app.router.add_get("/rtc/v1", sfu.rtc_v1)  # 404 (clients fall back to v0) unless /_test/signalling turns it on
app.router.add_get("/rtc/validate", ok)
app.router.add_get("/agent", agents.ws)
app.router.add_get("/", ok)
app.on_startup.append(start_background)
web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
