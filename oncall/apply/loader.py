"""Reading YAML with line numbers, and validating it against the published JSON Schema, so
every error names its file, line and field.

Config files are small, hand-written and reviewed, so the reader refuses what only a hostile
or broken file needs: anchors and aliases (a few hundred bytes of nested aliases expand to
billions of nodes: the "billion laughs"), duplicate keys (the last one would silently win:
``role: viewer`` then ``role: admin``), nesting deeper than any config needs, and files
larger than ``max_bytes``. Each is refused before anything is built from the file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from oncall.channels import registry
from oncall.manage import policies


class ConfigError(ValueError):
    """An invalid config file; ``str()`` reads ``file:line: path: reason``."""

    def __init__(self, file: str, line: int | None, path: str, reason: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path}: {reason}" if path else f"{where}: {reason}")
        self.file, self.line, self.path, self.reason = file, line, path, reason


DEFAULT_MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32  # the deepest valid config nests about 8 levels
MAX_NODES = 50_000  # a large team's files hold a few thousand


class _Refused(yaml.YAMLError):
    """A well-formed file that a config file must not be; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (the schema checks their format) and refuses
    anchors, aliases, duplicate keys, deep nesting and too many nodes while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            kind = "an alias (*" if isinstance(event, yaml.AliasEvent) else "an anchor (&"
            raise _Refused(event.start_mark.line + 1,
                           f"{kind}{event.anchor}): anchors and aliases are not allowed in "
                           "config files; write the value out")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(event.start_mark.line + 1,
                           f"more than {MAX_NODES} values in one file; split it")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark.line + 1,
                               f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode,
                          deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark.line + 1,
                               "a key must be a plain value, not a list or a mapping")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark.line + 1,
                               "merge keys (<<) are not allowed in config files; "
                               "write the keys out")
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(line, f"duplicate key {key!r} (first at line {seen[key]}); "
                                     "a later value would silently replace the first")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


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
    return Draft202012Validator(with_channels(json.loads(text)),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def with_channels(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the channels the installed channel packages provide
    (``registry.PACKAGES``): the names a notification step may use, and the rooms a policy
    level may post to. The file lists the built-in ones, for editors."""
    defs = schema["$defs"]
    defs["notification_steps"]["items"]["properties"]["channel"]["enum"] = list(
        registry.names())
    people = r"user:[^@\s]+@[^@\s]+|schedule:[A-Za-z0-9][A-Za-z0-9_.-]*"
    rooms = "|".join(re.escape(name) for name in registry.room_channels())
    defs["target"]["pattern"] = (f"^({people}|(?:{rooms}):#[a-z0-9_-]+)$" if rooms
                                 else f"^({people})$")
    defs["target"]["description"] = policies.target_help()
    return schema


def _read(path: Path, display: str, max_bytes: int) -> str:
    try:
        with path.open("rb") as f:  # read no more than the cap, whatever stat() says
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(display, None, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise ConfigError(display, None, "", f"larger than {max_bytes} bytes "
                          "(ONCALL_CONFIG_MAX_BYTES); split it into several files")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(display, line, "", "not UTF-8 text") from None


def _parse(text: str, display: str) -> tuple[yaml.Node | None, Any]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise ConfigError(display, exc.line, "", exc.reason) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(display, mark.line + 1 if mark else None, "",
                          f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    return node, data


def load_document(path: Path, display: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    node, data = _parse(_read(path, display, max_bytes), display)
    if data is None:
        data = {}
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    doc = Document(display, data, lines)
    if not isinstance(data, dict):
        raise doc.error((), "the top level must be a mapping")
    # The first error by position, without holding them all (a long list can have one each).
    err = min(_schema_validator().iter_errors(data), default=None,
              key=lambda e: [(isinstance(p, str), p) for p in e.absolute_path])
    if err is not None:
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


def load_tree(dirs: list[Path], base: Path | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    """Every *.yaml / *.yml file under ``dirs``, in a stable order; each at most
    ``max_bytes`` long."""
    docs = []
    for directory in dirs:
        if directory.is_file():
            files = [directory]
        elif directory.is_dir():
            files = sorted(_config_files(directory))
        else:
            raise ConfigError(str(directory), None, "", "no such file or directory")
        for file in files:
            try:
                display = str(file.resolve().relative_to((base or Path.cwd()).resolve()))
            except ValueError:
                display = str(file)
            docs.append(load_document(file, display, max_bytes))
    return docs


def _config_files(directory: Path) -> list[Path]:
    """The *.yaml / *.yml files under ``directory``; a folder that cannot be listed is an
    error (``rglob`` would skip it, and its files would silently not apply)."""
    def refuse(exc: OSError) -> None:
        raise ConfigError(str(exc.filename or directory), None, "",
                          f"cannot read this folder: {exc.strerror or exc}")

    found = []
    for root, dirs, names in os.walk(directory, onerror=refuse):
        # Hidden folders are not config: .git, an editor's, Kubernetes' ..data of a ConfigMap
        # (whose files also show, as links, in the folder itself).
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, n) for n in names
                  if n.endswith((".yaml", ".yml")) and Path(root, n).is_file()]
    return found
