"""Loading and validating YAML configs: one schema per command, errors that name the key path.

Nothing here imports jax: a bad config is rejected before anything compiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(Exception):
    """A config that cannot be used: names the file, the key path and what was expected."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {key or '<top level>'}: {msg}" for key, msg in problems]
        super().__init__("invalid config\n  " + "\n  ".join(lines))


class KeyedError(ValueError):
    """Raised by a section's validator to blame one key below the section (a dotted path)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


Cfg = TypeVar("Cfg", bound=BaseModel)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], value parsed as a YAML scalar or flow collection)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("--set", [(text, "expected key.path=value")])
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError("--set", [(key, f"value {raw!r} is not valid YAML ({exc})")]) from None
    return key.strip().split("."), value


def apply_override(data: dict, path: list[str], value: Any, source: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            raise ConfigError(source, [(where, "is not a section, cannot set a key below it")])
        node = child
    node[path[-1]] = value


def read_yaml(path: Path) -> dict:
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, [("", "file not found")])
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"not valid YAML: {exc}")]) from None
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
                msg = f"{msg} (got {err['input']!r})"
            problems.append((_key_path(loc, data), msg))
        raise ConfigError(source, problems) from None


def load_config(
    schema: type[Cfg], path: Path, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[Cfg, dict]:
    """Read a YAML file, apply `--set` overrides, validate. Returns (config, raw data)."""
    data = read_yaml(path)
    source = str(path)
    if overrides:
        source = f"{path} (with --set {' '.join(overrides)})"
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value, source)
    return validate(schema, data, source), data


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML; `load_config` on it gives the same config back."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
