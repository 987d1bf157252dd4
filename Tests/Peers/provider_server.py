#!/usr/bin/env python3
"""Local stand-ins for the AI providers' HTTP APIs, speaking their documented wire formats
(../shared/reference/providers.md): OpenAI Chat Completions (SSE chunks, tool-call fragments,
usage chunk, [DONE]), /v1/audio/speech (raw 24 kHz PCM), /v1/audio/transcriptions (multipart),
and Anthropic Messages (event:+data: SSE, ping, tool_use input_json_delta, message_stop), with
their error bodies and headers (retry-after-ms, x-request-id, request-id).

The model name picks the behaviour, so official SDKs and Siphon drive the same scenarios:
  mock-ok, mock-tool, mock-slow (3 s before the head), mock-slow-tokens (50 ms per token),
  mock-truncated (cut before the end), mock-stream-error (an error event after some text),
  mock-429 / mock-503 / mock-overloaded (always), mock-429-once / mock-503-once (first attempt
  of a given body only), mock-quota (429 insufficient_quota / billing), mock-bad (400).
Keys: OpenAI "Bearer sk-test"; Anthropic x-api-key or Bearer "sk-ant-test".
GET /_stats → attempts per scenario. Usage: provider_server.py PORT"""
import asyncio
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
import audioop  # noqa: E402 - Python 3.11 has it; the stand-ins need G.711 and RMS
import base64
import hashlib
import io
import json
import re
import math
import struct
import sys
import wave

from aiohttp import web

attempts = {}
released = asyncio.Event()
TEXT = ["Hello", " there", "!", " How", " can", " I", " help", "?"]


def attempt_of(body: bytes) -> int:
    key = hashlib.sha256(body).hexdigest()
    attempts[key] = attempts.get(key, 0) + 1
    return attempts[key]


def openai_error(status, message, type_, code=None, headers=None):
    return web.json_response({"error": {"message": message, "type": type_, "param": None, "code": code}}, status=status,
                             headers={"x-request-id": "req_mock", **(headers or {})})


def anthropic_error(status, type_, message, headers=None):
    return web.json_response({"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_mock"},
                             status=status, headers={"request-id": "req_mock", **(headers or {})})


def scenario_failure(model, body, kind):
    """Common failure scenarios; kind is 'openai' or 'anthropic'. None: go on."""
    err = openai_error if kind == "openai" else (lambda s, m, t, c=None, headers=None: anthropic_error(s, t, m, headers))
    n = attempt_of(body)
    if model.endswith("-429") or (model.endswith("-429-once") and n == 1):
        return err(429, "Rate limit reached for requests", "rate_limit_error" if kind == "anthropic" else "requests",
                   "rate_limit_exceeded", headers={"retry-after-ms": "50", "retry-after": "1"})
    if model.endswith("-503") or (model.endswith("-503-once") and n == 1):
        return err(503, "The server is overloaded", "api_error" if kind == "anthropic" else "service_unavailable_error", "server_is_overloaded")
    if model.endswith("-overloaded"):
        return anthropic_error(529, "overloaded_error", "Overloaded")
    if model.endswith("-quota"):
        if kind == "anthropic":
            return anthropic_error(400, "billing_error", "Your credit balance is too low")
        return err(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    if model.endswith("-bad"):
        return err(400, "Unsupported parameter", "invalid_request_error", "unsupported_parameter")
    return None


async def sse(request, events):
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-request-id": "req_mock", "request-id": "req_mock"})
    await resp.prepare(request)
    for item in events:
        if isinstance(item, float):
            await asyncio.sleep(item)
        elif item is None:  # truncate: drop the connection (after the client has had what was sent)
            await asyncio.sleep(0.1)
            request.transport.close()
            return resp
        else:
            await resp.write(item.encode())
    await resp.write_eof()
    return resp


# ---- OpenAI -------------------------------------------------------------------------------------

def chunk(delta=None, finish=None, usage=None, choices=True):
    c = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1700000000, "model": "mock",
         "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}] if choices else [],
         "usage": usage}
    return "data: " + json.dumps(c) + "\n\n"


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def chat_problem(req):
    """What OpenAI's chat API refuses (400 invalid_request_error) in tools and messages: the
    shapes the API documents, so a regression in what Siphon sends fails a test."""
    tools = req.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "tools", "'tools' must be a non-empty array"
        for i, t in enumerate(tools):
            if not isinstance(t, dict) or t.get("type") != "function" or set(t) - {"type", "function"}:
                return f"tools[{i}]", "each tool is {'type': 'function', 'function': {...}}"
            f = t.get("function")
            if not isinstance(f, dict) or set(f) - {"name", "description", "parameters", "strict"}:
                return f"tools[{i}].function", "unknown or missing function fields"
            if not isinstance(f.get("name"), str) or not TOOL_NAME.match(f["name"]):
                return f"tools[{i}].function.name", "must match ^[a-zA-Z0-9_-]{1,64}$"
            if "description" in f and not isinstance(f["description"], str):
                return f"tools[{i}].function.description", "must be a string"
            if "parameters" in f and (not isinstance(f["parameters"], dict) or f["parameters"].get("type") != "object"):
                return f"tools[{i}].function.parameters", "must be a JSON Schema object ({'type': 'object', ...})"
    pending = set()  # tool_call ids awaiting their tool message
    for i, m in enumerate(req["messages"]):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}].role", f"invalid role {role!r}"
        if role == "assistant":
            calls = m.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, list) or not calls:
                    return f"messages[{i}].tool_calls", "must be a non-empty array"
                for j, c in enumerate(calls):
                    fn = c.get("function") if isinstance(c, dict) else None
                    if (not isinstance(c, dict) or c.get("type") != "function" or not isinstance(c.get("id"), str) or not c["id"]
                            or not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str)):
                        return f"messages[{i}].tool_calls[{j}]", "each is {'id', 'type': 'function', 'function': {'name', 'arguments' (a JSON string)}}"
                    pending.add(c["id"])
            elif not isinstance(m.get("content"), str):
                return f"messages[{i}].content", "an assistant message without tool_calls needs content"
        elif role == "tool":
            tid = m.get("tool_call_id")
            if not isinstance(tid, str) or tid not in pending:
                return f"messages[{i}]", "messages with role 'tool' must be a response to a preceding message with 'tool_calls'"
            if not isinstance(m.get("content"), str):
                return f"messages[{i}].content", "must be a string"
            pending.discard(tid)
        elif not isinstance(m.get("content"), (str, list)):
            return f"messages[{i}].content", "must be a string or an array of parts"
    return None


