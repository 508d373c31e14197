"""The console's stylesheet is well formed: an unclosed block once put every rule after it
inside a phone-only media query, so desktop pages lost their styles without any error."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).parent.parent / "oncall" / "web" / "console" / "static" / "console.css"


def test_every_block_of_the_stylesheet_is_closed_where_it_should_be() -> None:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"console.css line {number}: a '}}' closes nothing"
        if line.startswith("@media"):
            assert depth == 1, f"console.css line {number}: @media inside another block"
    assert depth == 0, "console.css: a block is never closed"
