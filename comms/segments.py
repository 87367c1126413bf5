"""How many SMS segments a text costs: GSM-7 (160, then 153 each) or UCS-2 (70, then 67 each)."""

from __future__ import annotations

from dataclasses import dataclass

_GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(_GSM7_BASIC)
_EXTENDED = frozenset(_GSM7_EXTENDED)


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    characters: int  # what the user typed, in code points


def count_segments(body: str) -> Segments:
    """Segments as the carrier counts them: any non-GSM character makes the whole text UCS-2."""
    if all(ch in _BASIC or ch in _EXTENDED for ch in body):
        septets = sum(2 if ch in _EXTENDED else 1 for ch in body)
        return Segments("GSM-7", _split(septets, 160, 153), len(body))
    units = len(body.encode("utf-16-le")) // 2  # an emoji is two UTF-16 code units
    return Segments("UCS-2", _split(units, 70, 67), len(body))


def _split(units: int, single: int, multi: int) -> int:
    if units <= single:
        return 1
    return -(-units // multi)
