"""The repository's layout, checked where a name matters.

tests/ holds scripts run as ``python tests/<script>.py`` (tests/broker_worker.py), which
puts tests/ first on sys.path: a folder or module there named like a standard-library module
(``email``) then shadows it and the script dies on import.

``oncall/schedules/__init__.py`` says what is where in that package, so a newcomer finds e.g.
the DST handoff arithmetic from the names alone: every module there must be listed in it."""

from __future__ import annotations

import sys
from pathlib import Path

import oncall.schedules

TESTS = Path(__file__).parent
SCHEDULES = Path(oncall.schedules.__file__).parent


def test_nothing_in_tests_is_named_like_a_standard_library_module() -> None:
    names = {p.stem for p in TESTS.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert sorted(names & set(sys.stdlib_module_names)) == []


def test_every_schedules_module_is_listed_in_the_package_docstring() -> None:
    doc = oncall.schedules.__doc__ or ""
    modules = sorted(p.relative_to(SCHEDULES).as_posix() for p in SCHEDULES.rglob("*.py")
                     if p.name != "__init__.py")
    assert [m for m in modules if f"``{m}``" not in doc] == []
