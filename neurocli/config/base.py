"""Loading and validating YAML configs: one schema per command, errors that name the key path.

Nothing here imports jax: a bad config is rejected before anything compiles.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


class ConfigError(Exception):
    """A config that cannot be used: names the file, the key path and what was expected."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {key or '<top level>'}: {msg}" for key, msg in problems]
        super().__init__("invalid config\n  " + "\n  ".join(lines))


class UsageError(ConfigError):
    """A bad option or path rather than a bad key (`--name`, `--output-root`, `--config`): one line,
    `<option or path>: <what is wrong>`."""

    def __init__(self, source: str, message: str):
        super().__init__(source, [("", message)])
        self.args = (f"{source}: {message}",)

    def __str__(self) -> str:
        return self.args[0]


class KeyedError(ValueError):
    """Raised by a section's validator to blame one key below the section (a dotted path)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field's type admits a boolean anywhere (bool itself, or inside a union/list/dict)."""
    if annotation is bool:
        return True
    if annotation is Any:
        return True
    return any(_accepts_bool(arg) for arg in typing.get_args(annotation) if not isinstance(arg, (str, int, float)))


def _holds_section(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_section(arg) for arg in typing.get_args(annotation) if not isinstance(arg, (str, int, float)))


def _bool_inside(value: Any, annotation: Any) -> bool:
    """A boolean in the value, or in a list or dict of plain values (a section below checks its own)."""
    if isinstance(value, bool):
        return True
    if _holds_section(annotation):
        return False
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, bool) for v in value)
    if isinstance(value, dict):
        return any(isinstance(v, bool) for v in value.values())
    return False


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable, and numbers are
    strict in one place for every schema:

    - every float is finite (`allow_inf_nan=False` reaches floats in lists, dicts and unions too);
      a field that means to allow inf or NaN says so with `Field(allow_inf_nan=True)`;
    - a boolean is not a number: `true` for a field whose type has no `bool` in it is an error (YAML
      1.1 reads `yes`, `on`, `true` as booleans, and pydantic would take them as 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                info = cls.model_fields.get(key) if isinstance(key, str) else None
                if info is not None and _bool_inside(value, info.annotation) and not _accepts_bool(info.annotation):
                    raise KeyedError(key, f"expected a number, got the boolean {value!r}"
                                     if isinstance(value, bool) else f"expected numbers, got a boolean in {_short(value)}")
        return data


@dataclasses.dataclass(frozen=True)
class Unit:
    """A field's unit, for labels and sweeps (`Annotated[float, Unit("mS/cm²"), Field(ge=0)]`);
    "" for a dimensionless quantity."""

    symbol: str


def field_unit(section: type[BaseModel], name: str) -> str | None:
    """The unit a schema field declares (None: it declares none)."""
    info = section.model_fields.get(name)
    return next((m.symbol for m in (info.metadata if info else ()) if isinstance(m, Unit)), None)


@dataclasses.dataclass(frozen=True)
class Moves:
    """What a field's value moves when it differs between members (`Annotated[float, Moves.EDGES]`):
    a stimulus timing moves the solver's jump times, a length the grid's spacing, a final time
    the clock (each member then runs on its own)."""

    what: str

    EDGES: typing.ClassVar[Moves]
    GRID: typing.ClassVar[Moves]
    TIME: typing.ClassVar[Moves]


Moves.EDGES, Moves.GRID, Moves.TIME = Moves("edges"), Moves("grid"), Moves("time")


def field_moves(section: type[BaseModel], name: str) -> set[str]:
    """What the field's value moves (`Moves` metadata): a subset of edges, grid, time."""
    info = section.model_fields.get(name)
    return {m.what for m in (info.metadata if info else ()) if isinstance(m, Moves)}


@dataclasses.dataclass(frozen=True)
class Limits:
    """A number field's bounds as its schema states them (gt/ge/lt/le)."""

    low: float = -float("inf")
    low_open: bool = True
    high: float = float("inf")
    high_open: bool = True

    @classmethod
    def of(cls, section: type[BaseModel], name: str) -> Limits:
        info = section.model_fields.get(name)
        kw: dict = {}
        for m in info.metadata if info else ():
            for attr, key, open_ in (("gt", "low", True), ("ge", "low", False), ("lt", "high", True), ("le", "high", False)):
                if getattr(m, attr, None) is not None:
                    kw[key], kw[key + "_open"] = float(getattr(m, attr)), open_
        return cls(**kw)

    def holds(self, values):
        """Elementwise: whether each value lies within the bounds (NumPy arrays or floats)."""
        import numpy as np

        v = np.asarray(values, dtype=float)
        low = v > self.low if self.low_open else v >= self.low
        high = v < self.high if self.high_open else v <= self.high
        return low & high

    def describe(self) -> str:
        """'must lie in (0, 1)', 'must be > 0', 'must be >= 0' …"""
        lo, hi = self.low > -float("inf"), self.high < float("inf")
        if lo and hi:
            return (f"must lie in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                    f"{')' if self.high_open else ']'}")
        if lo:
            return f"must be {'>' if self.low_open else '>='} {self.low:g}"
        if hi:
            return f"must be {'<' if self.high_open else '<='} {self.high:g}"
        return "any finite number"


def ignored_unless(section: BaseModel, field: str, used: bool, why: str, prefix: str = "") -> None:
    """Reject a field this mode does not use, when it was given a value other than its default (a
    resolved config.yaml spells every default out, and must load again)."""
    if used or field not in section.model_fields_set:
        return
    if getattr(section, field) == type(section).model_fields[field].default:
        return
    raise KeyedError(prefix + field, f"is not used here: {why}; remove it")


Cfg = TypeVar("Cfg", bound=BaseModel)


MAX_CONFIG_BYTES = 16 * 2**20
_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int):
        self.key, self.line = key, line
        super().__init__(f"duplicate key {key!r} on line {line} (first on line {first_line})")


class ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader, stricter and closer to YAML 1.2:

    - a key given twice in one mapping is an error naming the key and its lines (safe_load keeps
      the last silently);
    - `1e-3` (an exponent, no dot) is a float, as in YAML 1.2 and JSON (YAML 1.1 reads a string);
    - aliases (`*name`) are refused: a few nested ones expand to billions of nodes.
    """

    yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise DuplicateKeyError(key, line, first)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} is not supported in neurocli configs; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789."))


def load_yaml_text(text: str) -> Any:
    """Parse YAML with `ConfigLoader` (duplicate keys and aliases refused, `1e-3` a float)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader subclass


def _yaml_problem(exc: Exception) -> str:
    """One line: the parser's problem and where (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        context = f"{exc.context}: " if exc.context else ""
        return f"{context}{exc.problem}{where}"
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _short(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], value parsed as a YAML scalar or flow collection)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("--set", [(_short(text), "expected key.path=value")])
    parts = key.strip().split(".")
    if any(not p.strip() for p in parts):
        raise ConfigError("--set", [(key, "empty key in the path; expected key.path=value")])
    try:
        value = load_yaml_text(raw)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of over 4300 digits
        raise ConfigError("--set", [(key, f"value {_short(raw)} is not valid YAML ({_yaml_problem(exc)})")]) from None
    except RecursionError:
        raise ConfigError("--set", [(key, f"value {_short(raw)} is nested too deeply")]) from None
    return [p.strip() for p in parts], value


_INDEXED = re.compile(r"^(.+)\[(\d+)\]$")


def apply_override(data: dict, path: list[str], value: Any, source: str) -> None:
    """Set data[a][b]... = value for the path [a, b, ...]; `phases[1]` indexes an existing list."""
    node: Any = data
    for i, part in enumerate(path):
        last = i == len(path) - 1
        where = ".".join(path[: i + 1])
        match = _INDEXED.match(part)
        key, index = (match.group(1), int(match.group(2))) if match else (part, None)
        if not isinstance(node, dict):
            raise ConfigError(source, [(".".join(path[:i]), "is not a section, cannot set a key below it")])
        if index is not None:
            items = node.get(key)
            if not isinstance(items, list) or index >= len(items):
                size = len(items) if isinstance(items, list) else 0
                raise ConfigError(source, [(where, f"no such list item ({key} has {size})")])
            if last:
                items[index] = value
            else:
                node = items[index]
            continue
        if last:
            node[key] = value
        else:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]


def read_config_text(path: Path) -> str:
    """The file's text, or a UsageError (one line) naming the path and what is wrong with it."""
    source = f"--config {path}"
    try:
        if path.is_dir():
            raise UsageError(source, "is a directory; expected a YAML config file")
        if not path.exists():
            raise UsageError(source, "file not found")
        if not path.is_file():
            raise UsageError(source, "is not a regular file; expected a YAML config file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise UsageError(source, f"is {size / 2**20:.0f} MiB; a config is at most {MAX_CONFIG_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(source, f"cannot be read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(source, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})") from None


def read_yaml(path: Path) -> dict:
    source = str(path)
    text = read_config_text(path)
    try:
        data = load_yaml_text(text)
    except DuplicateKeyError as exc:
        raise ConfigError(source, [(str(exc.key), str(exc))]) from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of over 4300 digits
        raise ConfigError(source, [("", f"not valid YAML: {_yaml_problem(exc)}")]) from None
    except RecursionError:
        raise ConfigError(source, [("", "not valid YAML: nested too deeply")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "expected a mapping of sections at the top level")])
    return data


def _key_path(loc: tuple, data: Any, missing_last: bool = True) -> str:
    """Turn a pydantic error location into the user's key path.

    Discriminated unions insert their tag (e.g. `hh`) into the location; walking the input data
    and skipping elements that are not keys there removes those.
    """
    parts: list[str] = []
    node = data
    for i, item in enumerate(loc):
        if isinstance(node, dict) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            parts.append(f"[{item}]")
            node = node[item]
        elif missing_last and i == len(loc) - 1:
            parts.append(str(item))  # a missing key
        # otherwise: a union tag pydantic inserted; not part of the user's path
    return ".".join(parts).replace(".[", "[")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _deepest(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop a problem whose key is a prefix of another's: a union (`a: float | list[float]`)
    reports every branch, and the branch that got deeper is the one the user meant."""
    keys = [k for k, _ in problems]
    deeper = lambda k: any(o != k and (o.startswith(k + ".") or o.startswith(k + "[")) for o in keys)  # noqa: E731
    kept = [(k, m) for k, m in problems if not (k and deeper(k))]
    return list(dict.fromkeys(kept))


def validate(schema: type[Cfg], data: dict, source: str) -> Cfg:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = err["msg"]
            loc = tuple(err["loc"])
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, KeyedError):
                problems.append((_join(_key_path(loc, data, missing_last=False), cause.key), str(cause)))
                continue
            if err["type"] == "value_error":
                msg = msg.removeprefix("Value error, ")
            elif err["type"] == "extra_forbidden":
                msg = "unknown key"
            elif err["type"] == "missing":
                msg = "required key is missing"
            elif "input" in err and err["type"] != "union_tag_invalid":
                msg = f"{msg} (got {_short(err['input'])})"
            problems.append((_key_path(loc, data, missing_last=err["type"] == "missing"), msg))
        raise ConfigError(source, _deepest(problems)) from None


def config_source(path: Path | None, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """How messages name a config: the file (none: the defaults), and the overrides applied to it."""
    if path is None:
        path = "(defaults, no --config)"
    if overrides:
        return f"{path} (with --set {' '.join(o if len(o) <= 120 else o[:115] + ' ...' for o in overrides)})"
    return str(path)


def load_config(
    schema: type[Cfg], path: Path | None, overrides: list[str] | tuple[str, ...] = (), preset: dict | None = None
) -> tuple[Cfg, dict]:
    """Read a YAML file (None: start from the schema's defaults), set the `preset` values (dotted
    keys the command line gives as arguments, not parsed as YAML), apply `--set` overrides,
    validate. Returns (config, raw data)."""
    data = read_yaml(path) if path is not None else {}
    source = config_source(path, overrides)
    for key, value in (preset or {}).items():
        apply_override(data, key.split("."), value, source)
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value, source)
    return validate(schema, data, source), data


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML; `load_config` on it gives the same config back."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
