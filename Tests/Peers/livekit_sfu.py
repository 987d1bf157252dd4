"""The media half of the LiveKit stand-in: `/rtc` (protocol v0 signalling, livekit-protocol
messages in binary WebSocket frames) with aiortc as the server-side peer connections, and the
phone of each SIP call as a participant that plays a caller script and records what it hears.

What it does as livekit-server does (L = livekit/livekit, P = livekit/protocol):
- the first frame is the binary JoinResponse; subscriber_primary; ping_interval 5 s, pong_resp;
- the server offers the SUBSCRIBER connection at once (with a data channel, so m=application),
  carrying the tracks the participant may subscribe to (auto_subscribe);
- add_track is answered with track_published at once; the participant then offers the PUBLISHER
  connection and gets the answer;
- trickle both ways as JSON candidateInit with a target; aiortc does not trickle, so its
  candidates are in its SDP;
- a second join with the same identity replaces the first (leave DUPLICATE_IDENTITY);
- reconnect=1&sid= resumes the session on a new WebSocket (ReconnectResponse);
- a phone that hangs up is a ParticipantUpdate with the phone DISCONNECTED;
- /rtc/v1 answers 404 (a server before 1.9.10), so clients fall back to v0 (J SignalClient.ts),
  unless POST /_test/signalling {"v1": true} turns it on: then `join_request` (base64url
  WrappedJoinRequest, plain or gzip) is the join — the other query parameters are not read — and
  one peer connection, offered by the client, carries everything (L rtcservice.go, participant.go):
  the client's receive-only audio sections take the room's tracks, `media_sections_requirement`
  asks for more (as many as are missing, added to what was offered; {"audio_sections": N} sets how
  many the room needs), the answer's `mid_to_track_id` names the phone's track, and the room's
  data (sip_dtmf) goes over the client's `_reliable` channel.
"""
import asyncio
import base64
import fractions
import gzip
import json
import os
import time
import uuid

import aioice.ice
from aiohttp import web, WSMsgType
from aiortc import RTCPeerConnection, RTCSessionDescription, RTCConfiguration, RTCIceServer
from aiortc.contrib.media import MediaPlayer, MediaRecorder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from livekit.protocol import models, rtc

# The stand-in's media address: loopback, or LIVEKIT_STANDIN_MEDIA_IP for clients (libwebrtc)
# that never pair a loopback candidate with their own.
MEDIA_IP = os.environ.get("LIVEKIT_STANDIN_MEDIA_IP", "127.0.0.1")
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [MEDIA_IP]


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:12]


class PacedVoice(MediaStreamTrack):
    """A phone's voice: 20 ms frames of 48 kHz audio, paced in real time; `chunk(due)` gives the
    frame due at `due` (time.time()), `on_start(start)` is told when the first one is asked for."""

    kind = "audio"
    RATE = 48000

    def __init__(self, chunk, on_start=None):
        super().__init__()
        self.chunk, self.on_start = chunk, on_start
        self.pts = 0
        self.start = None

    async def recv(self):
        import av
        if self.start is None:
            self.start = time.time()
            if self.on_start:
                self.on_start(self.start)
        self.pts += 960
        due = self.start + self.pts / self.RATE
        if due > time.time():
            await asyncio.sleep(due - time.time())
        chunk = self.chunk(due)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(chunk + b"\0" * (1920 - len(chunk)))
        frame.sample_rate = self.RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


