"""Stripe's form encoding read back: `line_items[0][price_data][currency]=usd` into nested values.

Pure functions, so the decoding is tested apart from any server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A key the stand-in cannot read as Stripe would (mismatched brackets, a list and a map at once)."""


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    if not head:
        raise FormError(f"invalid parameter name: {key}")
    parts = [head]
    if rest:
        rest = "[" + rest
        found = _PART.findall(rest)
        if "".join(f"[{p}]" for p in found) != rest:
            raise FormError(f"invalid parameter name: {key}")
        parts += found
    return parts


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts from bracketed keys; maps whose keys are all digits become lists, in index order."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _path(key)
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError(f"{key}: {part} is both a value and a map")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise FormError(f"{key}: both a value and a map")
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}
