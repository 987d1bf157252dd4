#!/usr/bin/env python3
"""A stand-in for livekit-server's Twirp API, enough for `siphon preflight`: ListRooms answers 200
only for a token that LiveKit's own verifier (livekit-api's TokenVerifier) accepts with the
roomList grant, else 401 with a Twirp error body — as the server does.
Usage: livekit_twirp.py PORT API_KEY API_SECRET"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from livekit.api import TokenVerifier

port, key, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
verifier = TokenVerifier(key, secret)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/twirp/livekit.RoomService/ListRooms":
            return self.reply(404, {"code": "bad_route", "msg": "no handler for " + self.path})
        auth = self.headers.get("Authorization", "")
        try:
            claims = verifier.verify(auth.removeprefix("Bearer "))
            if not claims.video or not claims.video.room_list:
                return self.reply(403, {"code": "permission_denied", "msg": "no permissions to access the room"})
        except Exception as e:
            return self.reply(401, {"code": "unauthenticated", "msg": str(e)})
        self.reply(200, {"rooms": []})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


print("ready", flush=True)
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
