"""Summary and dedup-key templates: ``"{count} charge failures for merchant {merchant_id}"``.

Python's format syntax with plain names only (no ``{a.b}`` or ``{a[0]}``: templates come from
files, and must not reach into objects). A name with no value renders as itself, ``{name}``,
so a missing label shows up in the text instead of failing the alert.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

_FORMATTER = string.Formatter()


class _Missing:
    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + "}"


class _Lenient(string.Formatter):
    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), _Missing(str(key)))


_LENIENT = _Lenient()


def check(template: Any) -> list[str]:
    """The names a template uses; ValueError saying what is wrong with it."""
    if not isinstance(template, str):
        raise ValueError("a template is a string")
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"{{{name}}}: use a plain name such as {{merchant_id}}")
        if conversion not in (None, "s", "r") or (spec and "{" in spec):
            raise ValueError(f"{{{name}}}: nested or unusual formatting is not supported")
        names.append(name)
    return names


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill the template; a format spec that does not suit the value falls back to str()."""
    try:
        return _LENIENT.vformat(template, (), values)
    except (ValueError, TypeError):
        plain = {k: str(v) for k, v in values.items()}
        return _LENIENT.vformat(_strip_specs(template), (), plain)


def _strip_specs(template: str) -> str:
    out = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            out.append("{" + name + "}")
    return "".join(out)
