#!/usr/bin/env python3
"""A labelled corpus for answering-machine detection, generated (eSpeak NG, tones, noise; nothing
downloaded), at G.711 quality: what the far end of an outbound call sounds like from the moment it
answers.

  amd_corpus.py OUT_DIR [--count 40] [--seed 1] [--held-out] [--language en|es|fr|de]

Classes: human (a fifth of them a business's receptionist), machine (voicemail greeting, a fifth of them
an office's, some English ones a "Hello?" and a pause first, then a beep or none), screener, ivr, fax (CNG), silence. Each clip is 8 kHz 16-bit mono
(μ-law round-tripped), some with noise at 20 or 10 dB SNR or 2 % packet loss; `labels.json` lists {file,
label, text, speech_ms, voice, snr_db, loss, beep_at_ms, greeting_ends_ms, opening_pause_ms, parts}
(`text`: what is said, for a recogniser stand-in in `siphon amd eval --words`; `speech_ms`: when,
[start, end] ms; `parts`: [{text, speech_ms}] when a menu's or an office's first sentence is followed by
a pause, `opening_pause_ms` long). Tuning uses seeds below 1000; `--held-out` draws from seeds 1000 and up, never used while tuning. `--language es|fr|de`:
the same classes said in Spanish, French or German (that language's eSpeak voices, seeds of its own; the
English clips are unchanged by it)."""
import argparse
import audioop
import json
import os
import random
import subprocess
import tempfile
import wave

RATE = 8000
VOICES = ["en-us", "en-gb", "en-us+f3", "en-us+m3", "en-gb+f4", "en-us+f5", "en-us+m7", "en-029"]
CARRIER = ["The person you are calling is not available. Please leave a message after the tone.",
           "The wireless customer you are calling is not available. At the tone, please record your message.",
           "Your call has been forwarded to an automatic voice message system. Please record your message after the tone.",
           "The number you have dialed is not available. Please leave your name and number after the beep."]
PERSONAL = ["Hi, you've reached Ann. I can't take your call right now. Leave me a message and I'll call you back.",
            "Hello, this is Mark. Sorry I missed you. Please leave a message.",
            "Hey, it's Sam. Leave a message.",
            "You have reached the Garcia family. We are not home right now, but if you leave your name, number and a short message, we will get back to you as soon as we can. Thank you and have a great day."]
HUMAN = ["Hello?", "Yes, this is Ann.", "Hi, who's calling?", "Hello, Mark speaking.", "Yeah?", "Hello, this is Sam, how can I help?"]
SCREENER = ["Hi, the person you're calling is using a screening service from Google, and will get a copy of this conversation. Go ahead and say your name and why you're calling.",
            "Please state your name and the reason for your call, and I'll see if this person is available.",
            "Hello, the person you are calling is screening their calls. Please say your name and why you are calling."]
IVR = ["Thank you for calling. For sales, press one. For support, press two. For billing, press three.",
       "Welcome to First National Bank. Please listen carefully as our menu options have changed. To check your balance, press one.",
       "If you know your party's extension, you may dial it at any time. For a directory, press nine."]

# Businesses: a receptionist answering, and an office's voicemail that opens as its menu does and pauses.
RECEPTION = ["Thank you for calling Acme Dental, this is Ann, how may I help you?", "Good morning, Acme Dental, Ann speaking.",
             "Acme Dental, how can I help you?"]
OFFICE = ["Thank you for calling Acme Dental. Our office is now closed. Please leave a message after the tone.",
          "Welcome to Acme Dental. We are away from the phone. Leave your name and number and we will call you back."]

# The oldest trap: a greeting that says hello as a person would, pauses, then goes on as a recording.
TRAP = ["Hello? Sorry, I can't come to the phone right now. Leave a message after the beep.",
        "Hello? Ha, got you, this is my voicemail. Leave a message."]

ENGLISH = {"VOICES": VOICES, "CARRIER": CARRIER, "PERSONAL": PERSONAL, "HUMAN": HUMAN, "SCREENER": SCREENER, "IVR": IVR,
           "RECEPTION": RECEPTION, "OFFICE": OFFICE, "TRAP": TRAP}