async def chat(request):
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    body = await request.read()
    try:
        req = json.loads(body)
        model, messages = req["model"], req["messages"]
    except Exception as e:
        return openai_error(400, f"invalid body: {e!r}", "invalid_request_error")
    if (problem := chat_problem(req)) is not None:
        param, message = problem
        return web.json_response({"error": {"message": f"Invalid '{param}': {message}", "type": "invalid_request_error", "param": param,
                                            "code": None}}, status=400, headers={"x-request-id": "req_mock"})
    if (failure := scenario_failure(model, body, "openai")) is not None:
        return failure
    if req.get("stream") is not True:
        return openai_error(400, "this stand-in answers streaming requests only", "invalid_request_error")
    usage = req.get("stream_options", {}).get("include_usage")
    prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
    events = [chunk({"role": "assistant", "content": ""})]
    if model == "mock-slow":
        await asyncio.sleep(3)
    if model == "mock-tool":
        events += [
            chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "book", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"day\": "}}]}),
            # one chunk carrying fragments of both calls
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"Tuesday\"}"}},
                                  {"index": 1, "id": "call_b", "type": "function", "function": {"name": "end_call", "arguments": "{}"}}]}),
            chunk(finish="tool_calls"),
        ]
    else:
        for i, t in enumerate(TEXT):
            if model == "mock-slow-tokens":
                events.append(0.05)
            events.append(chunk({"content": t}))
            if model == "mock-truncated" and i == 2:
                events.append(None)
            if model == "mock-stream-error" and i == 2:
                events.append("data: " + json.dumps({"error": {"message": "The server had an error", "type": "server_error", "code": None}}) + "\n\n")
                return await sse(request, events)
        events.append(chunk(finish="stop"))
    if usage:
        events.append(chunk(choices=False, usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(TEXT), "total_tokens": prompt_tokens + len(TEXT)}))
    events.append("data: [DONE]\n\n")
    return await sse(request, events)


def tone(seconds, rate=24000):
    n = int(round(seconds * rate))
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))


