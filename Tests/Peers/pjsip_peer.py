#!/usr/bin/env python3
"""A PJSIP (pjsua2) user agent driven by the tests: answers or places one call, plays a WAV into it,
records what it hears, sends/receives RFC 2833 DTMF, holds/unholds, hangs up on cue.

Events are printed as JSON lines on stdout: ready, incoming, state, media, dtmf, disconnected.
Actions: --actions "2.0:dtmf:123,4.0:hold,5.0:unhold,6.0:reoffer,8.0:hangup" (seconds after the call is
confirmed; reoffer is a re-INVITE without SDP). --no-sdp-offer places the call as a delayed offer (INVITE
without SDP: the callee offers in its 200, the answer goes in the ACK).
"""
import argparse, json, os, sys, time

import pjsua2 as pj

def emit(**kw):
    kw["t"] = round(time.time(), 3)
    print(json.dumps(kw), flush=True)


class Call(pj.Call):
    def __init__(self, peer, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.peer = peer
        self.confirmed_at = None
        self.player = None
        self.recorder = None

    def onCallState(self, prm):
        ci = self.getInfo()
        emit(event="state", state=ci.stateText, code=ci.lastStatusCode)
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.time()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            emit(event="disconnected", code=ci.lastStatusCode, reason=ci.lastReason)
            self.peer.done = True

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        media = ci.media
        for i in range(len(media)):
            mi = media[i]
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            emit(event="media", status=int(mi.status), dir=int(mi.dir))
            if mi.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                am = self.getAudioMedia(i)
                if self.peer.args.play and self.player is None:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.peer.args.play, pj.PJMEDIA_FILE_NO_LOOP if not self.peer.args.loop else 0)
                if self.player is not None:
                    self.player.startTransmit(am)
                if self.peer.args.record and self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(self.peer.args.record)
                if self.recorder is not None:
                    am.startTransmit(self.recorder)

    def onDtmfDigit(self, prm):
        emit(event="dtmf", digit=prm.digit)

    def onCallTransferRequest(self, prm):
        # Accept (202); pjsua then calls the target and reports progress to the transferor in NOTIFYs.
        emit(event="transfer", target=prm.dstUri)
        self.peer.transferred = Call(self.peer, self.peer.account)
        prm.newCall = self.peer.transferred


class Account(pj.Account):
    def __init__(self, peer):
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm):
        call = Call(self.peer, self, prm.callId)
        self.peer.call = call
        emit(event="incoming")
        op = pj.CallOpParam()
        op.statusCode = self.peer.args.answer_code
        if self.peer.args.answer_code == 200 and self.peer.args.ring_ms:
            ring = pj.CallOpParam()
            ring.statusCode = 180
            call.answer(ring)
            self.peer.answer_at = time.time() + self.peer.args.ring_ms / 1000
        else:
            call.answer(op)


class Peer:
    def __init__(self, args):
        self.args = args
        self.done = False
        self.call = None
        self.answer_at = None
        self.account = None
        self.transferred = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rtp-port", type=int, required=True)
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--tls", action="store_true", help="SIP over TLS (with --tls-cert/--tls-key to accept calls)")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--srtp", action="store_true", help="SRTP with SDES keys, mandatory (plain RTP offers get 488)")
    ap.add_argument("--play")
    ap.add_argument("--loop", action="store_true")
    ap.add_argument("--record")
    ap.add_argument("--call", help="URI to call instead of waiting")
    ap.add_argument("--no-sdp-offer", action="store_true", help="INVITE without SDP (delayed offer)")
    ap.add_argument("--answer-code", type=int, default=200)
    ap.add_argument("--ring-ms", type=int, default=0)
    ap.add_argument("--actions", default="")
    ap.add_argument("--codec", default="PCMU/8000")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-password")
    ap.add_argument("--min-se", type=int, help="session timer Min-SE: INVITEs asking for less get 422")
    args = ap.parse_args()

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = args.port
    # Bound and announced on loopback: the tests' calls stay on 127.0.0.1 whatever other
    # interfaces are up (another test's veth pair, NetworkNamespace).
    tcfg.boundAddress = tcfg.publicAddress = "127.0.0.1"
    if args.tls:
        # PJSIP does not check Siphon's certificate (a test CA it does not know); Siphon checks PJSIP's.
        if args.tls_cert:
            tcfg.tlsConfig.certFile = args.tls_cert
            tcfg.tlsConfig.privKeyFile = args.tls_key
        tcfg.tlsConfig.verifyServer = False
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_TCP if args.tcp else pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, 255 if c.codecId.startswith(args.codec) else 0)

    peer = Peer(args)
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:peer@127.0.0.1:{args.port}"
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    acfg.mediaConfig.transportConfig.boundAddress = acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    if args.min_se:
        acfg.callConfig.timerMinSESec = args.min_se
        acfg.callConfig.timerSessExpiresSec = max(args.min_se, 1800)
    if args.tls:
        # Where it listens, as a carrier's edge says, not the port of each connection it opens (what
        # pjsua would put): a worker taking the call over connects there.
        acfg.sipConfig.contactForced = f"<sip:peer@127.0.0.1:{args.port};transport=tls>"
    if args.srtp:
        acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
        acfg.mediaConfig.srtpSecureSignaling = 0
        keyings = pj.IntVector()
        keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
        acfg.mediaConfig.srtpOpt.keyings = keyings
    if args.auth_user:
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.auth_user, 0, args.auth_password or ""))
    acc = Account(peer)
    acc.create(acfg)
    peer.account = acc
    emit(event="ready", port=args.port)

    if args.call:
        call = Call(peer, acc)
        peer.call = call
        op = pj.CallOpParam(True)
        if args.no_sdp_offer:
            op.opt.flag = pj.PJSUA_CALL_NO_SDP_OFFER
        call.makeCall(args.call, op)

    actions = []
    for a in filter(None, args.actions.split(",")):
        at, what, *rest = a.split(":")
        actions.append((float(at), what, rest[0] if rest else None))
    start = time.time()
    while not peer.done and time.time() - start < args.timeout:
        ep.libHandleEvents(10)
        call = peer.call
        if call is None:
            continue
        if peer.answer_at and time.time() >= peer.answer_at:
            peer.answer_at = None
            op = pj.CallOpParam()
            op.statusCode = 200
            call.answer(op)
        if call.confirmed_at is None:
            continue
        elapsed = time.time() - call.confirmed_at
        while actions and elapsed >= actions[0][0]:
            _, what, arg = actions.pop(0)
            emit(event="action", action=what)
            if what == "dtmf":
                call.dialDtmf(arg)
            elif what == "hold":
                call.setHold(pj.CallOpParam(True))
            elif what == "unhold":
                op = pj.CallOpParam(True)
                op.opt.flag = pj.PJSUA_CALL_UNHOLD
                call.reinvite(op)
            elif what == "reoffer":
                op = pj.CallOpParam(True)
                op.opt.flag = pj.PJSUA_CALL_NO_SDP_OFFER
                call.reinvite(op)
            elif what == "hangup":
                call.hangup(pj.CallOpParam(True))
    # Let the BYE transaction finish, then write the recording by dropping it before libDestroy.
    for _ in range(50):
        ep.libHandleEvents(10)
    if peer.call is not None:
        peer.call.recorder = None
        peer.call.player = None
    peer.call = None
    acc.shutdown()
    ep.libDestroy()
    emit(event="exit")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