class AnswerClockedWav:
    """A phone that speaks on the call's clock, as a real one does: silence until the call is
    answered, then the WAV from its start at the answer — whoever subscribes late misses what was
    said before. `on_listen(before_answer, late_ms)` tells when the first subscriber started
    listening."""

    def __init__(self, path, answered_at, on_listen):
        import audioop
        import wave
        with wave.open(path) as w:
            pcm, rate, width, channels = w.readframes(w.getnframes()), w.getframerate(), w.getsampwidth(), w.getnchannels()
        if channels == 2:
            pcm = audioop.tomono(pcm, width, 0.5, 0.5)
        pcm = audioop.lin2lin(pcm, width, 2)
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, PacedVoice.RATE, None)

        def started(start):
            at = answered_at()
            on_listen(at is None or at > start, 0 if at is None else max(0, round((start - at) * 1000)))

        def chunk(due):
            at = answered_at()
            if at is None or due - 0.02 < at:
                return b""
            k = int(round((due - 0.02 - at) / 0.02))  # this frame's place in what the callee says
            return pcm[k * 1920:(k + 1) * 1920]

        self.audio = PacedVoice(chunk, on_start=started)


class Phone:
    """The SIP participant's media: a caller script it plays and a recording of what it hears.
    With `answered_at` (a function: when the call was answered, or None), the script runs on the
    call's clock (`AnswerClockedWav`); without, from when the first subscriber listens."""

    def __init__(self, play, record, answered_at=None, on_listen=None):
        self.play, self.record = play, record
        self.answered_at, self.on_listen = answered_at, on_listen
        self.player = None
        self.recorder = None
        self.heard_from = []  # identities whose tracks were recorded

    def track(self):
        if self.player is None and self.play:
            self.player = (AnswerClockedWav(self.play, self.answered_at, self.on_listen) if self.answered_at
                           else MediaPlayer(self.play, loop=False))
        return self.player.audio if self.player else None

    async def hear(self, track, identity):
        if not self.record:
            return
        if self.recorder is not None:  # a replacement agent: keep one file, the newest speaker
            try:
                await self.recorder.stop()
            except Exception:
                pass
        path = self.record if not self.heard_from else self.record.replace(".wav", f"-{len(self.heard_from)}.wav")
        self.heard_from.append(identity)
        self.recorder = MediaRecorder(path)
        self.recorder.addTrack(track)
        await self.recorder.start()

    async def stop(self):
        if self.recorder is not None:
            try:
                await self.recorder.stop()
            except Exception:
                pass


