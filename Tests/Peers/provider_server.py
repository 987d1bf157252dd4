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
import hashlib
import io
import json
import math
import struct
import sys
import wave

from aiohttp import web

attempts = {}
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
        elif item is None:  # truncate: drop the connection
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


async def chat(request):
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    body = await request.read()
    try:
        req = json.loads(body)
        model, messages = req["model"], req["messages"]
    except Exception as e:
        return openai_error(400, f"invalid body: {e!r}", "invalid_request_error")
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
                events.append(None)
        events.append(chunk(finish="stop"))
    if usage:
        events.append(chunk(choices=False, usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(TEXT), "total_tokens": prompt_tokens + len(TEXT)}))
    events.append("data: [DONE]\n\n")
    return await sse(request, events)


def tone(seconds, rate=24000):
    n = int(seconds * rate)
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
                events.append(None)
        events += [ev("content_block_stop", {"index": 0}),
                   ev("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": len(TEXT)}})]
    events.append(ev("message_stop", {}))
    if model == "mock-slow":
        await asyncio.sleep(3)
    return await sse(request, events)


async def models(request):
    """The smallest authenticated request each API offers (what `siphon providers check` sends)."""
    if request.headers.get("anthropic-version"):
        if (request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")) != "sk-ant-test":
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        return web.json_response({"data": [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5",
                                            "created_at": "2025-10-01T00:00:00Z"}], "has_more": False, "first_id": "claude-haiku-4-5",
                                  "last_id": "claude-haiku-4-5"})
    if request.headers.get("Authorization") != "Bearer sk-test":
        return openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1700000000, "owned_by": "system"}]})


async def stats(request):
    return web.json_response({"requests": sum(attempts.values())})


app = web.Application(client_max_size=32 << 20)
app.router.add_post("/v1/chat/completions", chat)
app.router.add_post("/v1/audio/speech", speech)
app.router.add_post("/v1/audio/transcriptions", transcriptions)
app.router.add_post("/v1/messages", messages)
app.router.add_get("/v1/models", models)
app.router.add_get("/_stats", stats)
print("ready", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