async def speech(request):
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    body = await request.read()
    req = json.loads(body)
    if not req.get("input") or not req.get("voice") or not req.get("model"):
        return openai_error(400, "input, voice and model are required", "invalid_request_error")
    if req.get("response_format") != "pcm":
        return openai_error(400, "this stand-in serves pcm only", "invalid_request_error")
    if (failure := scenario_failure(req["model"], body, "openai")) is not None:
        return failure
    pcm = tone(0.05 * len(req["input"]))  # 50 ms per character
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "x-request-id": "req_mock"})
    await resp.prepare(request)
    i, sizes = 0, [999, 1001, 960, 7]  # odd sizes: frames must not depend on chunk boundaries
    while i < len(pcm):
        n = sizes[(i // 7) % len(sizes)]
        await resp.write(pcm[i:i + n])
        i += n
        if req["model"] == "mock-truncated" and i > len(pcm) // 2:
            await asyncio.sleep(0.1)  # let the client have what was sent, then drop the connection
            request.transport.close()
            return resp
        await asyncio.sleep(0)
    await resp.write_eof()
    return resp


async def transcriptions(request):
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    if not request.content_type.startswith("multipart/form-data"):
        return openai_error(400, "expected multipart/form-data", "invalid_request_error")
    form = await request.post()
    upload, model = form.get("file"), form.get("model")
    if upload is None or not model:
        return openai_error(400, "file and model are required", "invalid_request_error")
    raw = upload.file.read()
    if (failure := scenario_failure(model, raw, "openai")) is not None:
        return failure
    if model == "mock-held":
        await released.wait()  # answers only once the test calls GET /_release
    try:
        with wave.open(io.BytesIO(raw)) as w:
            seconds, rate = w.getnframes() / w.getframerate(), w.getframerate()
    except Exception as e:
        return openai_error(400, f"could not decode audio: {e}", "invalid_request_error")
    return web.json_response({"text": f"heard {seconds:.2f} seconds at {rate} Hz", "usage": {"type": "duration", "seconds": round(seconds)}})


# ---- Anthropic ----------------------------------------------------------------------------------

def ev(name, data):
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"


async def messages(request):
    key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
    if key != "sk-ant-test":
        return anthropic_error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return anthropic_error(400, "invalid_request_error", "anthropic-version header is required")
    body = await request.read()
    try:
        req = json.loads(body)
        model = req["model"]
        assert isinstance(req["max_tokens"], int) and req["messages"]
        for m in req["messages"]:
            assert m["role"] in ("user", "assistant")
    except Exception as e:
        return anthropic_error(400, "invalid_request_error", f"invalid body: {e!r}")
    if (failure := scenario_failure(model, body, "anthropic")) is not None:
        return failure
    if req.get("stream") is not True:
        return anthropic_error(400, "invalid_request_error", "this stand-in answers streaming requests only")
    events = [ev("message_start", {"message": {"id": "msg_mock", "type": "message", "role": "assistant", "content": [], "model": model,
                                                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
              ev("ping", {})]
    if model == "mock-tool":
        events += [
            ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Booking that."}}),
            ev("content_block_stop", {"index": 0}),
            ev("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "toolu_mock", "name": "book", "input": {}}}),
            ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"day\": \"Tue"}}),
            ev("ping", {}),
            ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": "sday\"}"}}),
            ev("content_block_stop", {"index": 1}),
            ev("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 20}}),
        ]
    else:
        events.append(ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        for i, t in enumerate(TEXT):
            if model == "mock-slow-tokens":
                events.append(0.05)
            events.append(ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}}))
            if model == "mock-truncated" and i == 2:
                events.append(None)
            if model == "mock-stream-error" and i == 2:
                events.append(ev("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}))
                return await sse(request, events)
        events += [ev("content_block_stop", {"index": 0}),
                   ev("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": len(TEXT)}})]
    events.append(ev("message_stop", {}))
    if model == "mock-slow":
        await asyncio.sleep(3)
    return await sse(request, events)


async def models(request):
    """The smallest authenticated request each API offers (what `siphon providers check` sends)."""
    if "xi-api-key" in request.headers:  # ElevenLabs
        if request.headers["xi-api-key"] != "sk-eleven":
            return web.json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status=401)
        return web.json_response([{"model_id": "eleven_flash_v2_5", "name": "Eleven Flash v2.5", "can_do_text_to_speech": True}])
    if request.headers.get("anthropic-version"):
        if (request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")) != "sk-ant-test":
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        return web.json_response({"data": [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5",
                                            "created_at": "2025-10-01T00:00:00Z"}], "has_more": False, "first_id": "claude-haiku-4-5",
                                  "last_id": "claude-haiku-4-5"})
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1700000000, "owned_by": "system"}]})


# ---- Deepgram ------------------------------------------------------------------------------------

def dg_refuse(status, code, message):
    return web.json_response({"err_code": code, "err_msg": message, "request_id": "req_mock"}, status=status,
                             headers={"dg-error": message, "dg-request-id": "req_mock", **({"retry-after": "1"} if status == 429 else {})})


def dg_results(text, start, duration, final, speech_final=False, from_finalize=False):
    return {"type": "Results", "channel_index": [0, 1], "duration": duration, "start": start, "is_final": final,
            "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.98,
                                          "words": [{"word": w, "start": start, "end": start + duration, "confidence": 0.98} for w in text.split()]}]},
            "metadata": {"request_id": "req_mock", "model_uuid": "00000000-0000-0000-0000-000000000000",
                         "model_info": {"name": "mock", "version": "1", "arch": "mock"}}}


