#!/usr/bin/env python3
"""Generates the labelled VAD corpus used by the tests and the VAD comparison table.

Speech: espeak-ng sentences (several voices, speeds, pitches) separated by 1-3 s pauses (each side of a phone call talks about half the time), at an
active speech level of about -26 dBov (typical telephone level). Noise: white and pink (sox synth)
and babble (six espeak-ng talkers summed). Each mix is passed through 8 kHz G.711 mu-law (encode and
decode), like a phone call.

Labels, one character per 20 ms frame ('1' speech, '0' not), come from the clean speech before noise:
a frame is speech when its energy is within 35 dB of the loud frames (95th percentile), and pauses
shorter than 150 ms inside an utterance count as speech (a turn-taking VAD should not split words).

Writes DIR/<noise>_<snr>dB.wav (8 kHz PCM16 mono), DIR/labels.txt and DIR/clean.wav. Python standard
library plus the espeak-ng and sox programs; deterministic for a given --seed.
"""
import argparse, array, audioop, math, os, random, subprocess, sys, tempfile, wave

RATE = 8000
FRAME = RATE // 50  # 20 ms

SENTENCES = [
    "Hello, thank you for calling the dental clinic. How can I help you today?",
    "I would like to book an appointment for a cleaning next week.",
    "We have an opening on Tuesday at ten in the morning.",
    "Could you do Thursday afternoon instead? I work in the mornings.",
    "Thursday at three thirty is available. May I have your name please?",
    "My name is Jordan Miller, spelled M I L L E R.",
    "Thank you Jordan. Is this your first visit with us?",
    "No, I came in last year for a filling.",
    "Perfect, I found your record. Do you still have the same insurance?",
    "Yes, it is the same plan through my employer.",
    "Great. You are booked for Thursday at three thirty with doctor Patel.",
    "Will I get a reminder before the appointment?",
    "Yes, we will send you a text message the day before.",
    "Is there parking near the office?",
    "There is a free parking lot behind the building on Elm Street.",
    "What should I do if I need to cancel?",
    "Please call us at least twenty four hours in advance.",
    "Do you also do teeth whitening?",
    "We do. I can add a consultation at the end of your visit if you like.",
    "That would be nice, thank you so much.",
    "You are welcome. Is there anything else I can help you with?",
    "No, that is all. Have a good day.",
    "Our office hours are eight to six on weekdays and nine to one on Saturday.",
    "I am calling about a bill I received last month.",
    "Let me transfer you to our billing department, one moment please.",
]

VOICES = ["en-us", "en-us+f3", "en+m3", "en-us+f1", "en+m1", "en-gb+f2"]


def synth(text, voice, speed, pitch, out):
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", out, text], check=True)
    res = out + ".8k.wav"
    subprocess.run(["sox", "-R", out, "-r", str(RATE), "-c", "1", "-b", "16", res], check=True)
    return read_pcm(res)


def read_pcm(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == RATE, path
        return w.readframes(w.getnframes())


def write_pcm(path, data):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data)


def frames(data):
    return [data[i:i + 2 * FRAME] for i in range(0, len(data) - 2 * FRAME + 1, 2 * FRAME)]


def power(chunk):
    return audioop.rms(chunk, 2) ** 2 if chunk else 0.0


def labels_for(clean):
    energies = [power(f) for f in frames(clean)]
    db = [10 * math.log10(e) if e > 0 else -200.0 for e in energies]
    loud = sorted(db)[int(0.95 * (len(db) - 1))]
    lab = [1 if d > loud - 35 else 0 for d in db]
    # close pauses shorter than 150 ms (7 frames)
    i = 0
    while i < len(lab):
        if lab[i] == 0:
            j = i
            while j < len(lab) and lab[j] == 0:
                j += 1
            if 0 < i and j < len(lab) and j - i < 8:
                for k in range(i, j):
                    lab[k] = 1
            i = j
        else:
            i += 1
    return lab


def scale_to(data, target_db, lab):
    fr = frames(data)
    active = [power(f) for f, l in zip(fr, lab) if l]
    level = 10 * math.log10(sum(active) / len(active) / 32768.0 ** 2)
    return audioop.mul(data, 2, 10 ** ((target_db - level) / 20))


def noise(kind, seconds, tmp, rng):
    if kind in ("white", "pink"):
        out = os.path.join(tmp, f"{kind}.wav")
        # sox's noise is random unless -R; repeatable noise, then an offset from the seed's generator
        subprocess.run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", out, "synth", str(seconds + 10),
                        f"{kind}noise", "vol", "0.3"], check=True)
        skip = rng.randrange(0, 10 * RATE) * 2
        return read_pcm(out)[skip:skip + int(seconds * RATE) * 2]
    # babble: six talkers, each reading sentences back to back, summed at equal level
    total = None
    n = int(seconds * RATE) * 2
    for t in range(6):
        track = b""
        while len(track) < n:
            s = rng.choice(SENTENCES)
            track += synth(s, VOICES[t % len(VOICES)], rng.randint(150, 190), rng.randint(30, 70),
                           os.path.join(tmp, f"b{t}.wav"))
        off = rng.randrange(0, len(track) - n + 1) // 2 * 2
        track = audioop.mul(track[off:off + n], 2, 0.3)
        total = track if total is None else audioop.add(total, track, 2)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--sentences", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--snrs", default="20,10,5")
    ap.add_argument("--noises", default="white,pink,babble")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clean = b""
        for i in range(a.sentences):
            clean += b"\0\0" * int(rng.uniform(1.0, 3.0) * RATE)
            clean += synth(SENTENCES[i % len(SENTENCES)], rng.choice(VOICES), rng.randint(140, 190),
                           rng.randint(30, 70), os.path.join(tmp, "s.wav"))
        clean += b"\0\0" * int(0.8 * RATE)
        lab = labels_for(clean)
        clean = scale_to(clean, -26.0, lab)
        write_pcm(os.path.join(a.dir, "clean.wav"), clean)
        with open(os.path.join(a.dir, "labels.txt"), "w") as f:
            f.write("".join(map(str, lab)) + "\n")
        fr = frames(clean)
        speech_power = sum(power(x) for x, l in zip(fr, lab) if l) / max(1, sum(lab))
        seconds = len(clean) / 2 / RATE + 1
        for kind in a.noises.split(","):
            nz = noise(kind, seconds, tmp, rng)[:len(clean)]
            noise_power = power(nz)
            for snr in map(int, a.snrs.split(",")):
                gain = math.sqrt(speech_power / (noise_power * 10 ** (snr / 10)))
                mix = audioop.add(clean, audioop.mul(nz, 2, gain), 2)
                mix = audioop.ulaw2lin(audioop.lin2ulaw(mix, 2), 2)  # the phone line
                write_pcm(os.path.join(a.dir, f"{kind}_{snr}dB.wav"), mix)
    print(f"corpus: {len(lab)} frames ({len(lab) / 50:.0f} s), {sum(lab) / len(lab):.0%} speech, in {a.dir}")


if __name__ == "__main__":
    sys.exit(main())
