"""tests/ holds scripts run as ``python tests/<script>.py`` (tests/broker_worker.py), which
puts tests/ first on sys.path: a folder or module there named like a standard-library module
(``email``) then shadows it and the script dies on import."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_nothing_in_tests_is_named_like_a_standard_library_module() -> None:
    names = {p.stem for p in TESTS.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert sorted(names & set(sys.stdlib_module_names)) == []