async def listen(request):
    """Deepgram live STT: frames of 20 ms, loud ones are speech; a segment is finalised after
    `endpointing` ms of quiet (or on Finalize / CloseStream) as "heard N.NN seconds" (model
    mock-markup puts an HTML tag before it)."""
    if request.headers.get("Authorization") != "Token dg-test":
        return dg_refuse(401, "INVALID_AUTH", "Invalid credentials.")
    q = request.query
    model = q.get("model", "")
    if model == "mock-429":
        return dg_refuse(429, "TOO_MANY_REQUESTS", "Too many concurrent requests.")
    encoding, rate = q.get("encoding", "linear16"), int(q.get("sample_rate", "16000"))
    if encoding not in ("linear16", "mulaw"):
        return dg_refuse(400, "Bad Request", "unsupported encoding")
    endpointing = int(q.get("endpointing", "10"))
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    frame = rate // 50
    state = {"pending": b"", "speech": 0, "quiet": 0, "at": 0.0, "start": 0.0}

    async def final(from_finalize=False):
        if state["speech"]:
            seconds = state["speech"] / 50
            # model mock-markup: a caller whose words look like HTML (what a console must show as text).
            said = ("<img src=x onerror=alert(1)> " if model == "mock-markup" else "") + f"heard {seconds:.2f} seconds"
            await ws.send_json(dg_results(said, state["start"], seconds, True, True, from_finalize))
            await ws.send_json({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": state["start"] + seconds})
        state["speech"], state["quiet"] = 0, 0

    async for msg in ws:
        if msg.type == web.WSMsgType.BINARY:
            if not msg.data:
                await ws.close(code=1002, message=b"DATA-0000: empty audio frame")
                break
            if model == "mock-error":
                await ws.close(code=1011, message=b"NET-0001: the stand-in failed on purpose")
                break
            pcm = audioop.ulaw2lin(msg.data, 2) if encoding == "mulaw" else msg.data
            state["pending"] += pcm
            while len(state["pending"]) >= frame * 2:
                chunk, state["pending"] = state["pending"][:frame * 2], state["pending"][frame * 2:]
                loud = audioop.rms(chunk, 2) > 300
                if loud:
                    if not state["speech"]:
                        state["start"] = state["at"]
                        await ws.send_json({"type": "SpeechStarted", "channel": [0, 1], "timestamp": state["at"]})
                    state["speech"] += 1
                    state["quiet"] = 0
                    if state["speech"] % 10 == 0:
                        await ws.send_json(dg_results("heard", state["start"], state["speech"] / 50, False))
                elif state["speech"]:
                    state["quiet"] += 1
                    if state["quiet"] * 20 >= endpointing:
                        await final()
                state["at"] += 0.02
        elif msg.type == web.WSMsgType.TEXT:
            kind = json.loads(msg.data).get("type")
            if kind == "Finalize":
                await final(from_finalize=True)
            elif kind == "CloseStream":
                await final()
                await ws.send_json({"type": "Metadata", "transaction_key": "deprecated", "request_id": "req_mock", "sha256": "0" * 64,
                                    "created": "2026-11-26T00:00:00.000Z", "duration": state["at"], "channels": 1})
                await ws.close(code=1000)
                break
            elif kind != "KeepAlive":
                await ws.send_json({"type": "Error", "variant": "bad_message", "description": f"unknown message type {kind}"})
    return ws


AURA_RATES = {"linear16": {8000, 16000, 24000, 32000, 48000}, "mulaw": {8000, 16000}, "alaw": {8000, 16000}}


async def speak(request):
    """Deepgram Aura REST: audio as the query asks, 50 ms per character. As the real API does,
    no `encoding` means MP3 and linear16 without `container=none` comes in a WAV container — so a
    client that forgets either gets bytes that are not raw PCM."""
    if request.headers.get("Authorization") != "Token dg-test":
        return dg_refuse(401, "INVALID_AUTH", "Invalid credentials.")
    body = await request.read()
    text = json.loads(body).get("text")
    q = request.query
    if not text:
        return dg_refuse(400, "Bad Request", "text is required")
    if (failure := scenario_failure(q.get("model", ""), body, "openai")) is not None:
        return failure
    if not q.get("model", "").startswith("aura"):
        return dg_refuse(400, "Bad Request", "model must be an Aura voice")
    encoding = q.get("encoding")
    if encoding is None:  # the API's default: MP3 at 22.05 kHz
        mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes((i * 37) % 256 for i in range(len(text) * 120))
        return web.Response(body=mp3, headers={"Content-Type": "audio/mpeg", "dg-request-id": "req_mock"})
    if encoding not in AURA_RATES:
        return dg_refuse(400, "Bad Request", f"unsupported encoding {encoding}")
    rate = int(q.get("sample_rate", "24000" if encoding == "linear16" else "8000"))
    if rate not in AURA_RATES[encoding]:
        return dg_refuse(400, "Bad Request", f"sample_rate {rate} is not valid for {encoding}")
    container = q.get("container", "wav")
    if container not in ("none", "wav"):
        return dg_refuse(400, "Bad Request", f"unsupported container {container}")
    pcm = tone(0.05 * len(text), rate)
    if encoding == "mulaw":
        pcm = audioop.lin2ulaw(pcm, 2)
    elif encoding == "alaw":
        pcm = audioop.lin2alaw(pcm, 2)
    if container == "wav":
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2 if encoding == "linear16" else 1)
            w.setframerate(rate)
            w.writeframes(pcm)
        pcm = out.getvalue()
    resp = web.StreamResponse(headers={"Content-Type": "audio/l16" if encoding == "linear16" else "audio/basic", "dg-request-id": "req_mock"})
    await resp.prepare(request)
    for i in range(0, len(pcm), 1001):
        await resp.write(pcm[i:i + 1001])
    await resp.write_eof()
    return resp


async def realtime_ws(request):
    """OpenAI Realtime transcription session (/v1/realtime?intent=transcription): session.created,
    then session.update sets the format (audio/pcm 24 kHz, audio/pcmu, audio/pcma), the model and
    server VAD; appended audio is cut into utterances by energy (speech_started, speech_stopped
    after silence_duration_ms, committed), each transcribed as "heard S seconds" (S = its speech)
    in word deltas and a completed event; input_audio_buffer.commit transcribes what is pending.
    Every client event must validate as the SDK's RealtimeClientEvent (else an `error` event, as
    the service answers), and every event sent as its RealtimeServerEvent. Model "mock-bad": the
    session.update is refused with an invalid_request_error."""
    from pydantic import TypeAdapter
    from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    if request.query.get("intent") != "transcription":
        return openai_error(400, "this stand-in serves transcription sessions (intent=transcription)", "invalid_request_error")
    client_events, server_events = TypeAdapter(RealtimeClientEvent), TypeAdapter(RealtimeServerEvent)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    n = {"event": 0, "item": 0}
    st = {"format": {"type": "audio/pcm", "rate": 24000}, "model": "gpt-4o-transcribe", "silence_ms": 500,
          "heard": 0, "silence": 0, "item": None, "at": 0}

    async def send(event):
        n["event"] += 1
        event = {"event_id": f"event_{n['event']}", **event}
        server_events.validate_python(event)  # what we send must be what the SDK reads
        await ws.send_json(event)

    async def error(type_, code, message, event_id=None):
        await send({"type": "error", "error": {"type": type_, "code": code, "message": message, "param": None, "event_id": event_id}})

    def session():
        return {"type": "transcription", "audio": {"input": {"format": st["format"], "transcription": {"model": st["model"]},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": st["silence_ms"]}}}}

    def rate():
        return 24000 if st["format"]["type"] == "audio/pcm" else 8000

    async def finish(by_vad):
        item, seconds = st["item"], st["heard"] / rate()
        st.update(item=None, heard=0, silence=0)
        if by_vad:
            await send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": st["at"] * 1000 // rate(), "item_id": item})
        await send({"type": "input_audio_buffer.committed", "item_id": item, "previous_item_id": None})
        text = f"heard {seconds:.2f} seconds"
        for i, word in enumerate(text.split(" ")):
            await send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item, "content_index": 0,
                        "delta": word if i == 0 else " " + word})
        await send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item, "content_index": 0,
                    "transcript": text, "usage": {"type": "duration", "seconds": round(seconds, 3)}})

    await send({"type": "session.created", "session": session()})
    async for msg in ws:
        if msg.type != web.WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        try:
            client_events.validate_python(data)
        except Exception as e:  # noqa: BLE001 - the service answers any malformed event with an error event
            await error("invalid_request_error", "invalid_value", str(e)[:300], data.get("event_id"))
            continue
        kind = data["type"]
        if kind == "session.update":
            audio = data["session"].get("audio", {}).get("input", {})
            model = audio.get("transcription", {}).get("model", st["model"])
            if model.startswith("mock-bad"):
                await error("invalid_request_error", "invalid_model", f"Model '{model}' is not a transcription model", data.get("event_id"))
                continue
            st["model"], st["format"] = model, audio.get("format", st["format"])
            st["silence_ms"] = (audio.get("turn_detection") or {}).get("silence_duration_ms", st["silence_ms"])
            await send({"type": "session.updated", "session": session()})
        elif kind == "input_audio_buffer.append":
            raw = base64.b64decode(data["audio"])
            pcm = {"audio/pcmu": lambda b: audioop.ulaw2lin(b, 2), "audio/pcma": lambda b: audioop.alaw2lin(b, 2)}.get(
                st["format"]["type"], lambda b: b)(raw)
            step = rate() // 50 * 2  # 20 ms
            for i in range(0, len(pcm) - step + 1, step):
                chunk = pcm[i:i + step]
                st["at"] += step // 2
                if audioop.rms(chunk, 2) > 300:
                    if st["item"] is None:
                        n["item"] += 1
                        st["item"] = f"item_{n['item']}"
                        await send({"type": "input_audio_buffer.speech_started", "audio_start_ms": st["at"] * 1000 // rate(),
                                    "item_id": st["item"]})
                    st["heard"] += step // 2
                    st["silence"] = 0
                elif st["item"] is not None:
                    st["silence"] += step // 2
                    if st["silence"] * 1000 // rate() >= st["silence_ms"]:
                        await finish(True)
        elif kind == "input_audio_buffer.commit":
            if st["item"] is None:
                await error("invalid_request_error", "input_audio_buffer_commit_empty", "Error committing input audio buffer: buffer is empty",
                            data.get("event_id"))
            else:
                await finish(False)
        elif kind == "input_audio_buffer.clear":
            st.update(item=None, heard=0, silence=0)
            await send({"type": "input_audio_buffer.cleared"})
    return ws


