"""Separate what the patient just wrote from the quoted history their mail client appended.

The timeline shows the new part and folds the history; nothing is ever dropped: every input line ends up
in one of the two halves. When in doubt the line stays in the new part, because hiding a patient's words
is worse than showing an old quote.
"""

from __future__ import annotations

import re

# Attribution lines ("On <date>, <name> wrote:") in the languages patients' mail clients most often use.
# Gmail wraps long ones over two or three lines, so candidates are tried joined.
ATTRIBUTIONS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"On\s.{1,300}\swrote\s?:",
        r"Le\s.{1,300}\sa\s+écrit\s?:",
        r"Am\s.{1,300}\sschrieb\s?.{0,250}:",
        r"El\s.{1,300}\sescribió\s?:",
        r"Il\s.{1,300}\sha\s+scritto\s?:",
        r"Op\s.{1,300}\sschreef\s?.{0,250}:",
        r"Em\s.{1,300}\sescreveu\s?:",
    )
]
ORIGINAL_MESSAGE = re.compile(
    r"-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|mensagem original)\s*-{2,}",
    re.IGNORECASE,
)
# Outlook's header block: From, then Sent/Date, then To/Subject, within a few lines.
HEADER_FROM = re.compile(r"\*?(from|de|von|van|da|fra|från|od)\s?:\*?\s*\S.*", re.IGNORECASE)
HEADER_SENT = re.compile(
    r"\*?(sent|date|envoyé|gesendet|enviado|fecha|datum|verzonden|inviato|data|skickat|sendt)\s?:\*?\s*\S.*",
    re.IGNORECASE,
)
HEADER_REST = re.compile(
    r"\*?(to|subject|cc|à|objet|an|betreff|para|asunto|aan|onderwerp|a|oggetto|assunto|till|ämne|emne)"
    r"\s?:\*?.*",
    re.IGNORECASE,
)
SEPARATOR = re.compile(r"_{8,}|-{8,}")


def split_quoted(text: str) -> tuple[str, str]:
    """(new part, quoted history); the history is "" when nothing could be told apart safely."""
    lines = re.split(r"\r?\n", text)
    found = _history(lines)
    if found is None:
        return text, ""
    start, end = found
    if not any(line.strip() for line in lines[:start]):
        return text, ""
    new_lines = lines[:start] + lines[end:]
    return "\n".join(new_lines).strip("\n").rstrip(), "\n".join(lines[start:end]).strip("\n")


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _history(lines: list[str]) -> tuple[int, int] | None:
    """lines[start:end] is the history; a "-- " signature after "> "-quoted history is the sender's own."""
    sig = _signature_tail(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _quoted(line):
            continue
        if ORIGINAL_MESSAGE.fullmatch(stripped) or _outlook_block(lines, index):
            # Unquoted history carries its own signature, so nothing after it is moved back.
            return _include_separator(lines, index), len(lines)
        if not _attribution(lines, index):
            continue
        end = sig if sig > index else len(lines)
        rest = [_quoted(line) for line in lines[index + 1 : end] if line.strip()]
        if rest and all(rest):
            return index, end
        if not any(rest):
            return index, len(lines)
        # A reply written between quotes (bottom- or inline-posting) stays whole in the new part.
    start = _trailing_quote(lines[:sig])
    return None if start is None else (start, sig)


def _signature_tail(lines: list[str]) -> int:
    """Where a trailing "-- " signature starts, when it follows every quoted line (so it is the sender's)."""
    for index in range(len(lines) - 1, -1, -1):
        if _quoted(lines[index]):
            return len(lines)
        if lines[index].rstrip("\r") in {"-- ", "--"}:
            return index
    return len(lines)


def _attribution(lines: list[str], index: int) -> bool:
    joined = ""
    for line in lines[index : index + 3]:
        if _quoted(line) or not line.strip():
            return False
        joined = f"{joined} {line.strip()}".strip()
        if len(joined) > 400:
            return False
        if any(p.fullmatch(joined) for p in ATTRIBUTIONS):
            return True
    return False


def _outlook_block(lines: list[str], index: int) -> bool:
    if not HEADER_FROM.fullmatch(lines[index].strip()):
        return False
    window = [line.strip() for line in lines[index + 1 : index + 7]]
    sent = next((i for i, line in enumerate(window) if HEADER_SENT.fullmatch(line)), None)
    if sent is None or sent > 2:
        return False
    return any(HEADER_REST.fullmatch(line) for line in window)


def _include_separator(lines: list[str], index: int) -> int:
    """Outlook puts a rule of underscores above its header block; it belongs to the history."""
    start = index
    while start > 0 and (not lines[start - 1].strip() or SEPARATOR.fullmatch(lines[start - 1].strip())):
        start -= 1
    if any(SEPARATOR.fullmatch(line.strip()) for line in lines[start:index]):
        return start
    return index


def _trailing_quote(lines: list[str]) -> int | None:
    """The start of a block of "> " lines that runs to the end, with its attribution line if any."""
    start = len(lines)
    while start > 0 and (not lines[start - 1].strip() or _quoted(lines[start - 1])):
        start -= 1
    if not any(_quoted(line) for line in lines[start:]):
        return None
    while start < len(lines) and not lines[start].strip():
        start += 1
    before = start - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    for back in range(3):
        first = before - back
        if first >= 0 and _attribution(lines, first):
            return first
    return start