# The same kinds of answer in Spanish (a US outbound list reaches Spanish voicemail and people).
SPANISH = {
    "VOICES": ["es", "es-419", "es+f3", "es-419+m3", "es+f4", "es-419+f5"],
    "CARRIER": ["El número que usted marcó no está disponible. Por favor deje su mensaje después del tono.",
                "La persona a quien llama no se encuentra disponible. Grabe su mensaje después de la señal.",
                "Su llamada ha sido transferida a un sistema de mensajes de voz. Deje su mensaje después del tono."],
    "PERSONAL": ["Hola, has llamado a Ana. Ahora no puedo contestar. Deja tu mensaje y te devolveré la llamada.",
                 "Hola, soy Marcos. No puedo atender en este momento. Deje un mensaje.",
                 "Hola, soy Sam. Deja un mensaje.",
                 "Ha llamado a la familia García. No estamos en casa, pero si deja su nombre, su número y un breve mensaje, le devolveremos la llamada lo antes posible. Gracias y que tenga un buen día."],
    "HUMAN": ["¿Bueno?", "Sí, habla Ana.", "Hola, ¿quién habla?", "Diga.", "¿Aló?", "Hola, soy Sam, ¿en qué le puedo ayudar?"],
    "SCREENER": ["Hola, la persona a quien llama está filtrando sus llamadas. Por favor diga su nombre y el motivo de su llamada.",
                 "Por favor indique su nombre y el motivo de su llamada, y veré si esta persona está disponible."],
    "IVR": ["Gracias por llamar. Para ventas, marque uno. Para soporte, marque dos. Para facturación, marque tres.",
            "Bienvenido a Banco Nacional. Por favor escuche con atención, nuestras opciones del menú han cambiado. Para consultar su saldo, oprima uno.",
            "Si conoce la extensión de su grupo, márquela en cualquier momento. Para el directorio, presione nueve."],
    "RECEPTION": ["Gracias por llamar a Clínica Dental Acme, habla Ana, ¿en qué le puedo ayudar?", "Buenos días, Clínica Acme, habla Ana."],
    "OFFICE": ["Gracias por llamar a Clínica Dental Acme. Nuestra oficina está cerrada. Por favor deje su mensaje después del tono."],
}


def speak(text, voice, speed, pitch):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, text], check=True, capture_output=True)
        with wave.open(f.name) as w:
            pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    return audioop.ratecv(pcm, 2, 1, rate, RATE, None)[0]