# ---- Cartesia ------------------------------------------------------------------------------------

async def cartesia_ws(request):
    """Cartesia TTS WebSocket: contexts by context_id, transcripts continued until continue:false,
    audio as base64 chunks in the requested raw encoding, then done; cancel stops a context."""
    key = (request.headers.get("Authorization", "").removeprefix("Bearer ") or request.headers.get("X-API-Key")
           or request.query.get("api_key") or request.query.get("access_token"))
    version = request.headers.get("Cartesia-Version") or request.query.get("cartesia_version")
    if key != "sk-cartesia":
        return web.json_response({"error_code": "unauthorized", "title": "Unauthorized", "message": "Invalid API key", "request_id": "req_mock"},
                                 status=401)
    if not version:
        return web.json_response({"error_code": "missing_version", "title": "Bad Request", "message": "Cartesia-Version is required"}, status=400)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    canceled, last_task = set(), {}

    async def speak_context(ctx, req, text, last, previous):
        if previous is not None:
            await previous  # a context's pieces are spoken in order
        fmt = req["output_format"]
        rate, encoding = int(fmt["sample_rate"]), fmt["encoding"]
        pcm = tone(0.05 * len(text), rate) if text else b""
        data = audioop.lin2ulaw(pcm, 2) if encoding == "pcm_mulaw" else pcm
        step = rate // 10 * (1 if encoding == "pcm_mulaw" else 2)  # 100 ms per chunk
        for i in range(0, len(data), step):
            if ctx in canceled:
                return
            if req["model_id"] == "mock-slow":
                await asyncio.sleep(0.05)
            await ws.send_json({"type": "chunk", "context_id": ctx, "data": base64.b64encode(data[i:i + step]).decode(), "done": False,
                                "status_code": 206, "step_time": 1.0})
        if last and ctx not in canceled:
            await ws.send_json({"type": "done", "context_id": ctx, "done": True, "status_code": 200})

    async for msg in ws:
        if msg.type != web.WSMsgType.TEXT:
            continue
        req = json.loads(msg.data)
        ctx = req.get("context_id")
        if req.get("cancel"):
            canceled.add(ctx)
            continue
        missing = [k for k in ("context_id", "model_id", "transcript", "voice", "output_format") if k not in req]
        if missing:
            await ws.send_json({"type": "error", "context_id": ctx, "done": True, "status_code": 400, "error_code": "invalid_request",
                                "title": "Bad Request", "message": f"missing {missing}"})
            continue
        # The voice is {"mode": "id", "id": "<voice id>"} (the SDK's TtsRequestIdSpecifier), nothing else.
        voice = req["voice"]
        fmt = req["output_format"]
        problem = None
        if not isinstance(voice, dict) or voice.get("mode") != "id" or not isinstance(voice.get("id"), str) or not voice["id"] \
                or set(voice) - {"mode", "id", "__experimental_controls"}:
            problem = "voice must be {'mode': 'id', 'id': '<voice id>'}"
        elif not isinstance(fmt, dict) or fmt.get("container") != "raw" or not isinstance(fmt.get("sample_rate"), int):
            problem = "output_format must be {'container': 'raw', 'encoding': …, 'sample_rate': <int>}"
        if problem:
            await ws.send_json({"type": "error", "context_id": ctx, "done": True, "status_code": 400, "error_code": "invalid_request",
                                "title": "Bad Request", "message": problem})
            continue
        if req["model_id"] == "mock-stall":
            continue  # accepted and never answered: a provider stuck mid-request
        if req["model_id"] == "mock-429":
            await ws.send_json({"type": "error", "context_id": ctx, "done": True, "status_code": 429, "error_code": "concurrency_limited",
                                "title": "Too Many Requests", "message": "Concurrency limit reached"})
            continue
        if req["output_format"].get("encoding") not in ("pcm_mulaw", "pcm_s16le", "pcm_f32le", "pcm_alaw"):
            await ws.send_json({"type": "error", "context_id": ctx, "done": True, "status_code": 400, "error_code": "invalid_output_format",
                                "message": "unsupported encoding"})
            continue
        last_task[ctx] = asyncio.ensure_future(speak_context(ctx, req, req["transcript"], not req.get("continue", False), last_task.get(ctx)))
    return ws


