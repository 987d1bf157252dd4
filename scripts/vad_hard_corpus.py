#!/usr/bin/env python3
"""Adds the hard cases to a VAD corpus made by vad_corpus.py: tones and slowly swelling noise.

Writes into DIR (next to labels.txt and clean.wav, which it reads):
  tones.wav         the corpus's speech with a tone block in every pause: DTMF key presses, voicemail
                    beeps (400-2000 Hz), ringback (440+480, 400+450), busy (480+620), dial tone
                    (350+440), fax CNG (1100 Hz), at -25 to -10 dBFS, over pink noise 30 dB below the
                    speech, through mu-law. Its frames' speech labels are labels.txt's (tones are not
                    speech); tones.txt marks the frames where a tone sounds ('1').
  swell.wav         two minutes of car-like noise (brown and pink, low-passed) whose level swells
                    and ebbs by 10-20 dB over 3-10 s, no speech: every speech start is a false one.
  swell_10dB.wav    the corpus's speech over that noise at 10 dB SNR on average (scored with
                    labels.txt like the other *_NNdB.wav files).
Deterministic for a given --seed.
"""
import argparse, array, audioop, math, os, random, subprocess, sys, tempfile

from vad_corpus import FRAME, RATE, read_pcm, write_pcm

DTMF_LOW = [697, 770, 852, 941]
DTMF_HIGH = [1209, 1336, 1477, 1633]


def tone(freqs, seconds, dbfs, phase0=0.0):
    """Sum of sines, each at dbfs (peak), with 5 ms ramps so the edges do not click."""
    n = int(seconds * RATE)
    amp = 32767 * 10 ** (dbfs / 20)
    ramp = int(0.005 * RATE)
    out = array.array("h", bytes(2 * n))
    for i in range(n):
        g = min(1.0, i / ramp, (n - 1 - i) / ramp) if ramp else 1.0
        v = sum(math.sin(2 * math.pi * f * i / RATE + phase0) for f in freqs) * amp * g
        out[i] = max(-32768, min(32767, int(v)))
    return out


def silence(seconds):
    return array.array("h", bytes(2 * int(seconds * RATE)))


def tone_block(rng):
    """One of the tones a call meets, as (samples, on-mask per sample)."""
    kind = rng.choice(["dtmf", "dtmf", "beep", "ringback", "busy", "dial", "cng"])
    level = rng.uniform(-25, -10)
    parts = []  # (samples, is_tone)
    if kind == "dtmf":
        for _ in range(rng.randint(3, 10)):
            pair = [rng.choice(DTMF_LOW), rng.choice(DTMF_HIGH)]
            parts += [(tone(pair, rng.uniform(0.06, 0.2), level - 3), True), (silence(rng.uniform(0.06, 0.15)), False)]
    elif kind == "beep":
        f = rng.choice([1000, 1000, 440, 850, 1400, 1950, rng.uniform(400, 2000)])
        parts = [(tone([f], rng.uniform(0.2, 1.0), level), True)]
    elif kind == "ringback":
        pair = rng.choice([[440, 480], [400, 450]])
        for _ in range(rng.randint(1, 2)):
            parts += [(tone(pair, 2.0 if pair[0] == 440 else 0.4, level - 3), True), (silence(rng.uniform(0.2, 1.0)), False)]
    elif kind == "busy":
        for _ in range(4):
            parts += [(tone([480, 620], 0.5, level - 3), True), (silence(0.5), False)]
    elif kind == "dial":
        parts = [(tone([350, 440], rng.uniform(1.0, 2.5), level - 3), True)]
    else:  # fax CNG
        for _ in range(2):
            parts += [(tone([1100], 0.5, level), True), (silence(rng.uniform(0.5, 1.0)), False)]
    samples = array.array("h")
    mask = []
    for s, on in parts:
        samples.extend(s)
        mask += [on] * len(s)
    return samples, mask


def pauses(labels):
    """(start, end) frame ranges of the pauses in the speech labels (longer than 0.8 s)."""
    out, i = [], 0
    while i < len(labels):
        if labels[i] == 0:
            j = i
            while j < len(labels) and labels[j] == 0:
                j += 1
            if j - i > 40:
                out.append((i, j))
            i = j
        else:
            i += 1
    return out


