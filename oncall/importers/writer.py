"""All-or-nothing output: files are written into a temporary folder next to the target and
the folder is renamed into place only when the whole import succeeded, so a failed import
leaves ``--out`` exactly as it was."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["OutputError", "atomic_folder", "write_files"]


class OutputError(Exception):
    """The output folder cannot be used; one line."""


def check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file: name a new folder for the import")
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"--out {out} exists and is not an empty folder: choose a new one "
                          "(an import never mixes its files with others)")
    if not out.resolve().parent.is_dir():
        raise OutputError(f"--out {out}: its parent folder does not exist")


@contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on a normal exit it becomes ``out`` (which
    must not exist or be empty), on an exception it is removed and ``out`` is untouched."""
    check_target(out)
    parent = out.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=parent))
    try:
        yield tmp
        check_target(out)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        os.chmod(out, 0o755 & ~_umask())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_files(folder: Path, files: dict[str, str]) -> None:
    """``files`` (path relative to ``folder`` -> text) written, their folders made."""
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