# ---- ElevenLabs ----------------------------------------------------------------------------------

async def eleven_idle_timeout(ws):
    """What ElevenLabs does to a socket left idle: the error in-band, then a close with its code."""
    await ws.send_json({"message": "Have not received a new text input within the timeout of 20.0 seconds",
                        "error": "input_timeout_exceeded", "code": 1008})
    await ws.close(code=1008, message=b"Have not received a new text input within the timeout of 20.0 seconds")


async def elevenlabs_ws(request):
    """ElevenLabs stream-input: the opening " " message (may carry the key), text chunks buffered
    until flush or the empty text, audio as base64 in output_format with alignment, then isFinal.
    Voice "mock-timeout" answers like a socket left idle: in-band error, then close 1008."""
    if request.headers.get("xi-api-key") not in ("sk-eleven", None):
        return web.json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status=401)
    fmt = request.query.get("output_format", "mp3_44100_128")
    if fmt != "ulaw_8000" and not fmt.startswith("pcm_"):
        return web.json_response({"detail": {"status": "invalid_output_format", "message": "this stand-in serves ulaw and pcm"}}, status=400)
    voice = request.match_info["voice"]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    rate = 8000 if fmt == "ulaw_8000" else int(fmt.split("_")[1])
    buffered, first, key = "", True, request.headers.get("xi-api-key")

    async def generate(text):
        pcm = tone(0.05 * len(text.strip()), rate)
        data = audioop.lin2ulaw(pcm, 2) if fmt == "ulaw_8000" else pcm
        step = rate // 5 * (1 if fmt == "ulaw_8000" else 2)
        for i in range(0, len(data), step):
            await ws.send_json({"audio": base64.b64encode(data[i:i + step]).decode(), "isFinal": None,
                                "normalizedAlignment": {"charStartTimesMs": [0], "charDurationsMs": [50], "chars": [text[:1] or " "]},
                                "alignment": {"charStartTimesMs": [0], "charDurationsMs": [50], "chars": [text[:1] or " "]}})

    async for msg in ws:
        if msg.type != web.WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        if first:
            first = False
            key = key or data.get("xi-api-key")
            if key != "sk-eleven":
                await ws.send_json({"message": "Invalid API key", "error": "invalid_api_key", "code": 1008})
                await ws.close(code=1008, message=b"Invalid API key")
                break
            if data.get("text") != " ":
                await ws.send_json({"message": "The first message must be a single space", "error": "invalid_request", "code": 1008})
                await ws.close(code=1008, message=b"invalid first message")
                break
            if voice == "mock-timeout":
                await eleven_idle_timeout(ws)
                break
            continue
        text = data.get("text", "")
        if text == "":
            if buffered.strip():
                await generate(buffered)
            await ws.send_json({"isFinal": True})
            await ws.close(code=1000)
            break
        buffered += text
        if data.get("flush") or data.get("try_trigger_generation"):
            await generate(buffered)
            buffered = ""
    return ws