def voiced_ms(pcm, offset_ms):
    """[start, end] ms of the voice in pcm (eSpeak pads its speech with silence), plus offset_ms."""
    loud = [i for i in range(0, len(pcm) // 2, 40) if abs(int.from_bytes(pcm[2 * i:2 * i + 2], "little", signed=True)) > 300]
    if not loud:
        return [offset_ms, offset_ms]
    return [offset_ms + loud[0] * 1000 // RATE, offset_ms + loud[-1] * 1000 // RATE]


def silence(ms):
    return b"\0\0" * (RATE * ms // 1000)


def tone(hz, ms, amplitude=8000):
    import math
    return b"".join(int(amplitude * math.sin(2 * math.pi * hz * i / RATE)).to_bytes(2, "little", signed=True) for i in range(RATE * ms // 1000))


def mix(a, b):
    n = max(len(a), len(b))
    return audioop.add(a.ljust(n, b"\0"), b.ljust(n, b"\0"), 2)


def noise(n_bytes, rms, rng):
    return b"".join(int(max(-32768, min(32767, rng.gauss(0, rms)))).to_bytes(2, "little", signed=True) for _ in range(n_bytes // 2))


# French and German the same way (eSpeak's own voices; its mbrola voices need data Debian splits off).
FRENCH = {
    "VOICES": ["fr", "fr-be", "fr-ch", "fr+f3", "fr+m3", "fr-be+f4"],
    "CARRIER": ["Votre correspondant n'est pas disponible pour le moment. Veuillez laisser un message après le bip sonore.",
                "Le numéro que vous avez composé n'est pas joignable. Laissez votre message après le signal.",
                "Bonjour, vous êtes bien sur la messagerie vocale du zéro six, douze, trente-quatre. Laissez un message après le bip."],
    "PERSONAL": ["Bonjour, vous êtes bien chez Anne. Je ne suis pas disponible pour le moment, laissez-moi un message et je vous rappellerai.",
                 "Salut, c'est Marc. Je ne peux pas répondre, laisse un message.",
                 "Bonjour, c'est Sam. Laissez un message.",
                 "Vous êtes bien chez la famille Martin. Nous sommes absents pour le moment, mais si vous laissez votre nom, votre numéro et un court message, nous vous rappellerons dès que possible. Merci et bonne journée."],
    "HUMAN": ["Allô ?", "Oui, c'est Anne.", "Allô, qui est à l'appareil ?", "Oui, bonjour ?", "Allô, Marc à l'appareil.", "Bonjour, ici Sam, je peux vous aider ?"],
    "SCREENER": ["Bonjour, la personne que vous appelez filtre ses appels. Veuillez dire votre nom et la raison de votre appel.",
                 "Veuillez indiquer votre nom et l'objet de votre appel, et je vérifierai si cette personne est disponible."],
    "IVR": ["Merci de votre appel. Pour le service commercial, tapez un. Pour l'assistance technique, tapez deux. Pour la facturation, tapez trois.",
            "Bienvenue à la Banque Populaire. Écoutez attentivement, notre menu a changé. Pour consulter votre solde, appuyez sur la touche un.",
            "Si vous connaissez le numéro de poste de votre correspondant, composez-le maintenant. Pour l'annuaire, tapez neuf."],
    "RECEPTION": ["Merci de votre appel, cabinet Acme, Anne à l'appareil, que puis-je faire pour vous ?", "Cabinet Acme, bonjour, Anne à l'appareil."],
    "OFFICE": ["Merci de votre appel. Le cabinet Acme est fermé. Veuillez laisser un message après le bip."],
}
GERMAN = {
    "VOICES": ["de", "de+f3", "de+m3", "de+f4", "de+m7", "de+f5"],
    "CARRIER": ["Der Teilnehmer ist zur Zeit nicht erreichbar. Bitte hinterlassen Sie eine Nachricht nach dem Signalton.",
                "Die von Ihnen gewählte Rufnummer ist nicht erreichbar. Sprechen Sie nach dem Signalton.",
                "Hallo, hier ist die Mobilbox von null eins sieben eins, zwei drei vier. Bitte sprechen Sie nach dem Ton."],
    "PERSONAL": ["Hallo, hier ist Anna. Ich kann gerade nicht rangehen, hinterlass mir eine Nachricht, ich rufe zurück.",
                 "Hi, hier ist Markus. Leider bin ich nicht erreichbar. Sprich mir was auf.",
                 "Hallo, Sam hier. Hinterlassen Sie eine Nachricht.",
                 "Sie sind verbunden mit dem Anschluss der Familie Müller. Wir sind im Moment nicht zu Hause, aber wenn Sie Ihren Namen, Ihre Nummer und eine kurze Nachricht hinterlassen, rufen wir Sie so bald wie möglich zurück. Vielen Dank und einen schönen Tag."],
    "HUMAN": ["Hallo?", "Ja, Anna hier.", "Hallo, wer spricht da?", "Müller.", "Ja, bitte?", "Guten Tag, hier ist Sam, was kann ich für Sie tun?"],
    "SCREENER": ["Hallo, die Person, die Sie anrufen, überprüft ihre Anrufe. Bitte nennen Sie Ihren Namen und den Grund Ihres Anrufs.",
                 "Bitte sagen Sie Ihren Namen und warum Sie anrufen, dann sehe ich nach, ob die Person erreichbar ist."],
    "IVR": ["Vielen Dank für Ihren Anruf. Für den Vertrieb drücken Sie die Eins. Für den Kundendienst drücken Sie die Zwei. Für Rechnungsfragen drücken Sie die Drei.",
            "Willkommen bei der Sparkasse. Bitte hören Sie genau zu, unser Menü hat sich geändert. Um Ihren Kontostand abzufragen, drücken Sie die Eins.",
            "Wenn Sie die Durchwahl Ihres Gesprächspartners kennen, wählen Sie sie jetzt. Für die Vermittlung drücken Sie die Neun."],
    "RECEPTION": ["Vielen Dank für Ihren Anruf, Praxis Acme, Anna am Apparat, was kann ich für Sie tun?", "Praxis Acme, guten Tag, Anna am Apparat."],
    "OFFICE": ["Vielen Dank für Ihren Anruf. Die Praxis Acme ist geschlossen. Bitte hinterlassen Sie eine Nachricht nach dem Signalton."],
}
LANGUAGES = {"en": ENGLISH, "es": SPANISH, "fr": FRENCH, "de": GERMAN}
# Each language's seeds are its own: no held-out clip of one is a clip of another.
SEED_OFFSET = {"en": 0, "es": 500, "fr": 600, "de": 700}


def business(text, opening_pause_ms, voice, speed, pitch, offset_ms):
    """`text` said with a pause after its first sentence (a menu's or an office's "Thank you for
    calling." and the recording's gap before it goes on; a trap's "Hello?"), said whole when the
    pause is 0; and, with a pause, its parts: [{text, speech_ms}] (from `offset_ms`), for the
    recogniser stand-in."""
    first, _, rest = text.replace("? ", ". ", 1).partition(". ")
    first += "?" if text.startswith(first + "?") else "."
    if opening_pause_ms == 0 or not rest:
        return speak(text, voice, speed, pitch), None
    a, b = speak(first, voice, speed, pitch), speak(rest, voice, speed, pitch)
    at = offset_ms + (len(a) // 2 + RATE * opening_pause_ms // 1000) * 1000 // RATE
    parts = [{"text": first, "speech_ms": voiced_ms(a, offset_ms)}, {"text": rest, "speech_ms": voiced_ms(b, at)}]
    return a + silence(opening_pause_ms) + b, parts


# The pause after a business's opening sentence: none, or as a recording leaves it (up to 1.8 s).
OPENING_PAUSES = [0, 300, 700, 1100, 1800]


def clip(label, rng, texts, variety):
    """One clip of `label` said in `texts`' language (ENGLISH, SPANISH). `variety` draws the business
    variants (a receptionist, an office's voicemail, a menu's pause) apart from `rng`, so every other
    clip is what it was before they were added."""
    VOICES, CARRIER, PERSONAL, HUMAN, SCREENER, IVR = (texts[k] for k in ("VOICES", "CARRIER", "PERSONAL", "HUMAN", "SCREENER", "IVR"))
    voice, speed, pitch = rng.choice(VOICES), rng.randint(130, 190), rng.randint(25, 80)
    meta = {"label": label, "voice": voice}
    if label == "machine":
        text = rng.choice(CARRIER + PERSONAL)
        lead = rng.choice([0, 100, 300, 600])
        pause = 0
        kind = variety.random()
        if kind < 0.2:  # an office's voicemail
            text, pause = variety.choice(texts["OFFICE"]), variety.choice(OPENING_PAUSES)
            meta["opening_pause_ms"] = pause
        elif kind < 0.35 and "TRAP" in texts:  # "Hello?", a pause, then the recording
            text, pause = variety.choice(texts["TRAP"]), variety.choice([800, 1200, 1600])
            meta["opening_pause_ms"] = pause
        meta["text"] = text
        said, parts = business(text, pause, voice, speed, pitch, lead)
        pcm = silence(lead) + said
        meta["greeting_ends_ms"] = len(pcm) * 1000 // (2 * RATE)
        meta["speech_ms"] = voiced_ms(said, lead)
        if parts:
            meta["parts"] = parts
        if rng.random() < 0.8:
            gap = rng.choice([200, 400, 700, 1000])
            beep = rng.choice([(1000, 500), (850, 300), (1400, 200), (440, 800), (1900, 150), (620, 1000)])
            pcm += silence(gap)
            meta["beep_at_ms"] = len(pcm) * 1000 // (2 * RATE)
            meta["beep_hz"], meta["beep_ms"] = beep
            pcm += tone(*beep)
        pcm += silence(3000)
    elif label == "human":
        text = rng.choice(HUMAN)
        if variety.random() < 0.2:  # a receptionist
            text = variety.choice(texts["RECEPTION"])
        meta["text"] = text
        lead = rng.choice([0, 200, 500, 1200, 2000])
        said = speak(text, voice, speed, pitch)
        meta["speech_ms"] = voiced_ms(said, lead)
        pcm = silence(lead) + said + silence(3000)
        if rng.random() < 0.25:  # a busy room behind them
            room = speak(rng.choice(PERSONAL), rng.choice(VOICES), 160, 50) + speak(rng.choice(HUMAN), rng.choice(VOICES), 170, 60)
            pcm = mix(pcm, audioop.mul(room[:len(pcm)], 2, 0.12))
            meta["babble"] = True
    elif label == "screener":
        lead = silence(rng.choice([0, 300]))  # drawn first: the clips stay those of earlier runs
        meta["text"] = rng.choice(SCREENER)
        said = speak(meta["text"], voice, speed, pitch)
        meta["speech_ms"] = voiced_ms(said, len(lead) * 500 // RATE)
        pcm = lead + said + silence(3000)
    elif label == "ivr":
        lead = silence(rng.choice([0, 300]))
        meta["text"] = rng.choice(IVR)
        meta["opening_pause_ms"] = pause = variety.choice(OPENING_PAUSES)
        said, parts = business(meta["text"], pause, voice, speed, pitch, len(lead) * 500 // RATE)
        meta["speech_ms"] = voiced_ms(said, len(lead) * 500 // RATE)
        if parts:
            meta["parts"] = parts
        pcm = lead + said + silence(2000)
    elif label == "fax":
        pcm = b"".join(tone(1100, 500, 6000) + silence(3000) for _ in range(3))
    else:  # silence: an open line
        pcm = silence(8000)
    snr = rng.choice([None, None, 20, 10])
    if snr is not None and audioop.rms(pcm, 2) > 0:
        speech_rms = audioop.rms(pcm, 2)
        pcm = mix(pcm, noise(len(pcm), speech_rms / (10 ** (snr / 20)), rng))
    elif label == "silence":
        pcm = mix(pcm, noise(len(pcm), 30, rng))  # line hiss
    meta["snr_db"] = snr
    loss = rng.random() < 0.2
    if loss:  # 2 % of 20 ms frames lost (zero-filled, as a line without concealment would)
        frames = [pcm[i:i + 320] for i in range(0, len(pcm), 320)]
        pcm = b"".join(b"\0" * len(f) if rng.random() < 0.02 else f for f in frames)
    meta["loss"] = loss
    return audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2), meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=40, help="clips per class")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--language", choices=sorted(LANGUAGES), default="en")
    args = ap.parse_args()
    texts = LANGUAGES[args.language]
    os.makedirs(args.out, exist_ok=True)
    labels = []
    base = (1000 + args.seed if args.held_out else args.seed) + SEED_OFFSET[args.language]
    for c, label in enumerate(["human", "machine", "screener", "ivr", "fax", "silence"]):
        for i in range(args.count):
            rng = random.Random(base * 100_000 + c * 10_000 + i)
            variety = random.Random(-(base * 100_000 + c * 10_000 + i))
            pcm, meta = clip(label, rng, texts, variety)
            name = f"{label}-{i:03d}.wav"
            with wave.open(os.path.join(args.out, name), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(pcm)
            labels.append({"file": name, **meta})
    json.dump(labels, open(os.path.join(args.out, "labels.json"), "w"), indent=1)
    print(f"{len(labels)} clips in {args.out}")


if __name__ == "__main__":
    main()
