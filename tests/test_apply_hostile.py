"""Config files that are hostile or broken: `oncall apply` refuses each with one clear error
naming the file (and the line), exits non-zero and changes nothing; none of them costs more
than a bounded amount of memory or ends in a traceback."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from oncall.apply import ConfigError
from oncall.apply.loader import DEFAULT_MAX_BYTES, MAX_DEPTH, MAX_NODES, load_document
from oncall.cli import cli, config  # noqa: F401 - attach the commands
from oncall.config import Settings
from oncall.models import Service, User
from tests.conftest import ROOT

# 9 levels of 9 aliases: 342 bytes that expand to 9**9 (387 million) strings. The old
# reader walked every one of them (1.16 GB for the 388-byte file of the report).
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi",
                                                                strict=True))


@pytest.fixture
def oncall(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ONCALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def users_and_services(factory: Any) -> tuple[int, int]:
    with factory() as s:
        return (s.scalar(select(func.count()).select_from(User)) or 0,
                s.scalar(select(func.count()).select_from(Service)) or 0)


def refused(oncall: Any, factory: Any, expected: str) -> None:
    """Both the dry run and the real apply print ``expected`` on one line, exit 1, and leave
    the database as it was."""
    before = users_and_services(factory)
    for args in (["apply", "--dry-run"], ["apply"]):
        result = oncall(*args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        first, *rest = result.output.splitlines()
        assert first.startswith("Error: ") and expected in first, result.output
        assert rest == ["nothing was applied"]
        assert users_and_services(factory) == before


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_alias_bomb_is_refused_within_bounded_memory(settings: Settings, tmp_path: Path,
                                                        dry_run: bool) -> None:
    write(tmp_path / "rules" / "bomb.yaml", BOMB)
    limit = 512 * 1024 * 1024  # the old reader died of MemoryError under it

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "ONCALL_DATABASE_URL": settings.database_url,
           "ONCALL_BROKER_URL": settings.broker_url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "oncall.cli", "apply", *(["--dry-run"] if dry_run else []),
         "rules"], cwd=tmp_path, env=env, preexec_fn=cap_memory, capture_output=True,
        text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr == ("Error: rules/bomb.yaml:1: an anchor (&a): anchors and aliases "
                             "are not allowed in config files; write the value out\n"
                             "nothing was applied\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("services:\n  - service: a\n    description: &d x\n", "x.yaml:3: an anchor (&d)"),
    ("users:\n  - user: &u a@x.io\n    name: A\nservices:\n  - service: *u\n",
     "x.yaml:2: an anchor (&u)"),
    ("services:\n  - service: a\n    description: *d\n", "x.yaml:3: an alias (*d)"),
    ("services:\n  - <<: {service: a}\n    description: x\n",
     "x.yaml:2: merge keys (<<) are not allowed"),
    ("services:\n  - ? [a]\n    : b\n", "x.yaml:2: a key must be a plain value"),
])
def test_anchors_aliases_and_merge_keys_are_refused_at_their_line(
        tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_document(write(tmp_path / "x.yaml", text), "x.yaml")
    assert expected in str(err.value)


def test_a_duplicate_key_is_refused_naming_both_lines(oncall: Any, factory: Any,
                                                     tmp_path: Path) -> None:
    write(tmp_path / "schedules" / "team.yaml",
          "users:\n  - user: mallory@example.com\n    name: Mallory\n"
          "    role: viewer\n    role: admin\n")
    refused(oncall, factory, "schedules/team.yaml:5: duplicate key 'role' (first at line 4)")


def test_keys_that_read_as_the_same_value_are_duplicates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"x\.yaml:3: duplicate key True \(first at line 2\)"):
        load_document(write(tmp_path / "x.yaml", "a:\n  true: 1\n  yes: 2\n"), "x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml:2: duplicate key 'users'"):
        load_document(write(tmp_path / "x.yaml", "users: []\nusers: []\n"), "x.yaml")


@pytest.mark.parametrize("text", [
    "services: " + "[" * 5000 + "]" * 5000 + "\n",
    "services: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(200)),
], ids=["flow-lists", "flow-mappings", "block-mappings"])
def test_deep_nesting_is_a_clean_error(oncall: Any, factory: Any, tmp_path: Path,
                                       text: str) -> None:
    write(tmp_path / "rules" / "deep.yaml", text)
    refused(oncall, factory, f"rules/deep.yaml:{1 if text.startswith('s') else MAX_DEPTH}: "
                             f"nested more than {MAX_DEPTH} levels deep")


def test_a_file_of_too_many_values_is_refused(tmp_path: Path) -> None:
    text = "services: [" + "1," * MAX_NODES + "]\n"
    with pytest.raises(ConfigError, match=rf"x\.yaml:1: more than {MAX_NODES} values"):
        load_document(write(tmp_path / "x.yaml", text), "x.yaml")


def test_an_oversize_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = write(tmp_path / "x.yaml", "# padding\n" * (DEFAULT_MAX_BYTES // 10 + 1) + "a: [\n")
    with pytest.raises(ConfigError, match=rf"^x\.yaml: larger than {DEFAULT_MAX_BYTES} bytes"):
        load_document(big, "x.yaml")


def test_the_size_cap_is_configurable(oncall: Any, factory: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "rules" / "services.yaml",
          "services:\n" + "".join(f"  - service: svc-{i}\n" for i in range(100)))
    monkeypatch.setenv("ONCALL_CONFIG_MAX_BYTES", "1000")
    refused(oncall, factory, "rules/services.yaml: larger than 1000 bytes "
                             "(ONCALL_CONFIG_MAX_BYTES)")
    monkeypatch.setenv("ONCALL_CONFIG_MAX_BYTES", "4000")
    assert oncall("apply").exit_code == 0
    assert users_and_services(factory) == (0, 100)


def test_a_file_that_is_not_utf8_names_its_line(oncall: Any, factory: Any,
                                                tmp_path: Path) -> None:
    write(tmp_path / "rules" / "x.yaml", b"services:\n  - service: caf\xe9\n")
    refused(oncall, factory, "rules/x.yaml:2: not UTF-8 text")


def test_a_folder_named_like_a_config_file_is_not_read(oncall: Any, tmp_path: Path) -> None:
    (tmp_path / "rules" / "old.yaml").mkdir(parents=True)
    write(tmp_path / "rules" / "a.yaml", "services:\n  - service: a\n")
    result = oncall("apply")
    assert result.exit_code == 0, result.output
    assert "applied 1 object(s)" in result.output


def test_empty_or_missing_config_folders_apply_nothing_and_succeed(
        oncall: Any, factory: Any, tmp_path: Path) -> None:
    """What a deployment's `oncall migrate && oncall apply` meets before its operator wrote
    any config; and an empty mount never deletes what earlier files defined."""
    result = oncall("apply")
    assert result.exit_code == 0, result.output
    assert result.output == "no rules/ or schedules/ here: nothing to apply\n"
    write(tmp_path / "rules" / "a.yaml", "services:\n  - service: a\n")
    (tmp_path / "schedules").mkdir()
    assert oncall("apply").exit_code == 0
    (tmp_path / "rules" / "a.yaml").unlink()
    for args in (["apply"], ["apply", "--dry-run"], ["apply", "rules"]):
        result = oncall(*args)
        assert result.exit_code == 0, result.output
        assert "nothing to apply" in result.output
    assert users_and_services(factory) == (0, 1)


def test_a_folder_that_cannot_be_listed_is_an_error_not_an_empty_config(tmp_path: Path) -> None:
    """Config mounted into a container whose user cannot list it: an error, not `nothing to
    apply` (or, for one subfolder, a silently partial config)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run as another user (CI runs as root)")
    top = Path(tempfile.mkdtemp(prefix="oncall-unreadable-"))
    try:
        top.chmod(0o755)
        write(top / "rules" / "a.yaml", "services:\n  - service: a\n")
        write(top / "rules" / "team" / "b.yaml", "services:\n  - service: b\n")
        (top / "rules" / "team").chmod(0o700)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-m", "oncall.cli", "apply", "--dry-run", "rules"],
            cwd=top, env={**os.environ, "PYTHONPATH": str(ROOT),
                          "ONCALL_DATA_DIR": str(top / "data")},
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr == ("Error: rules/team: cannot read this folder: Permission "
                                 "denied\nnothing was applied\n")
    finally:
        shutil.rmtree(top)


def test_hidden_folders_are_not_read(oncall: Any, tmp_path: Path) -> None:
    write(tmp_path / "rules" / "a.yaml", "services:\n  - service: a\n")
    write(tmp_path / "rules" / "..data" / "a.yaml", "services:\n  - service: a\n")
    write(tmp_path / "rules" / ".git" / "x.yaml", "not: [valid\n")
    result = oncall("apply", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would change 1 object(s)" in result.output
