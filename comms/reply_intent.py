"""What a patient's reply to an appointment reminder means: confirm, reschedule, or a person must look.

Pure and deliberately cautious: a reply confirms only when it plainly says yes and nothing else that
could change the meaning (no "but", no question, no "can't"); anything that asks to move the visit is a
reschedule request; everything else is an alert for staff. Getting "yes" wrong costs a no-show,
getting it right only saves staff a glance.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Intent = Literal["confirm", "reschedule", "alert"]

YES_WORDS = frozenset(
    {
        "c", "y", "yes", "yess", "yes!", "yep", "yeah", "yea", "ya", "yup", "ok", "okay", "k", "kk",
        "confirm", "confirmed", "confirming", "sure", "absolutely", "definitely", "si", "sí", "oui",
    }
)  # fmt: skip
YES_EMOJI = frozenset("👍👌✅✔☑🙂😊")
# Skin tones, the emoji presentation selector and spaces may come with them.
EMOJI_EXTRAS = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff\ufe0f ")
YES_PHRASES = (
    r"(i|we)('ll| will| shall) be there",
    r"(i|we)('m| am|'re| are) coming",
    r"see you (then|there|soon|tomorrow|on \w+)",
    r"(that|this) works",
    r"sounds good",
    r"looking forward",
    r"will (come|attend)",
    r"(i|we) confirm",
    r"thanks?( you)?",
    r"thank you",
    r"perfect",
    r"great",
)
RESCHEDULE = (
    r"^r$",
    r"\bre-?schedul",
    r"\bre-?book",
    r"\bmove (it|my|the|our)\b",
    r"\b(change|switch) (it|my|the|our|the time|the date|times?|dates?|day)\b",
    r"\b(another|different|other|new|later|earlier) (time|day|date|slot|appointment)\b",
    r"\bpostpone",
    r"\bpush (it )?back\b",
    r"\b(can'?t|cannot|can not|won'?t|will not|unable to|not able to) (make|come|attend|be there|do)\b",
    r"\bcancel",
)
DOUBT = (
    r"\bno\b",
    r"\bnot\b",
    r"\bbut\b",
    r"\?",
    r"\bmaybe\b",
    r"\bwho\b",
    r"\bwhat\b",
    r"\bwhen\b",
    r"\bwhere\b",
)


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", text)


def _emoji_yes(text: str) -> bool:
    """Only thumbs-up-like emoji (with their skin tones), at least one of them."""
    return any(ch in YES_EMOJI for ch in text) and all(ch in YES_EMOJI or ch in EMOJI_EXTRAS for ch in text)


def classify(text: str) -> Intent:
    """Read one reply to a reminder."""
    t = _normal(text)
    if not t:
        return "alert"
    if any(re.search(p, t) for p in RESCHEDULE):
        return "reschedule"
    if any(re.search(p, t) for p in DOUBT):
        return "alert"
    bare = t.strip(" .!,;:-~*")
    if bare in YES_WORDS or _emoji_yes(bare):
        return "confirm"
    words = re.findall(r"[\w']+", t)
    if words and words[0] in YES_WORDS:
        rest = t[t.find(words[0]) + len(words[0]) :].strip(" .!,;:-~*")
        if not rest or _emoji_yes(rest):
            return "confirm"
        if any(re.search(p, rest) for p in YES_PHRASES):
            return "confirm"
        return "alert"
    if any(re.fullmatch(rf"(ok |yes |)?{p}[ .!,]*(thanks?( you)?)?[ .!]*", bare) for p in YES_PHRASES[:7]):
        return "confirm"
    return "alert"


SIGNATURE_START = re.compile(r"^(-- ?|sent from my .*|get outlook for .*)$", re.IGNORECASE)


def classify_email(new_text: str) -> Intent:
    """Read the unquoted part of an e-mailed reply: its first paragraph answers, the rest may only
    withdraw a yes (a later "can we move it" or question), and a signature is not read at all."""
    lines = []
    for line in new_text.splitlines():
        if SIGNATURE_START.match(line.strip()):
            break
        lines.append(line)
    paragraphs = [p for p in re.split(r"\n\s*\n", "\n".join(lines).strip()) if p.strip()]
    if not paragraphs:
        return "alert"
    intent = classify(paragraphs[0])
    rest = _normal(" ".join(paragraphs[1:]))
    if intent == "confirm" and rest:
        if any(re.search(p, rest) for p in RESCHEDULE[1:]):
            return "reschedule"
        if "?" in rest:
            return "alert"
    return intent