def swell_noise(seconds, rng, tmp):
    """Car-like noise: brown and pink noise below 1.5 kHz, its level swelling over seconds."""
    raw = os.path.join(tmp, "car.wav")
    # sox's noise is random unless -R: repeatable noise, then an offset from the seed's generator
    subprocess.run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", raw, "synth", str(seconds + 20), "brownnoise",
                    "synth", str(seconds + 20), "pinknoise", "mix", "lowpass", "1500", "highpass", "200", "norm", "-3"], check=True)
    skip = rng.randrange(0, 20 * RATE)
    data = array.array("h", read_pcm(raw))[skip:skip + int(seconds * RATE)]
    # Envelope in dB: half-cosine swells of 3-10 s between a floor and a crest 10-20 dB above it.
    env, t = [], 0
    level = -20.0
    while len(env) < len(data):
        length = int(rng.uniform(3, 10) * RATE)
        target = -20.0 - rng.uniform(10, 20) if level > -25 else -20.0 + rng.uniform(-3, 3)
        for i in range(length):
            env.append(level + (target - level) * (0.5 - 0.5 * math.cos(math.pi * i / length)))
        level = target
    for i in range(len(data)):
        data[i] = max(-32768, min(32767, int(data[i] * 10 ** (env[i] / 20))))
    return data


def mulaw(data):
    return audioop.ulaw2lin(audioop.lin2ulaw(data, 2), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed * 7919 + 1)
    clean = array.array("h", read_pcm(os.path.join(a.dir, "clean.wav")))
    labels = [int(c) for c in open(os.path.join(a.dir, "labels.txt")).read().strip()]

    # Tones in the pauses, 0.3 s away from the speech on either side.
    mixed = array.array("h", clean)
    mask = [0] * len(labels)
    for start, end in pauses(labels):
        block, on = tone_block(rng)
        room = (end - start) * FRAME - int(0.6 * RATE)
        if room <= 0:
            continue
        block, on = block[:room], on[:room]
        at = start * FRAME + int(0.3 * RATE) + rng.randrange(0, max(1, room - len(block)))
        for i, v in enumerate(block):
            mixed[at + i] = max(-32768, min(32767, mixed[at + i] + v))
        for f in range(len(block) // FRAME):
            frame = on[f * FRAME:(f + 1) * FRAME]
            if sum(frame) > FRAME // 2:
                mask[(at // FRAME) + f + (1 if at % FRAME else 0)] = 1
    with tempfile.TemporaryDirectory() as tmp:
        pink = os.path.join(tmp, "pink.wav")
        subprocess.run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", pink, "synth", str(len(clean) / RATE + 1),
                        "pinknoise", "vol", "0.3"], check=True)
        floor = array.array("h", read_pcm(pink))[:len(clean)]
        speech_rms = math.sqrt(sum(clean[f * FRAME + i] ** 2 for f, l in enumerate(labels) if l for i in range(0, FRAME, 4))
                               / max(1, sum(labels) * FRAME // 4))
        gain = speech_rms / max(1.0, audioop.rms(floor.tobytes(), 2)) * 10 ** (-30 / 20)
        mixed = audioop.add(mixed.tobytes(), audioop.mul(floor.tobytes(), 2, gain), 2)
        write_pcm(os.path.join(a.dir, "tones.wav"), mulaw(mixed))
        with open(os.path.join(a.dir, "tones.txt"), "w") as f:
            f.write("".join(map(str, mask)) + "\n")

        car = swell_noise(120, rng, tmp)
        write_pcm(os.path.join(a.dir, "swell.wav"), mulaw(car.tobytes()))
        car2 = swell_noise(len(clean) / RATE + 1, rng, tmp)[:len(clean)]
        gain = speech_rms / max(1.0, audioop.rms(car2.tobytes(), 2)) * 10 ** (-10 / 20)
        mix = audioop.add(clean.tobytes(), audioop.mul(car2.tobytes(), 2, gain), 2)
        write_pcm(os.path.join(a.dir, "swell_10dB.wav"), mulaw(mix))
    print(f"hard cases: {sum(mask)} tone frames in tones.wav, 120 s of swelling noise in swell.wav, swell_10dB.wav; in {a.dir}")


if __name__ == "__main__":
    sys.exit(main())