eleven_multi = {"sockets": 0, "max_contexts": 0, "refused": []}


def eleven_model(data):
    """The ElevenLabs SDK model a client message must be, by what it carries; None: none fits."""
    from elevenlabs.types import CloseContext, CloseSocket, FlushContext, InitialiseContext, KeepContextAlive, SendTextMulti
    if "close_socket" in data:
        return CloseSocket
    if "close_context" in data:
        return CloseContext
    if data.get("text") == "" and "context_id" in data:
        return KeepContextAlive
    if "voice_settings" in data or "generation_config" in data or data.get("text") == " ":
        return InitialiseContext
    if "text" in data and "context_id" in data:
        return SendTextMulti
    if "flush" in data:
        return FlushContext
    return None


async def elevenlabs_multi_ws(request):
    """ElevenLabs multi-context socket: contexts by context_id (at most five open at once), each
    opened with a single space, text buffered until flush, close_context speaks what is left and
    ends with isFinal; audio and isFinal carry contextId. Every client message must validate as
    the SDK's model for it, and every reply as the SDK's ReceiveMessageMulti; a message that does
    not is answered in-band and the socket closed 1008, as the service does. Model "mock-slow"
    waits 200 ms before the first audio and paces it at 50 ms a chunk, "mock-stall" never answers; voice "mock-timeout" answers like a
    socket left idle."""
    from elevenlabs.core.pydantic_utilities import parse_obj_as
    from elevenlabs.v_1_text_to_speech_voice_id_multi_stream_input.types import ReceiveMessageMulti
    if request.headers.get("xi-api-key") != "sk-eleven":
        return web.json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status=401)
    fmt, model = request.query.get("output_format", "mp3_44100_128"), request.query.get("model_id", "")
    if fmt != "ulaw_8000" and not fmt.startswith("pcm_"):
        return web.json_response({"detail": {"status": "invalid_output_format", "message": "this stand-in serves ulaw and pcm"}}, status=400)
    if not 1 <= int(request.query.get("inactivity_timeout", "20")) <= 180:
        return web.json_response({"detail": {"status": "invalid_request", "message": "inactivity_timeout: 1 to 180"}}, status=400)
    voice = request.match_info["voice"]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    eleven_multi["sockets"] += 1
    rate = 8000 if fmt == "ulaw_8000" else int(fmt.split("_")[1])
    contexts, tail, active = {}, {}, set()  # id → buffered text; id → its last generation task; ids until isFinal

    async def reply(message):
        parse_obj_as(ReceiveMessageMulti, message)  # what we send must be what the SDK reads
        await ws.send_json(message)

    async def generate(ctx, text, final, previous):
        if previous is not None:
            await previous  # a context's audio comes out in order
        if model == "mock-stall":
            return  # a provider stuck mid-request: no audio, no isFinal
        if model == "mock-slow" and text.strip():
            await asyncio.sleep(0.2)  # time to first audio: contexts started together are all open at once
        pcm = tone(0.05 * len(text.strip()), rate) if text.strip() else b""
        data = audioop.lin2ulaw(pcm, 2) if fmt == "ulaw_8000" else pcm
        step = rate // 5 * (1 if fmt == "ulaw_8000" else 2)
        for i in range(0, len(data), step):
            if model == "mock-slow":
                await asyncio.sleep(0.05)
            if ws.closed:
                return
            await reply({"audio": base64.b64encode(data[i:i + step]).decode(), "contextId": ctx,
                         "normalizedAlignment": {"charStartTimesMs": [0], "charDurationsMs": [50], "chars": [text[:1]]}})
        if final and not ws.closed:
            await reply({"isFinal": True, "contextId": ctx})
        if final:
            active.discard(ctx)

    async def refuse(reason, error="invalid_request"):
        eleven_multi["refused"].append(reason)
        await ws.send_json({"message": reason, "error": error, "code": 1008})
        await ws.close(code=1008, message=reason.encode()[:120])

    async for msg in ws:
        if msg.type != web.WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        kind = eleven_model(data)
        if kind is None:
            await refuse(f"unknown message {sorted(data)}")
            break
        try:
            parse_obj_as(kind, data)
        except Exception as e:
            await refuse(f"{kind.__name__}: {e}")
            break
        if voice == "mock-timeout":
            await eleven_idle_timeout(ws)
            break
        if data.get("close_socket"):
            break
        ctx = data["context_id"]
        if ctx not in contexts:
            if data.get("text") != " ":
                await refuse(f"context {ctx} must open with a single space")
                break
            contexts[ctx] = ""
            active.add(ctx)
            eleven_multi["max_contexts"] = max(eleven_multi["max_contexts"], len(active))
            if len(active) > 5:
                await refuse("too many concurrent contexts on this connection (5)", "max_active_conversations")
                break
            continue
        if data.get("close_context"):
            text = contexts.pop(ctx)
            tail[ctx] = asyncio.ensure_future(generate(ctx, text, True, tail.get(ctx)))
            continue
        contexts[ctx] += data.get("text", "")
        if data.get("flush"):
            text, contexts[ctx] = contexts[ctx], ""
            tail[ctx] = asyncio.ensure_future(generate(ctx, text, False, tail.get(ctx)))
    for task in tail.values():
        task.cancel()
    return ws


