#!/usr/bin/env python3
"""Scores Google's WebRTC VAD (webrtcvad-wheels) on a corpus made by vad_corpus.py.

Prints JSON: {"<noise>_<snr>dB": {"mode2": {"precision", "recall", "f1"}, "mode3": {...}}, ...},
frame by frame (20 ms) against labels.txt.
"""
import glob, json, os, sys, wave

import webrtcvad


def score(pred, lab):
    tp = sum(1 for p, l in zip(pred, lab) if p and l)
    fp = sum(1 for p, l in zip(pred, lab) if p and not l)
    fn = sum(1 for p, l in zip(pred, lab) if not p and l)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def main(d):
    lab = [c == "1" for c in open(os.path.join(d, "labels.txt")).read().strip()]
    out = {}
    for path in sorted(glob.glob(os.path.join(d, "*_*dB.wav"))):
        with wave.open(path, "rb") as w:
            data = w.readframes(w.getnframes())
            rate = w.getframerate()
        n = rate // 50 * 2
        res = {}
        for mode in (2, 3):
            vad = webrtcvad.Vad(mode)
            pred = [vad.is_speech(data[i:i + n], rate) for i in range(0, len(data) - n + 1, n)]
            res[f"mode{mode}"] = score(pred[:len(lab)], lab[:len(pred)])
        out[os.path.basename(path)[:-4]] = res
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
