#!/usr/bin/env python3
"""Asterisk's app_amd (the published algorithm of apps/app_amd.c) as a reference: the baseline
Siphon's answering-machine detection is measured against, on the same corpus (amd_corpus.py).

  app_amd.py CORPUS_DIR [--json]

Per 20 ms frame: silent when the mean absolute amplitude is under silence_threshold (app_amd's
DSP silence check). Then, with its default parameters:
  initial silence >= initial_silence              -> MACHINE (INITIALSILENCE)
  speech in the greeting >= greeting               -> MACHINE (LONGGREETING)
  a word (>= min_word_length of speech after >= between_words_silence of silence) count
      >= maximum_number_of_words                   -> MACHINE (MAXWORDS)
  one word >= maximum_word_length                  -> MACHINE (MAXWORDLENGTH)
  silence after the greeting >= after_greeting_silence -> HUMAN
  total_analysis_time reached                      -> NOTSURE (TOOLONG)
Prints the confusion matrix (true label × decision), accuracy counting human→HUMAN and
machine→MACHINE as right, and decision times."""
import argparse
import json
import os
import statistics
import wave

DEFAULTS = dict(initial_silence=2500, greeting=1500, after_greeting_silence=800, total_analysis_time=5000,
                min_word_length=100, between_words_silence=50, maximum_number_of_words=2,
                silence_threshold=256, maximum_word_length=5000)


def detect(pcm, rate, p=DEFAULTS):
    frame = rate // 50
    total = silence = voice = consecutive_voice = words = 0
    in_initial_silence, in_greeting, in_word = True, False, False
    for i in range(0, len(pcm) - 2 * frame + 1, 2 * frame):
        samples = memoryview(pcm[i:i + 2 * frame]).cast("h")
        total += 20
        if total >= p["total_analysis_time"]:
            return "NOTSURE", "TOOLONG", total
        if sum(abs(s) for s in samples) / frame < p["silence_threshold"]:
            silence += 20
            if silence >= p["between_words_silence"]:
                in_word = False
                consecutive_voice = 0
            if in_initial_silence and silence >= p["initial_silence"]:
                return "MACHINE", "INITIALSILENCE", total
            if in_greeting and silence >= p["after_greeting_silence"]:
                return "HUMAN", "HUMAN", total
        else:
            silence = 0  # the DSP's silence count is of consecutive silent frames
            consecutive_voice += 20
            voice += 20
            if consecutive_voice >= p["min_word_length"] and not in_word:
                words += 1
                in_word = True
            if consecutive_voice >= p["maximum_word_length"]:
                return "MACHINE", "MAXWORDLENGTH", total
            if words >= p["maximum_number_of_words"]:
                return "MACHINE", "MAXWORDS", total
            if in_greeting and voice >= p["greeting"]:
                return "MACHINE", "LONGGREETING", total
            if voice >= p["min_word_length"]:
                in_initial_silence = False
                in_greeting = True
    return "NOTSURE", "TOOLONG", total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    labels = json.load(open(os.path.join(args.corpus, "labels.json")))
    matrix, times, right = {}, {}, 0
    for item in labels:
        with wave.open(os.path.join(args.corpus, item["file"])) as w:
            decision, cause, ms = detect(w.readframes(w.getnframes()), w.getframerate())
        matrix.setdefault(item["label"], {}).setdefault(decision, 0)
        matrix[item["label"]][decision] += 1
        times.setdefault(item["label"], []).append(ms)
        right += (item["label"], decision) in (("human", "HUMAN"), ("machine", "MACHINE"))
    scored = sum(1 for i in labels if i["label"] in ("human", "machine"))
    result = {"matrix": matrix, "accuracy_human_machine": right / max(1, scored),
              "decision_ms": {k: {"median": statistics.median(v), "p95": sorted(v)[int(0.95 * (len(v) - 1))]} for k, v in times.items()}}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print("app_amd (Asterisk defaults) on", args.corpus)
    for label, row in matrix.items():
        print(f"  {label:<9} " + "  ".join(f"{d}: {n}" for d, n in sorted(row.items()))
              + f"   decided in {result['decision_ms'][label]['median']} ms median, {result['decision_ms'][label]['p95']} p95")
    print(f"  human/machine accuracy {100 * result['accuracy_human_machine']:.1f} % of {scored}")


if __name__ == "__main__":
    main()
