#!/usr/bin/env python3
"""Proves provider_server.py faithful: the official SDKs (openai, anthropic) drive every scenario
and must parse what it sends exactly as they parse the real services. Prints one JSON line per
check: {"check", "ok", "detail"}. Usage: provider_sdk_check.py PORT"""
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
import audioop  # noqa: E402
import base64
import io
import json
import math
import struct
import sys
import wave

import anthropic
import openai

port = int(sys.argv[1])
base = f"http://127.0.0.1:{port}"
results = []


def check(name, fn):
    try:
        ok, detail = fn()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        ok, detail = False, f"{type(e).__name__}: {e}"
    results.append({"check": name, "ok": bool(ok), "detail": str(detail)[:300]})


oa = openai.OpenAI(base_url=base + "/v1", api_key="sk-test", max_retries=2)


def oa_text(model, prompt):
    stream = oa.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], stream=True,
                                        stream_options={"include_usage": True})
    text, usage = "", None
    for c in stream:
        if c.choices and c.choices[0].delta.content:
            text += c.choices[0].delta.content
        if c.usage:
            usage = c.usage
    return text, usage


def openai_ok():
    text, usage = oa_text("mock-ok", "hi there")
    return text == "Hello there! How can I help?" and usage.completion_tokens == 8, (text, usage)


def openai_tools():
    with oa.chat.completions.stream(model="mock-tool", messages=[{"role": "user", "content": "book"}],
                                    tools=[{"type": "function", "function": {"name": "book", "parameters": {"type": "object"}}},
                                           {"type": "function", "function": {"name": "end_call", "parameters": {"type": "object"}}}]) as s:
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls]
    return got == [("call_a", "book", {"day": "Tuesday"}), ("call_b", "end_call", {})], got


def openai_retries_429():
    text, _ = oa_text("mock-429-once", "retry me please 1")
    return text.startswith("Hello"), text


def openai_retries_503():
    text, _ = oa_text("mock-503-once", "retry me please 2")
    return text.startswith("Hello"), text


def openai_quota():
    try:
        oa_text("mock-quota", "q")
    except openai.RateLimitError as e:
        return e.code == "insufficient_quota" and e.request_id == "req_mock", (e.code, e.request_id)
    return False, "no error"


def openai_auth():
    try:
        openai.OpenAI(base_url=base + "/v1", api_key="sk-wrong", max_retries=0).chat.completions.create(
            model="mock-ok", messages=[{"role": "user", "content": "x"}], stream=True)
    except openai.AuthenticationError as e:
        return e.code == "invalid_api_key", e.code
    return False, "no error"


def openai_stream_error():
    try:
        oa_text("mock-stream-error", "x")
    except openai.APIError as e:
        return "server had an error" in str(e), str(e)
    return False, "no error"


def openai_speech():
    with oa.audio.speech.with_streaming_response.create(model="mock-tts", voice="alloy", input="Hello", response_format="pcm") as r:
        data = b"".join(r.iter_bytes())
    return len(data) == int(0.25 * 24000) * 2, len(data)


def openai_transcription():
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    buf.name = "a.wav"
    buf.seek(0)
    t = oa.audio.transcriptions.create(model="mock-stt", file=buf)
    return t.text == "heard 1.00 seconds at 16000 Hz", t.text


def openai_models():
    ids = [m.id for m in oa.models.list()]
    return ids == ["gpt-4o-mini"], ids


an = anthropic.Anthropic(base_url=base, api_key="sk-ant-test", max_retries=2)


