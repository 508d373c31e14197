"""The repository's layout, checked where a name matters.

tests/ holds scripts run as ``python tests/<script>.py`` (tests/broker_worker.py), which
puts tests/ first on sys.path: a folder or module there named like a standard-library module
(``email``) then shadows it and the script dies on import.

``oncall/schedules/__init__.py`` says what is where in that package, so a newcomer finds e.g.
the DST handoff arithmetic from the names alone: every module there must be listed in it."""

from __future__ import annotations

import re
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


ONCALL = SCHEDULES.parent


def test_no_module_is_over_300_lines() -> None:
    """The core redesign's rule (issue 19): a module a maintainer can read in one sitting."""
    long = {p.relative_to(ONCALL.parent).as_posix(): n
            for p in (*ONCALL.rglob("*.py"), *(ONCALL.parent / "worker").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}


def test_channels_reach_the_core_through_its_two_doors_only() -> None:
    """A channel package names nothing of the paging core but the door for a provider's
    status callback (``delivery.page_failed``); replies go through ``oncall.incidents``."""
    import ast

    reached: dict[str, set[str]] = {}
    for path in (ONCALL / "channels").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    ("oncall.paging", "oncall.actions", "worker")):
                names = {f"{node.module}.{a.name}" for a in node.names}
                reached.setdefault(path.relative_to(ONCALL).as_posix(), set()).update(names)
            elif isinstance(node, ast.Import) and any(
                    a.name.startswith(("oncall.paging", "worker")) for a in node.names):
                reached.setdefault(path.relative_to(ONCALL).as_posix(), set()).add("import")
    assert reached == {"channels/twilio/status.py": {"oncall.paging.delivery"}}
    status = (ONCALL / "channels" / "twilio" / "status.py").read_text()
    assert set(re.findall(r"delivery\.(\w+)", status)) == {"page_failed"}


def test_every_paging_module_is_listed_in_the_package_docstring() -> None:
    import oncall.paging

    doc = oncall.paging.__doc__ or ""
    modules = sorted(p.stem for p in Path(oncall.paging.__file__).parent.glob("*.py")
                     if p.name != "__init__.py")
    assert [m for m in modules if f"``{m}``" not in doc] == []


def test_the_core_names_no_channel() -> None:
    """The paging core and the incidents import only the channels' contract (the package's
    ``__init__``, ``registry``, ``sending``, ``preferences``), never a channel's package, and
    write no channel's name: a new channel touches only its own package and its line in
    ``registry.PACKAGES``."""
    import ast

    from oncall.channels import registry

    contract = {"oncall.channels", "oncall.channels.registry", "oncall.channels.sending",
                "oncall.channels.preferences"}
    named: dict[str, set[str]] = {}
    for folder in ("paging", "incidents"):
        for path in (ONCALL / folder).rglob("*.py"):
            where = path.relative_to(ONCALL).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "oncall.channels"):
                    mods = {node.module} if node.module in contract else {str(node.module)}
                    if node.module == "oncall.channels":
                        mods = {f"oncall.channels.{a.name}" for a in node.names
                                if f"oncall.channels.{a.name}" not in contract
                                and a.name[0].islower() and a.name not in {"page_text"}}
                    named.setdefault(where, set()).update(mods - contract)
                elif isinstance(node, ast.Constant) and node.value in registry.known() \
                        and node.value != registry.CONSOLE:
                    named.setdefault(where, set()).add(repr(node.value))
    assert {k: v for k, v in named.items() if v} == {}
