"""Input that would crash the JSON parser or that the database cannot hold.

* JSON: nesting deeper than ``MAX_DEPTH`` (Python's parser and every walk over the result
  recurse: a ``RecursionError``), integers longer than ``MAX_INT_DIGITS`` (Python refuses to
  convert ones over 4,300 digits, and the database holds none over 19), numbers that overflow
  a float, and the non-JSON ``NaN``/``Infinity`` are refused by :func:`loads` with a
  :class:`JSONRefused` (a ``ValueError``) naming the problem.
* Text: PostgreSQL stores no NUL character (``\\x00``) in text or JSON, and no driver can
  encode a lone UTF-16 surrogate (``\\ud800``, which JSON's ``\\uXXXX`` escapes can carry).
  People's requests naming such a field are refused (:func:`unstorable`); alerts and pings,
  which machines send and retry forever, are stored with the character replaced by U+FFFD
  (:func:`clean`, :func:`sanitize`), and the alert says which fields were changed.

Pure: no Flask, no database.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
MAX_INT_DIGITS = 100
REPLACEMENT = "\ufffd"
_BAD = re.compile("[\x00\ud800-\udfff]")


class JSONRefused(ValueError):
    """JSON this service does not read; the message says why."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONRefused(f"an integer of {len(text.lstrip('-'))} digits; at most "
                          f"{MAX_INT_DIGITS}")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"the number {text[:40]} is out of range")
    return value


def _parse_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not JSON")


def loads(data: str | bytes) -> Any:
    """``json.loads`` that refuses what :mod:`oncall.hostile` describes, with a
    :class:`JSONRefused`; malformed JSON is a ``json.JSONDecodeError`` and undecodable
    bytes a ``UnicodeDecodeError`` (both ``ValueError``), as from ``json.loads``."""
    try:
        value = json.loads(data, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_parse_constant)
    except RecursionError:
        raise JSONRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    brackets = (b"[", b"{") if isinstance(data, bytes) else ("[", "{")
    if data.count(brackets[0]) + data.count(brackets[1]) > MAX_DEPTH:  # type: ignore[arg-type]
        _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH, without recursing: level by level (parsed JSON
    holds plain dicts and lists only)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise JSONRefused(f"nested deeper than {MAX_DEPTH} levels")
        deeper: list[Any] = []
        for node in level:
            deeper += [child for child in (node.values() if type(node) is dict else node)
                       if type(child) is dict or type(child) is list]
        level = deeper


_ESCAPED_BAD = re.compile(rb"\\u(0000|[dD][89a-fA-F])")


def may_need_cleaning(raw: bytes) -> bool:
    """Whether a JSON text can decode to a string :func:`sanitize` would change: only the
    escapes ``\\u0000`` and ``\\uD800``-``\\uDFFF`` can make one (raw NULs and
    surrogates are not valid JSON or UTF-8). A cheap test before walking the payload."""
    return _ESCAPED_BAD.search(raw) is not None


def clean(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD."""
    return _BAD.sub(REPLACEMENT, text)


def storable(text: str) -> bool:
    return _BAD.search(text) is None


def sanitize(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` (parsed JSON) with NULs and lone surrogates replaced in every string, keys
    included, and the paths of the fields changed (``alerts[0].labels.job``; ``body`` for
    the whole body)."""
    changed: list[str] = []

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            if storable(node):
                return node
            changed.append(where or "body")
            return clean(node)
        if isinstance(node, list):
            return [walk(item, f"{where}[{i}]") for i, item in enumerate(node)]
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, item in node.items():
                name = key
                if not storable(key):
                    name = clean(key)
                    changed.append(_join(where, name))
                out[name] = walk(item, _join(where, name))
            return out
        return node

    return walk(value, path), changed


def unstorable(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in ``value`` that holds a NUL or a lone
    surrogate, or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if not storable(node):
                return where or "body"
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(node))))
        elif isinstance(node, dict):
            for key in node:
                if not storable(key):
                    return _join(where, clean(key))
            stack.extend((item, _join(where, key)) for key, item in reversed(node.items()))
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