def anthropic_ok():
    with an.messages.stream(model="mock-ok", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    return text == "Hello there! How can I help?" and final.usage.output_tokens == 8 and final.stop_reason == "end_turn", (text, final.usage)


def anthropic_tools():
    with an.messages.stream(model="mock-tool", max_tokens=100, messages=[{"role": "user", "content": "book"}],
                            tools=[{"name": "book", "input_schema": {"type": "object"}}]) as s:
        final = s.get_final_message()
    blocks = [(b.type, getattr(b, "name", None), getattr(b, "input", None)) for b in final.content]
    return blocks == [("text", None, None), ("tool_use", "book", {"day": "Tuesday"})] and final.stop_reason == "tool_use", blocks


def anthropic_overloaded():
    try:
        anthropic.Anthropic(base_url=base, api_key="sk-ant-test", max_retries=0).messages.create(
            model="mock-overloaded", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    except anthropic.APIStatusError as e:
        return e.status_code == 529 and e.body["error"]["type"] == "overloaded_error", (e.status_code, e.body)
    return False, "no error"


def anthropic_retries_429():
    with an.messages.stream(model="mock-429-once", max_tokens=10, messages=[{"role": "user", "content": "retry 3"}]) as s:
        text = "".join(s.text_stream)
    return text.startswith("Hello"), text


def anthropic_stream_error():
    try:
        with an.messages.stream(model="mock-stream-error", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
            "".join(s.text_stream)
    except anthropic.APIStatusError as e:
        return "Overloaded" in str(e), str(e)
    return False, "no error"


def anthropic_models():
    ids = [m.id for m in an.models.list()]
    return ids == ["claude-haiku-4-5"], ids


def anthropic_auth():
    try:
        anthropic.Anthropic(base_url=base, api_key="sk-ant-wrong", max_retries=0).messages.create(
            model="mock-ok", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    except anthropic.AuthenticationError as e:
        return e.status_code == 401, e.status_code
    return False, "no error"


def deepgram_client(key="dg-test"):
    from deepgram import DeepgramClient
    from deepgram.environment import DeepgramClientEnvironment
    env = DeepgramClientEnvironment(base=base, production=f"ws://127.0.0.1:{port}", agent=f"ws://127.0.0.1:{port}", agent_rest=base)
    return DeepgramClient(api_key=key, environment=env)


def speech_pcm(rate, seconds_speech, seconds_quiet):
    loud = b"".join(int(6000 * math.sin(i / 3)).to_bytes(2, "little", signed=True) for i in range(int(rate * seconds_speech)))
    return b"\0\0" * int(rate * 0.2) + loud + b"\0\0" * int(rate * seconds_quiet)


def deepgram_listen():
    seen = []
    with deepgram_client().listen.v1.connect(model="nova-3", encoding="linear16", sample_rate="8000", interim_results="true",
                                             endpointing="300", vad_events="true") as s:
        audio = speech_pcm(8000, 1.0, 0.5)
        for i in range(0, len(audio), 320):
            s.send_media(audio[i:i + 320])
        s.send_close_stream()
        for msg in s:
            seen.append(type(msg).__name__ + ":" + (msg.channel.alternatives[0].transcript if getattr(msg, "is_final", False) else ""))
    finals = [x for x in seen if x.endswith("seconds")]
    return finals == ["ListenV1Results:heard 1.00 seconds"] and any(x.startswith("ListenV1SpeechStarted") for x in seen) \
        and any(x.startswith("ListenV1UtteranceEnd") for x in seen) and any(x.startswith("ListenV1Metadata") for x in seen), seen


def deepgram_auth():
    try:
        with deepgram_client("dg-wrong").listen.v1.connect(model="nova-3") as s:
            s.send_close_stream()
    except Exception as e:  # the SDK raises on a refused handshake
        return "401" in str(e) or "credentials" in str(e).lower(), f"{type(e).__name__}: {e}"
    return False, "no error"


def deepgram_speak():
    audio = b"".join(deepgram_client().speak.v1.audio.generate(text="Hello", model="aura-2-thalia-en", encoding="linear16",
                                                               sample_rate=8000, container="none"))
    return len(audio) == 2 * 2000, len(audio)


def deepgram_speak_defaults():
    """Without encoding the API answers MP3, and linear16 without container=none comes in WAV."""
    mp3 = b"".join(deepgram_client().speak.v1.audio.generate(text="Hello", model="aura-2-thalia-en"))
    wav = b"".join(deepgram_client().speak.v1.audio.generate(text="Hello", model="aura-2-thalia-en", encoding="linear16", sample_rate=8000))
    return mp3[:3] == b"ID3" and wav[:4] == b"RIFF" and len(wav) == 44 + 2 * 2000, (mp3[:3], wav[:4], len(wav))


def cartesia_tts():
    from cartesia import Cartesia
    client = Cartesia(api_key="sk-cartesia", base_url=base, websocket_base_url=f"ws://127.0.0.1:{port}")
    audio, types = b"", []
    with client.tts.websocket_connect() as conn:
        ctx = conn.context(model_id="sonic-2", voice={"mode": "id", "id": "voice-1"},
                           output_format={"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000})
        ctx.push("Hello ")
        ctx.push("there")
        ctx.no_more_inputs()
        for ev in ctx.receive():
            types.append(ev.type)
            if ev.type == "chunk":
                audio += base64.b64decode(ev.data) if isinstance(ev.data, str) else ev.audio
    return len(audio) == int(0.05 * 6 * 8000) + int(0.05 * 5 * 8000) and types[-1] == "done", (len(audio), types[-3:])


def cartesia_refuses_loose_voice():
    """A voice that is not {"mode": "id", "id": …} is refused in-band, as Cartesia does."""
    from cartesia import Cartesia
    client = Cartesia(api_key="sk-cartesia", base_url=base, websocket_base_url=f"ws://127.0.0.1:{port}")
    with client.tts.websocket_connect() as conn:
        ctx = conn.context(model_id="sonic-2", voice={"id": "voice-1"},
                           output_format={"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000})
        ctx.push("Hello")
        ctx.no_more_inputs()
        try:
            events = [(ev.type, getattr(ev, "error", None) or getattr(ev, "message", None)) for ev in ctx.receive()]
        except Exception as e:  # the SDK may raise the in-band error
            return "voice must be" in str(e), f"{type(e).__name__}: {e}"
    return any("voice must be" in str(m) for _, m in events), events


def openai_realtime_transcription():
    """The SDK's Realtime client in a transcription session: μ-law audio in, server VAD, deltas and
    the completed transcript out (and a commit of an empty buffer answered with an error event)."""
    client = openai.OpenAI(api_key="sk-test", base_url=base + "/v1", websocket_base_url=f"ws://127.0.0.1:{port}/v1")
    tone = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000))
    ulaw, quiet = audioop.lin2ulaw(tone, 2), audioop.lin2ulaw(b"\0\0" * 4000, 2)
    seen, deltas = [], ""
    with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        conn.session.update(session={"type": "transcription", "audio": {"input": {
            "format": {"type": "audio/pcmu"}, "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}}})
        audio = ulaw + quiet  # 1 s of tone, then 0.5 s of silence: the server VAD ends the utterance
        for i in range(0, len(audio), 160):
            conn.input_audio_buffer.append(audio=base64.b64encode(audio[i:i + 160]).decode())
        for event in conn:
            seen.append(event.type)
            if event.type == "conversation.item.input_audio_transcription.delta":
                deltas += event.delta
            if event.type == "conversation.item.input_audio_transcription.completed":
                transcript = event.transcript
                break
        conn.input_audio_buffer.commit()
        for event in conn:
            if event.type == "error":
                empty = event.error.code
                break
    return (transcript == deltas == "heard 1.00 seconds" and empty == "input_audio_buffer_commit_empty"
            and seen[:2] == ["session.created", "session.updated"]), (transcript, deltas, seen[:6])


def elevenlabs_realtime():
    from elevenlabs.client import ElevenLabs
    client = ElevenLabs(api_key="sk-eleven", base_url=base)
    client.text_to_speech._ws_base_url = f"ws://127.0.0.1:{port}"  # the SDK forces wss://; the stand-in is plain ws
    audio = b"".join(client.text_to_speech.convert_realtime(voice_id="voice1", text=iter(["Hello ", "there. "]), model_id="eleven_flash_v2_5",
                                                             output_format="ulaw_8000"))
    return len(audio) == int(0.05 * 5 * 8000) + int(0.05 * 6 * 8000), len(audio)


def elevenlabs_models():
    from elevenlabs.client import ElevenLabs
    ids = [m.model_id for m in ElevenLabs(api_key="sk-eleven", base_url=base).models.list()]
    return ids == ["eleven_flash_v2_5"], ids


def openai_tool_results():
    """A tool round trip as the API wants it: the assistant's tool_calls, then each result."""
    msgs = [{"role": "user", "content": "book"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_a", "type": "function",
                                                                  "function": {"name": "book", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "booked"}]
    text = "".join(c.choices[0].delta.content or "" for c in oa.chat.completions.create(model="mock-ok", messages=msgs, stream=True) if c.choices)
    return text == "Hello there! How can I help?", text


def openai_refuses_loose_shapes():
    """What the real API refuses, the stand-in refuses: a tool not wrapped in {type, function}, a
    tool result answering no tool call, a tool name with a space."""
    refused = []
    cases = [
        dict(messages=[{"role": "user", "content": "x"}], tools=[{"name": "book", "parameters": {"type": "object"}}]),
        dict(messages=[{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_zz", "content": "r"}]),
        dict(messages=[{"role": "user", "content": "x"}], tools=[{"type": "function", "function": {"name": "book a slot"}}]),
    ]
    for kw in cases:
        try:
            list(oa.chat.completions.create(model="mock-ok", stream=True, **kw))
        except openai.BadRequestError as e:
            refused.append(e.status_code)
    return refused == [400, 400, 400], refused


def deepgram_projects():
    projects = deepgram_client().manage.v1.projects.list().projects
    return [p.project_id for p in projects] == ["p-1"], projects


def cartesia_voices():
    from cartesia import Cartesia
    page = Cartesia(api_key="sk-cartesia", base_url=base, max_retries=0).voices.list(limit=1)
    ids = [v.id for v in page.data]  # the first page only: iterating pages is the SDK's business
    return ids == ["voice-1"], ids


def elevenlabs_timeout():
    from elevenlabs.client import ElevenLabs
    from elevenlabs.core.api_error import ApiError
    client = ElevenLabs(api_key="sk-eleven", base_url=base)
    client.text_to_speech._ws_base_url = f"ws://127.0.0.1:{port}"
    try:
        b"".join(client.text_to_speech.convert_realtime(voice_id="mock-timeout", text=iter(["Hi "]), output_format="ulaw_8000"))
    except ApiError as e:
        return e.status_code == 1008, (e.status_code, e.body)
    return False, "no error"


for name, fn in list(globals().items()):
    if name.startswith(("openai_", "anthropic_", "deepgram_", "cartesia_", "elevenlabs_")) and name != "deepgram_client" and callable(fn):
        check(name, fn)
for r in results:
    print(json.dumps(r), flush=True)
