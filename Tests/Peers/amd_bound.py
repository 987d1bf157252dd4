"""The earliest any detector could decide "human" on a corpus of amd_corpus.py: a bound, not a detector.

For each human clip, its words are taken as the recogniser stand-in of `siphon amd eval --words
--interims` gives them (spoken evenly over the clip's speech, a word heard once half of it is said,
240 ms behind; the bound leaves out the stand-in's 200 ms between interim results). The
words tell a person from a recording at the first word where what was said so far stops being how
any recording of the corpus (voicemail, screener, menu) begins; a detector that decided earlier would
be guessing. A clip whose whole answer is how some recording begins ("Hello?") can be told only by
the pause after it: the bound takes its end, with no pause at all. So the bound is optimistic: it
knows every text in the corpus and waits for nothing.

    python3 Tests/Peers/amd_bound.py CORPUS [--delay-ms 240] [--json]
"""
import argparse
import json
import os
import re
import statistics


def words(text):
    return re.sub(r"[^a-z0-9'\u00c0-\u024f ]+", " ", text.lower().replace("\u2019", "'")).split()


def recording_openings(labels):
    """Every non-human clip's words (a recording's whole text)."""
    return [words(l["text"]) for l in labels if l["label"] in ("machine", "screener", "ivr") and l.get("text")]


def bound_ms(clip, openings, delay_ms):
    said = words(clip["text"])
    start, end = clip["speech_ms"]
    for k in range(1, len(said) + 1):
        if not any(o[:k] == said[:k] for o in openings):
            return start + (end - start) * (2 * k - 1) // (2 * len(said)) + delay_ms, " ".join(said[:k])
    return end, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--delay-ms", type=int, default=240, help="the recogniser's delay behind speech")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    labels = json.load(open(os.path.join(args.corpus, "labels.json")))
    openings = recording_openings(labels)
    rows = []
    for clip in labels:
        if clip["label"] == "human":
            at, told_by = bound_ms(clip, openings, args.delay_ms)
            rows.append({"file": clip["file"], "bound_ms": at, "told_by": told_by, "speech_ms": clip["speech_ms"]})
    times = sorted(r["bound_ms"] for r in rows)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    within = sum(t <= 1500 for t in times)
    if args.json:
        print(json.dumps({"humans": len(rows), "bound_median_ms": statistics.median(times), "bound_p95_ms": p95,
                          "within_1500_ms": within, "clips": rows}, indent=1))
        return
    for r in rows:
        how = f'words "{r["told_by"]}"' if r["told_by"] else "only the pause after it"
        print(f'  {r["file"]} {r["bound_ms"]} ms ({how}; speech {r["speech_ms"][0]}-{r["speech_ms"][1]} ms)')
    print(f"earliest possible 'human': {statistics.median(times):.0f} ms median, {p95} p95; "
          f"{within} of {len(rows)} within 1500 ms")


if __name__ == "__main__":
    main()
