"""Reading YAML with line numbers, and validating it against the published JSON Schema, so
every error names its file, line and field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator


class ConfigError(ValueError):
    """An invalid config file; ``str()`` reads ``file:line: path: reason``."""

    def __init__(self, file: str, line: int | None, path: str, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path}: {reason}" if path else f"{where}: {reason}")
        self.file, self.line, self.path, self.reason = file, line, path, reason


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (the schema checks their format)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Document:
    file: str
    data: dict[str, Any]
    lines: dict[tuple[Any, ...], int]

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: tuple[Any, ...], reason: str) -> ConfigError:
        return ConfigError(self.file, self.line(path), dotted(path), reason)


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _walk(value, (*path, key.value), lines)
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def _schema_validator() -> Draft202012Validator:
    text = resources.files("oncall").joinpath("schema/config.schema.json").read_text()
    return Draft202012Validator(json.loads(text),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def load_document(path: Path, display: str) -> Document:
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(display, mark.line + 1 if mark else None, "",
                          f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        data = {}
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    doc = Document(display, data, lines)
    if not isinstance(data, dict):
        raise doc.error((), "the top level must be a mapping")
    errors = sorted(_schema_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        raise doc.error(tuple(err.absolute_path), _readable(err))
    return doc


def _readable(err: Any) -> str:
    if err.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' was unexpected", err.message)
        return f"unknown key {', '.join(extra) or err.message}"
    hint = err.schema.get("description") if isinstance(err.schema, dict) else None
    if err.validator == "pattern":
        return f"{err.instance!r} is not in the expected form ({hint or err.validator_value})"
    if err.validator == "oneOf":
        return f"{err.instance!r} is not valid here ({hint or 'see the schema'})"
    return str(err.message)


def load_tree(dirs: list[Path], base: Path | None = None) -> list[Document]:
    """Every *.yaml / *.yml file under ``dirs``, in a stable order."""
    docs = []
    for directory in dirs:
        if directory.is_file():
            files = [directory]
        elif directory.is_dir():
            files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            raise ConfigError(str(directory), None, "", "no such file or directory")
        for file in files:
            try:
                display = str(file.resolve().relative_to((base or Path.cwd()).resolve()))
            except ValueError:
                display = str(file)
            docs.append(load_document(file, display))
    return docs
