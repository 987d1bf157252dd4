#!/usr/bin/env python3
"""A reverse proxy that serves an upstream under a path prefix, as nginx `location /siphon/ {
proxy_pass http://dispatcher/; }` does: /siphon/x -> upstream /x; anything else is 404.
Streams responses (server-sent events pass through as they come).

  prefix_proxy.py PORT UPSTREAM_BASE PREFIX        e.g. 18081 http://127.0.0.1:8080 /siphon/"""
import sys

import aiohttp
from aiohttp import web

port, upstream, prefix = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


async def proxy(request):
    if not request.path.startswith(prefix):
        return web.Response(status=404, text="not under the prefix")
    url = upstream + "/" + request.path_qs[len(prefix):]
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    session = request.app["session"]
    async with session.request(request.method, url, headers=headers, data=await request.read(), allow_redirects=False) as up:
        out = web.StreamResponse(status=up.status, headers={k: v for k, v in up.headers.items() if k.lower() not in HOP})
        await out.prepare(request)
        async for chunk in up.content.iter_any():
            await out.write(chunk)
        await out.write_eof()
        return out


async def start(app):
    app["session"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))


async def stop(app):
    await app["session"].close()


app = web.Application()
app.on_startup.append(start)
app.on_cleanup.append(stop)
app.router.add_route("*", "/{tail:.*}", proxy)
web.run_app(app, host="127.0.0.1", port=port, print=None)