async def eleven_stats(request):
    return web.json_response(eleven_multi)


async def projects(request):
    if request.headers.get("Authorization") != "Token dg-test":
        return dg_refuse(401, "INVALID_AUTH", "Invalid credentials.")
    return web.json_response({"projects": [{"project_id": "p-1", "name": "Siphon"}]})


async def voices(request):
    key = request.headers.get("Authorization", "").removeprefix("Bearer ") or request.headers.get("X-API-Key")
    if key != "sk-cartesia":
        return web.json_response({"error_code": "unauthorized", "title": "Unauthorized", "message": "Invalid API key"}, status=401)
    if not request.headers.get("Cartesia-Version"):
        return web.json_response({"error_code": "missing_version", "message": "Cartesia-Version is required"}, status=400)
    return web.json_response({"data": [{"id": "voice-1", "name": "Katie", "description": "", "is_public": True, "is_owner": False,
                                         "language": "en", "created_at": "2025-01-01T00:00:00Z"}], "has_more": False, "next_page": None})


async def release(request):
    released.set()
    return web.json_response({"released": True})


async def stats(request):
    return web.json_response({"requests": sum(attempts.values())})


app = web.Application(client_max_size=32 << 20)
app.router.add_post("/v1/chat/completions", chat)
app.router.add_post("/v1/audio/speech", speech)
app.router.add_post("/v1/audio/transcriptions", transcriptions)
app.router.add_post("/v1/messages", messages)
app.router.add_get("/v1/models", models)
app.router.add_get("/v1/listen", listen)
app.router.add_get("/v1/projects", projects)
app.router.add_get("/voices", voices)
app.router.add_post("/v1/speak", speak)
app.router.add_get("/tts/websocket", cartesia_ws)
app.router.add_get("/v1/realtime", realtime_ws)
app.router.add_get("/v1/text-to-speech/{voice}/stream-input", elevenlabs_ws)
app.router.add_get("/v1/text-to-speech/{voice}/multi-stream-input", elevenlabs_multi_ws)
app.router.add_get("/_stats/elevenlabs", eleven_stats)
app.router.add_get("/_stats", stats)
app.router.add_get("/_release", release)
print("ready", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
