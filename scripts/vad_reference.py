#!/usr/bin/env python3
"""Scores reference VADs on the hard cases of a corpus (vad_corpus.py + vad_hard_corpus.py), as
`siphon vad eval` scores Siphon's: the share of tone frames flagged as speech and speech F1 in
tones.wav, false speech starts a minute in swell.wav, and F1 on every *_NNdB.wav.

Google's WebRTC VAD (webrtcvad-wheels, modes 2 and 3) always; Silero VAD when --silero names its
ONNX model (silero_vad.onnx from PyPI's silero-vad wheel, run with onnxruntime; a reference only,
not part of Siphon). Every detector's frame decisions go through the same segmenting as Siphon's
defaults: speech starts on a speech frame, ends after 100 ms without one. Prints JSON.
"""
import argparse, glob, json, os, sys, wave

from vad_webrtc import score

RATE_FRAMES = 50  # 20 ms frames


def read(path):
    with wave.open(path, "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate()


def marks(path):
    return [c == "1" for c in open(path).read().strip()]


def segment(raw, hangover=5):
    """Per-frame speech state from raw per-frame decisions, with a 100 ms hangover."""
    out, speaking, quiet = [], False, 0
    for r in raw:
        if r:
            speaking, quiet = True, 0
        elif speaking:
            quiet += 1
            if quiet >= hangover:
                speaking, quiet = False, 0
        out.append(speaking)
    return out


def f1(pred, lab):
    return score(pred, lab)["f1"]


def webrtc(mode):
    import webrtcvad
    def run(data, rate):
        vad = webrtcvad.Vad(mode)
        n = rate // RATE_FRAMES * 2
        return [vad.is_speech(data[i:i + n], rate) for i in range(0, len(data) - n + 1, n)]
    return run


def silero(model):
    import numpy as np, onnxruntime
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=opts)

    def run(data, rate):
        x = np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768
        chunk, context = (256, 32) if rate == 8000 else (512, 64)
        state = np.zeros((2, 1, 128), dtype=np.float32)
        ctx = np.zeros((1, context), dtype=np.float32)
        probs = []
        for i in range(0, len(x) - chunk + 1, chunk):
            inp = np.concatenate([ctx, x[i:i + chunk][None, :]], axis=1)
            out, state = session.run(None, {"input": inp, "state": state, "sr": np.array(rate, dtype=np.int64)})
            probs.append(float(out[0][0]))
            ctx = inp[:, -context:]
        # its chunks are 32 ms: each 20 ms frame takes the chunk its middle falls in; Silero's own
        # thresholds (0.5 to start, 0.35 to stay)
        n = len(x) // (rate // RATE_FRAMES)
        frame_p = [probs[min(len(probs) - 1, int((f + 0.5) * (rate // RATE_FRAMES) / chunk))] for f in range(n)]
        out, speaking = [], False
        for p in frame_p:
            speaking = p >= 0.5 or (speaking and p >= 0.35)
            out.append(speaking)
        return out
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--silero", help="path of silero_vad.onnx")
    a = ap.parse_args()
    d = a.dir
    lab, tone_mask = marks(os.path.join(d, "labels.txt")), marks(os.path.join(d, "tones.txt"))
    detectors = {"webrtc-2": webrtc(2), "webrtc-3": webrtc(3)}
    if a.silero:
        detectors["silero"] = silero(a.silero)
    result = {}
    for name, run in detectors.items():
        r = {}
        tones, rate = read(os.path.join(d, "tones.wav"))
        states = segment(run(tones, rate))
        on_tones = [s for s, t in zip(states, tone_mask) if t]
        r["tones_flagged"] = round(sum(on_tones) / max(1, len(on_tones)), 4)
        r["tones_f1"] = f1(states, lab)
        swell, rate = read(os.path.join(d, "swell.wav"))
        states = segment(run(swell, rate))
        starts = sum(1 for i, s in enumerate(states) if s and (i == 0 or not states[i - 1]))
        r["swell_starts_per_minute"] = round(starts / (len(swell) / 2 / rate / 60), 2)
        for path in sorted(glob.glob(os.path.join(d, "*_*dB.wav"))):
            data, rate = read(path)
            r["f1_" + os.path.basename(path)[:-4]] = f1(segment(run(data, rate)), lab)
        result[name] = r
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
