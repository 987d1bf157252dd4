#!/usr/bin/env python3
"""LiveKit's own client SDK (`livekit` on PyPI: the Rust SDK with libwebrtc inside) against the
LiveKit stand-in, to show the stand-in is faithful where Siphon's agent relies on it.

  livekit_sdk_check.py URL API_KEY API_SECRET SPEAK.wav HEARD.wav

With livekit-api it creates an outbound trunk and dials a SIP participant into room "sdk-check"
(the stand-in's phone, which plays and records what the test set with /_test/phone). Then, as a
standard participant through livekit.rtc, it:
- subscribes to the phone's audio track and writes what it hears (48 kHz mono) to HEARD.wav;
- publishes a microphone track playing SPEAK.wav (the phone records it);
- asks the stand-in to press keys on the phone (/_test/dtmf) and reports the sip_dtmf it receives;
- sends DTMF itself (publish_dtmf) and a text stream on lk.transcription (send_text);
- leaves, and deletes the room (the phone hangs up, its recording is closed).
Prints one JSON object: what happened at each step, and the SDK's errors if any."""
import asyncio
import json
import sys
import wave

import aiohttp
import numpy as np
from livekit import api, rtc

url, key, secret, speak, heard = sys.argv[1:6]
ROOM = "sdk-check"
RATE = 48000


async def main():
    report = {"errors": []}
    async with api.LiveKitAPI(url, key, secret) as lk:
        trunk = await lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(
            trunk=api.SIPOutboundTrunkInfo(name="sdk", address="sip.example.com", numbers=["+15550100"])))
        phone = await lk.sip.create_sip_participant(api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk.sip_trunk_id, sip_call_to="+15550123", room_name=ROOM,
            participant_identity="phone", wait_until_answered=True))
        report["phone"] = phone.participant_identity

    token = (api.AccessToken(key, secret).with_identity("sdk-user").with_name("SDK")
             .with_grants(api.VideoGrants(room_join=True, room=ROOM)).to_jwt())
    room = rtc.Room()
    subscribed = asyncio.Event()
    digits = []
    tracks = {}

    @room.on("track_subscribed")
    def on_track(track, publication, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            tracks[participant.identity] = track
            subscribed.set()

    @room.on("sip_dtmf_received")
    def on_dtmf(dtmf):
        digits.append(dtmf.digit)

    ws_url = url.replace("http://", "ws://")
    await room.connect(ws_url, token, rtc.RoomOptions(auto_subscribe=True))
    report["connected"] = room.connection_state == rtc.ConnectionState.CONN_CONNECTED
    report["remote_participants"] = sorted(room.remote_participants)

    # Publish before listening: the phone records from the moment the track arrives.
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await room.local_participant.publish_track(track, options)
    report["published"] = bool(publication.sid)

    await asyncio.wait_for(subscribed.wait(), 20)
    report["subscribed"] = sorted(tracks)
    listen = asyncio.create_task(record(tracks["phone"], 5.0))
    await play(source)

    async with aiohttp.ClientSession() as http:
        await http.post(f"{url}/_test/dtmf", json={"room": ROOM, "digits": "42#"})
    await room.local_participant.publish_dtmf(code=7, digit="7")
    await room.local_participant.send_text("the sdk says hello", topic="lk.transcription",
                                           attributes={"lk.transcription_final": "true"})
    report["frames_heard"] = await listen
    for _ in range(50):
        if len(digits) >= 3:
            break
        await asyncio.sleep(0.1)
    report["dtmf_received"] = "".join(digits)
    await asyncio.sleep(1.0)  # let the reliable channel deliver before leaving
    await room.disconnect()
    async with api.LiveKitAPI(url, key, secret) as lk:  # the phone hangs up; its recording closes
        await lk.room.delete_room(api.DeleteRoomRequest(room=ROOM))
    print(json.dumps(report), flush=True)


async def play(source):
    with wave.open(speak) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if rate != RATE:  # linear interpolation is enough for a test phrase
        pcm = np.interp(np.arange(0, len(pcm), rate / RATE), np.arange(len(pcm)), pcm).astype(np.int16)
    pcm = np.concatenate([np.zeros(RATE // 2, np.int16), pcm, np.zeros(RATE // 2, np.int16)])
    step = RATE // 100
    for i in range(0, len(pcm) - step + 1, step):
        frame = rtc.AudioFrame.create(RATE, 1, step)
        np.frombuffer(frame.data, dtype=np.int16)[:] = pcm[i:i + step]
        await source.capture_frame(frame)  # paces itself: the source's queue is ~real time


async def record(track, seconds):
    stream = rtc.AudioStream.from_track(track=track, sample_rate=RATE, num_channels=1)
    frames, got = [], 0
    async for event in stream:
        frames.append(bytes(event.frame.data))
        got += event.frame.samples_per_channel
        if got >= seconds * RATE:
            break
    await stream.aclose()
    with wave.open(heard, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(frames))
    return len(frames)


asyncio.run(main())