class Session:
    """One participant's signalling session and its two peer connections."""

    def __init__(self, sfu, room, identity, kind, name):
        self.sfu, self.room, self.identity, self.kind, self.name = sfu, room, identity, kind, name
        self.sid = new_id("PA_")
        self.ws = None
        self.subscriber = None
        self.publisher = None
        self.pending_tracks = {}
        self.published = []
        self.reliable = None
        self.log = []
        self.closed = False
        self.single_pc = False  # joined over /rtc/v1
        self.phone_mid = None
        self.requested = 0  # receive sections asked for with media_sections_requirement

    def info(self, state=models.ParticipantInfo.State.JOINED):
        p = models.ParticipantInfo(sid=self.sid, identity=self.identity, name=self.name, state=state,
                                   kind=self.kind, joined_at=int(time.time()))
        for t in self.published:
            p.tracks.append(t)
        return p

    async def send(self, **kw):
        if self.ws is None or self.ws.closed:
            return
        msg = rtc.SignalResponse(**kw)
        self.log.append(msg.WhichOneof("message"))
        try:
            await self.ws.send_bytes(msg.SerializeToString())
        except Exception:
            pass

    def configuration(self):
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in self.sfu.ice_servers]
        return RTCConfiguration(iceServers=servers) if servers else None

    async def offer_subscriber(self):
        pc = self.subscriber = RTCPeerConnection(self.configuration())
        self.reliable = pc.createDataChannel("_reliable")
        phone = self.sfu.phone_of(self.room)
        if phone is not None and phone.track() is not None:
            sender = pc.addTrack(phone.track())
            info = self.sfu.phone_info(self.room) or self.sfu.last_phone_info.get(self.room)
            if info is not None:
                sender._stream_id, sender._track_id = f"{info.sid}|{info.tracks[0].sid}", info.tracks[0].sid
        await pc.setLocalDescription(await pc.createOffer())
        await self.send(offer=rtc.SessionDescription(type="offer", sdp=pc.localDescription.sdp, id=1))

    def listen(self, pc, keep_reliable=False):
        """What the participant publishes on `pc`: its data (decoded for /_test/data; over v1 its
        `_reliable` channel is also the room's way to it) and its audio (to the phone)."""
        room, identity = self.room, self.identity

        @pc.on("datachannel")
        def on_datachannel(channel):
            if keep_reliable and channel.label == "_reliable":
                self.reliable = channel

            @channel.on("message")
            def on_message(message):
                self.sfu.data_packet(room, identity, channel.label, message)

        @pc.on("track")
        def on_track(track):
            phone = self.sfu.phone_of(room)
            if phone is not None and track.kind == "audio":
                asyncio.ensure_future(phone.hear(track, identity))

    async def answer_publisher(self, sdp):
        pc = self.publisher = RTCPeerConnection(self.configuration())
        self.listen(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send(answer=rtc.SessionDescription(type="answer", sdp=pc.localDescription.sdp))

    async def answer_single(self, offer):
        """/rtc/v1: the client's offer carries its tracks, its data channels and receive-only
        sections; the phone's track goes on the first of those, and missing ones are asked for."""
        if self.publisher is None:
            self.publisher = RTCPeerConnection(self.configuration())
            self.listen(self.publisher, keep_reliable=True)
        pc, room, identity = self.publisher, self.room, self.identity

        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        # A receive-only section of the client's is one aiortc may send on ("sendonly" from here).
        receive = [t for t in pc.getTransceivers() if t.kind == "audio" and t._offerDirection == "sendonly"]
        phone = self.sfu.phone_of(room)
        info = self.sfu.phone_info(room) or self.sfu.last_phone_info.get(room)
        if self.phone_mid is None and receive and phone is not None and phone.track() is not None:
            t = receive[0]
            t.sender.replaceTrack(phone.track())
            t.direction = "sendrecv"
            if info is not None:  # the msid clients match the track by, as over v0
                t.sender._stream_id, t.sender._track_id = f"{info.sid}|{info.tracks[0].sid}", info.tracks[0].sid
            self.phone_mid = t.mid
        await pc.setLocalDescription(await pc.createAnswer())
        answer = rtc.SessionDescription(type="answer", sdp=pc.localDescription.sdp, id=offer.id)
        if self.phone_mid is not None and info is not None:
            answer.mid_to_track_id[self.phone_mid] = info.tracks[0].sid
        self.sfu.events.append({"event": "offer", "identity": identity, "room": room, "receive_sections": len(receive),
                                "phone_mid": self.phone_mid})
        await self.send(answer=answer)
        missing = self.sfu.audio_sections - len(receive) - self.requested
        if missing > 0:
            self.requested += missing
            self.sfu.events.append({"event": "media_sections_requirement", "identity": identity, "room": room, "num_audios": missing})
            await self.send(media_sections_requirement=rtc.MediaSectionsRequirement(num_audios=missing))

    async def handle(self, req):
        which = req.WhichOneof("message")
        if which == "offer" and self.single_pc:
            await self.answer_single(req.offer)
        elif which == "answer":
            await self.subscriber.setRemoteDescription(RTCSessionDescription(req.answer.sdp, "answer"))
        elif which == "offer":
            await self.answer_publisher(req.offer.sdp)
        elif which == "trickle":
            init = json.loads(req.trickle.candidateInit)
            line = init.get("candidate", "")
            pc = self.publisher if req.trickle.target == rtc.SignalTarget.PUBLISHER or self.single_pc else self.subscriber
            if line and pc is not None:
                c = candidate_from_sdp(line.removeprefix("candidate:"))
                c.sdpMid = pc.getTransceivers()[0].mid if pc.getTransceivers() else "0"
                c.sdpMLineIndex = 0
                try:
                    await pc.addIceCandidate(c)
                except Exception:
                    pass
        elif which == "add_track":
            t = req.add_track
            info = models.TrackInfo(sid=new_id("TR_"), type=t.type, name=t.name, source=t.source)
            self.published.append(info)
            await self.send(track_published=rtc.TrackPublishedResponse(cid=t.cid, track=info))
        elif which == "ping_req":
            await self.send(pong_resp=rtc.Pong(last_ping_timestamp=req.ping_req.timestamp, timestamp=int(time.time() * 1000)))
        elif which == "ping":
            await self.send(pong=int(time.time() * 1000))
        elif which == "leave":
            await self.close()

    async def close(self, leave_reason=None):
        if self.closed:
            return
        self.closed = True
        if leave_reason is not None:
            await self.send(leave=rtc.LeaveRequest(reason=leave_reason, action=rtc.LeaveRequest.Action.DISCONNECT))
        for pc in (self.subscriber, self.publisher):
            if pc is not None:
                await pc.close()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        self.sfu.sessions.get(self.room, {}).pop(self.identity, None)


class SFU:
    def __init__(self, verifier, phones_hook, mint=None, answer_hook=None):
        self.verifier = verifier
        self.answer_hook = answer_hook  # room -> when its phone answered (time.time()), or None
        self.mint = mint  # (identity, room) -> a refreshed token (metadata "refreshed")
        self.sessions = {}  # room -> identity -> Session
        self.phones = {}  # room -> Phone
        self.phone_media = {}  # what the next phone plays ("play" WAV or scripted "lines") and records ("record")
        self.ice_servers = []
        self.phones_hook = phones_hook  # room -> the SIP participant's info, or None
        self.last_phone_info = {}
        self.phone_tracks = {}  # room -> the sid of the phone's track
        self.events = []
        self.data = []
        self.streams = {}
        self.v1 = False  # POST /_test/signalling {"v1": true}: /rtc/v1 is served
        self.audio_sections = 1  # receive sections a v1 participant needs (the phone's track and any more)

    def phone_info(self, room):
        """The phone's participant info while its call is up; the last one seen after it hung up.
        As LiveKit SIP does, the phone publishes one microphone track (its sid is the track id of
        the media stream "<participant sid>|<track sid>" that clients match it by)."""
        info = self.phones_hook(room)
        if info is not None:
            if room not in self.phone_tracks:
                self.phone_tracks[room] = new_id("TR_")
            info = models.ParticipantInfo.FromString(info.SerializeToString())
            del info.tracks[:]
            info.tracks.append(models.TrackInfo(sid=self.phone_tracks[room], type=models.TrackType.AUDIO, name="phone",
                                                source=models.TrackSource.MICROPHONE, mime_type="audio/opus"))
            self.last_phone_info[room] = info
        return info

    def phone_of(self, room):
        if self.phone_info(room) is None:
            return None
        if room not in self.phones:
            record = self.phone_media.get("record") and self.phone_media["record"].replace("{room}", room)
            if self.phone_media.get("lines"):
                def voice(identity, room=room):
                    # When each agent track the phone hears first carries speech (GET /_test/events):
                    # after a failover, the time from the kill to the agent speaking again.
                    self.events.append({"event": "voice", "identity": identity, "room": room, "at": time.time()})
                self.phones[room] = ScriptedCaller(self.phone_media["lines"], record, on_voice=voice)
            elif self.phone_media.get("clock") == "answer" and self.answer_hook:
                def listened(before_answer, late_ms, room=room):
                    self.events.append({"event": "phone_listened", "room": room, "before_answer": before_answer, "late_ms": late_ms})
                self.phones[room] = Phone(self.phone_media.get("play"), record, answered_at=lambda room=room: self.answer_hook(room),
                                          on_listen=listened)
            else:
                self.phones[room] = Phone(self.phone_media.get("play"), record)
        return self.phones[room]

    async def rtc(self, request):
        q = request.query
        resume = q.get("sid") if q.get("reconnect") == "1" else None
        return await self.serve(request, resume, single_pc=False)

    async def rtc_v1(self, request):
        """/rtc/v1: the join is the `join_request` parameter alone."""
        if not self.v1:
            return web.Response(status=404, text="404 page not found")
        raw = request.query.get("join_request", "")
        try:
            wrapped = rtc.WrappedJoinRequest()
            wrapped.ParseFromString(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            body = gzip.decompress(wrapped.join_request) if wrapped.compression == rtc.WrappedJoinRequest.Compression.GZIP else wrapped.join_request
            join = rtc.JoinRequest()
            join.ParseFromString(body)
        except Exception as e:
            self.events.append({"event": "bad_join_request", "error": str(e)})
            return web.Response(status=400, text=f"invalid join_request: {e}")
        self.events.append({"event": "join_request", "sdk": models.ClientInfo.SDK.Name(join.client_info.sdk), "protocol": join.client_info.protocol,
                            "auto_subscribe": join.connection_settings.auto_subscribe, "reconnect": join.reconnect,
                            "participant_sid": join.participant_sid, "publisher_offer": join.HasField("publisher_offer"),
                            "add_track_requests": len(join.add_track_requests)})
        return await self.serve(request, join.participant_sid if join.reconnect else None, single_pc=True, join_request=join)

    async def serve(self, request, resume, single_pc, join_request=None):
        q = request.query
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or q.get("access_token", "")
        try:
            claims = self.verifier.verify(token)
        except Exception as e:
            return web.Response(status=401, text=f"invalid token: {e}")
        video = claims.video
        if not (video and video.room_join and video.room):
            return web.Response(status=401, text="permissions denied")
        room, identity = video.room, claims.identity
        sessions = self.sessions.setdefault(room, {})
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        if resume is not None and identity in sessions and sessions[identity].sid == resume:
            s = sessions[identity]
            s.ws = ws
            self.events.append({"event": "resumed", "identity": identity, "room": room, "token_metadata": claims.metadata})
            await s.send(reconnect=rtc.ReconnectResponse(ice_servers=[]))
        else:
            old = sessions.get(identity)
            if old is not None:
                self.events.append({"event": "replaced", "identity": identity, "room": room})
                await old.close(leave_reason=models.DisconnectReason.DUPLICATE_IDENTITY)
            kind = models.ParticipantInfo.Kind.AGENT if claims.kind == "agent" else models.ParticipantInfo.Kind.STANDARD
            s = Session(self, room, identity, kind, claims.name or identity)
            s.ws = ws
            s.single_pc = single_pc
            sessions[identity] = s
            self.events.append({"event": "joined", "identity": identity, "room": room})
            others = [p for p in (self.phone_info(room),) if p is not None]
            join = rtc.JoinResponse(room=models.Room(sid=new_id("RM_"), name=room), participant=s.info(), other_participants=others,
                                    server_version="1.9.10-siphon-standin" if single_pc else "1.9.0-siphon-standin",
                                    subscriber_primary=not single_pc, ping_interval=5, ping_timeout=15,
                                    ice_servers=[rtc.ICEServer(urls=x["urls"], username=x.get("username", ""), credential=x.get("credential", ""))
                                                 for x in self.ice_servers])
            await s.send(join=join)
            if not single_pc:  # over v1 the client makes the only offer
                await s.offer_subscriber()
            elif join_request is not None:
                # Tracks and the offer may come with the join (a "fast publish"): as if sent after it.
                for t in join_request.add_track_requests:
                    await s.handle(rtc.SignalRequest(add_track=t))
                if join_request.HasField("publisher_offer"):
                    await s.answer_single(join_request.publisher_offer)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    try:
                        req = rtc.SignalRequest()
                        req.ParseFromString(msg.data)
                    except Exception:
                        self.events.append({"event": "undecodable", "identity": identity})
                        continue
                    await s.handle(req)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            if s.ws is ws and s.closed:
                pass
        return ws

    def data_packet(self, room, identity, label, message):
        """What a participant published on its data channels, decoded (GET /_test/data)."""
        packet = models.DataPacket()
        try:
            packet.ParseFromString(bytes(message))
        except Exception as e:
            self.data.append({"room": room, "identity": identity, "error": str(e)})
            return
        which = packet.WhichOneof("value")
        entry = {"room": room, "identity": identity, "label": label, "kind": which, "participant_identity": packet.participant_identity}
        if which == "sip_dtmf":
            entry.update(code=packet.sip_dtmf.code, digit=packet.sip_dtmf.digit)
        elif which == "stream_header":
            h = packet.stream_header
            self.streams[h.stream_id] = {"topic": h.topic, "attributes": dict(h.attributes), "text": "", "generated": h.text_header.generated}
            return
        elif which == "stream_chunk":
            st = self.streams.get(packet.stream_chunk.stream_id)
            if st is not None:
                st["text"] += packet.stream_chunk.content.decode(errors="replace")
            return
        elif which == "stream_trailer":
            st = self.streams.pop(packet.stream_trailer.stream_id, None)
            if st is None:
                return
            entry.update(kind="text_stream", **st)
        self.data.append(entry)

    async def send_dtmf(self, room, digits):
        """The phone presses keys: LiveKit SIP sends each as DataPacket.sip_dtmf to the room."""
        info = self.phone_info(room) or self.last_phone_info.get(room)
        for d in digits:
            code = "0123456789*#ABCD".index(d)
            packet = models.DataPacket(kind=models.DataPacket.Kind.RELIABLE, participant_identity=info.identity if info else "phone",
                                       sip_dtmf=models.SipDTMF(code=code, digit=d))
            for s in list(self.sessions.get(room, {}).values()):
                if s.reliable is not None and s.reliable.readyState == "open":
                    s.reliable.send(packet.SerializeToString())

    async def hang_up_phone(self, room):
        """The phone leaves: every participant hears of it (ParticipantUpdate, DISCONNECTED)."""
        info = self.last_phone_info.get(room)
        if info is None:
            return
        self.events.append({"event": "phone_left", "room": room})
        gone = models.ParticipantInfo()
        gone.CopyFrom(info)
        gone.state = models.ParticipantInfo.State.DISCONNECTED
        for s in list(self.sessions.get(room, {}).values()):
            await s.send(update=rtc.ParticipantUpdate(participants=[gone]))
        phone = self.phones.get(room)
        if phone is not None:
            await phone.stop()

    async def close_room(self, room):
        for s in list(self.sessions.get(room, {}).values()):
            await s.close(leave_reason=models.DisconnectReason.ROOM_DELETED)
        phone = self.phones.pop(room, None)
        if phone is not None:
            await phone.stop()

    async def junk(self, identity, count=200, seed=7):
        """A hostile or broken server: random frames and mutated real ones on a participant's
        signalling socket (and its data channel) — the participant must skip them all."""
        import random
        rng = random.Random(seed)
        valid = [rtc.SignalResponse(pong_resp=rtc.Pong(last_ping_timestamp=1, timestamp=2)).SerializeToString(),
                 rtc.SignalResponse(trickle=rtc.TrickleRequest(candidateInit='{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}')).SerializeToString(),
                 rtc.SignalResponse(update=rtc.ParticipantUpdate(participants=[models.ParticipantInfo(identity="x")])).SerializeToString(),
                 rtc.SignalResponse(media_sections_requirement=rtc.MediaSectionsRequirement(num_audios=4000000000, num_videos=7)).SerializeToString()]
        for sessions in self.sessions.values():
            s = sessions.get(identity)
            if s is None or s.ws is None:
                continue
            for i in range(count):
                if i % 2:
                    frame = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
                else:
                    b = bytearray(rng.choice(valid))
                    for _ in range(rng.randrange(1, 5)):
                        b[rng.randrange(len(b))] = rng.randrange(256)
                    frame = bytes(b)
                await s.ws.send_bytes(frame)
                if s.reliable is not None and s.reliable.readyState == "open":
                    s.reliable.send(frame)
            await s.ws.send_str("{not json either")
            await s.ws.send_bytes(valid[-1])  # an absurd demand, intact: a client must bound what it adds
            self.events.append({"event": "junk", "identity": identity, "frames": count})

    async def drop_signalling(self, identity):
        """As livekit-server refreshes a participant's token (refresh_token, every few minutes),
        then the connection drops: the resume must present the refreshed token."""
        for sessions in self.sessions.values():
            s = sessions.get(identity)
            if s is not None and s.ws is not None:
                if self.mint is not None:
                    await s.send(refresh_token=self.mint(identity, s.room))
                    await asyncio.sleep(0.2)
                await s.ws.close()
                self.events.append({"event": "dropped", "identity": identity})


class ScriptedCaller:
    """A phone that talks like the demo's `siphon caller`: each line once the agent has paused
    (0.7 s of quiet after it spoke), or "@S text" over the agent S seconds into its speech (a
    barge-in). It hears the agent through the track it subscribes to, records it, and speaks
    eSpeak NG audio on its own track."""

    RATE = 48000

    def __init__(self, lines, record, on_voice=None):
        import subprocess
        import wave
        import io
        import audioop
        self.lines = []
        for line in lines:
            at = None
            if line.startswith("@"):
                head, line = line.split(" ", 1)
                at = float(head[1:])
            wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", line], capture_output=True, check=True).stdout
            with wave.open(io.BytesIO(wav)) as w:
                pcm, rate = w.readframes(w.getnframes()), w.getframerate()
            pcm, _ = audioop.ratecv(pcm, 2, 1, rate, self.RATE, None)
            self.lines.append((at, pcm))
        self.record = record
        self.on_voice = on_voice
        self.next = 0
        self.speaking = b""
        self.agent_talking = False
        self.agent_started = 0.0
        self.quiet = 0
        self.heard_from = []
        self.replied = False
        self.writer = None
        self.voice = PacedVoice(lambda due: self.take(1920))

    def track(self):
        return self.voice

    def take(self, n):
        """20 ms of what the phone says: the line being spoken, else silence."""
        out, self.speaking = self.speaking[:n], self.speaking[n:]
        return out + b"\0" * (n - len(out))

    async def hear(self, track, identity):
        """Follows the agent's audio: when it talks and pauses, and what to say next."""
        import audioop
        import time as _t
        import wave
        self.heard_from.append(identity)
        voiced = False
        if self.writer is None and self.record:
            self.writer = wave.open(self.record, "wb")
            self.writer.setnchannels(1)
            self.writer.setsampwidth(2)
            self.writer.setframerate(self.RATE)
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            channels = len(frame.layout.channels)
            pcm = bytes(frame.planes[0])[:frame.samples * 2 * channels]  # packed s16 (aiortc's Opus decoder)
            if channels == 2:
                pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
            if frame.sample_rate != self.RATE:
                pcm, _ = audioop.ratecv(pcm, 2, 1, frame.sample_rate, self.RATE, None)
            if self.writer is not None:
                self.writer.writeframes(pcm)
            loud = audioop.rms(pcm, 2) > 300
            now = _t.monotonic()
            if loud and not voiced:
                voiced = True
                if self.on_voice is not None:
                    self.on_voice(identity)
            if loud:
                if not self.agent_talking:
                    self.agent_talking, self.agent_started, self.replied = True, now, False
                self.quiet = 0
            else:
                self.quiet += 1
                if self.agent_talking and self.quiet >= 35:
                    self.agent_talking = False
            if self.next < len(self.lines) and not self.speaking:
                at, pcm_line = self.lines[self.next]
                interrupt = at is not None and self.agent_talking and now - self.agent_started >= at and not self.replied
                after = at is None and not self.agent_talking and self.quiet == 35 and not self.replied
                if interrupt or after:
                    self.next += 1
                    self.replied = True
                    self.speaking = pcm_line

    async def stop(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class AgentWorkers:
    """`/agent`: LiveKit's agent worker protocol (livekit_agent.proto) as livekit-server speaks it
    (L pkg/agent/worker.go, agentservice.go): register, availability asked per job and answered
    within 10 s, the job assigned with a token the server mints (kind agent, 1 h, lk.agent_name),
    status updates, pings."""

    def __init__(self, verifier, key, secret):
        from livekit.api import AccessToken, VideoGrants
        self.verifier, self.key, self.secret = verifier, key, secret
        self.AccessToken, self.VideoGrants = AccessToken, VideoGrants
        self.workers = []
        self.jobs = []

    async def ws(self, request):
        from livekit.protocol import agent
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = self.verifier.verify(token)
        except Exception as e:
            return web.Response(status=401, text=f"invalid token: {e}")
        if not (claims.video and claims.video.agent):
            return web.Response(status=401, text="permissions denied")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        worker = {"ws": socket, "agent_name": None, "id": new_id("AW_"), "pending": {}, "load": 0.0}
        try:
            async for msg in socket:
                if msg.type != WSMsgType.BINARY:
                    continue
                m = agent.WorkerMessage()
                try:
                    m.ParseFromString(msg.data)
                except Exception:
                    continue
                which = m.WhichOneof("message")
                if which == "register":
                    worker["agent_name"] = m.register.agent_name
                    self.workers.append(worker)
                    reply = agent.ServerMessage(register=agent.RegisterWorkerResponse(worker_id=worker["id"], server_info=models.ServerInfo(version="1.9.0")))
                    await socket.send_bytes(reply.SerializeToString())
                elif which == "availability":
                    fut = worker["pending"].pop(m.availability.job_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(m.availability)
                elif which == "update_job":
                    for j in self.jobs:
                        if j["job_id"] == m.update_job.job_id:
                            j["statuses"].append(agent.JobStatus.Name(m.update_job.status))
                elif which == "update_worker":
                    worker["load"] = m.update_worker.load
                elif which == "ping":
                    pong = agent.ServerMessage(pong=agent.WorkerPong(last_timestamp=m.ping.timestamp, timestamp=int(time.time() * 1000)))
                    await socket.send_bytes(pong.SerializeToString())
        finally:
            if worker in self.workers:
                self.workers.remove(worker)
        return socket

    async def dispatch(self, room_name, agent_name):
        from livekit.protocol import agent
        import random
        candidates = [w for w in self.workers if w["agent_name"] == agent_name]
        entry = {"job_id": new_id("AJ_"), "room": room_name, "agent_name": agent_name, "workers": len(candidates), "statuses": []}
        self.jobs.append(entry)
        if not candidates:
            entry["error"] = "no worker registered for the agent"
            return entry
        worker = random.choice(candidates)
        job = agent.Job(id=entry["job_id"], dispatch_id=new_id("AD_"), type=agent.JobType.JT_ROOM,
                        room=models.Room(sid=new_id("RM_"), name=room_name), agent_name=agent_name)
        fut = asyncio.get_running_loop().create_future()
        worker["pending"][job.id] = fut
        await worker["ws"].send_bytes(agent.ServerMessage(availability=agent.AvailabilityRequest(job=job)).SerializeToString())
        try:
            answer = await asyncio.wait_for(fut, 10)
        except asyncio.TimeoutError:
            entry["error"] = "no availability answer within 10 s"
            return entry
        entry.update(available=answer.available, identity=answer.participant_identity)
        if not answer.available:
            return entry
        token = (self.AccessToken(self.key, self.secret).with_identity(answer.participant_identity).with_name(answer.participant_name or agent_name)
                 .with_kind("agent").with_attributes({"lk.agent_name": agent_name, **dict(answer.participant_attributes)})
                 .with_grants(self.VideoGrants(room_join=True, room=room_name, agent=True, can_publish=True, can_subscribe=True, can_publish_data=True))
                 .to_jwt())
        await worker["ws"].send_bytes(agent.ServerMessage(assignment=agent.JobAssignment(job=job, token=token)).SerializeToString())
        return entry
