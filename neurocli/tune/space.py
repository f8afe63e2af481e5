"""The search space file: per dotted config key (the `--set` spelling) a range or choices.

    phases[0].lr: {low: 1.0e-4, high: 1.0e-2, log: true}   # a float range (log: sampled in log space)
    network.width: {low: 8, high: 32, step: 8}             # whole numbers at both ends: an int range
    network.activation: {choices: [tanh, sin]}             # one of these values

Every key is checked through the command's config schema at both ends of its range and with each
choice before any trial runs (`check_space`), so a key the config does not have, or a value it
refuses, is reported first (exit 2).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from neurocli.config.base import ConfigError, UsageError, apply_override, parse_override, read_yaml, validate

RANGE_KEYS = {"low", "high", "log", "step"}


@dataclasses.dataclass(frozen=True)
class Param:
    key: str  # dotted config path, e.g. phases[0].lr
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple | None = None

    @property
    def is_int(self) -> bool:
        return (self.choices is None and isinstance(self.low, int) and isinstance(self.high, int)
                and (self.step is None or isinstance(self.step, int)))

    def probes(self) -> list:
        """The values a config must accept: both ends, or every choice."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.is_int:
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


def override(key: str, value: Any) -> str:
    """`--set` text for a value (JSON is a YAML flow scalar: strings quoted, numbers as they are)."""
    return f"{key}={json.dumps(value)}"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _param(source: str, key: Any, spec: Any) -> Param:
    def bad(message: str) -> ConfigError:
        return ConfigError(source, [(str(key), message)])

    if not isinstance(key, str):
        raise bad("expected a dotted config key such as phases[0].lr")
    try:
        parse_override(f"{key}=0")
    except ConfigError as exc:
        raise bad(f"not a config key path ({exc.problems[0][1]})") from None
    if not isinstance(spec, dict):
        raise bad("expected {low: L, high: H[, log: true][, step: S]} or {choices: [...]}")
    if "choices" in spec:
        extra = set(spec) - {"choices"}
        if extra:
            raise bad(f"choices take no {', '.join(sorted(extra))}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise bad("choices: expected a non-empty list")
        if not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
            raise bad("choices: expected plain values (numbers, strings, booleans)")
        return Param(key, choices=tuple(choices))
    extra = set(spec) - RANGE_KEYS
    if extra:
        raise bad(f"unknown key {', '.join(sorted(extra))}; expected low, high, log, step or choices")
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    if not (_number(low) and _number(high)):
        raise bad("expected finite numbers low and high")
    if not low < high:
        raise bad(f"expected low < high, got {low} and {high}")
    if not isinstance(log, bool):
        raise bad("log: expected true or false")
    if log and low <= 0:
        raise bad(f"log: true needs low > 0, got {low}")
    if step is not None and (not _number(step) or step <= 0 or log):
        raise bad("step: expected a positive number, and no log")
    return Param(key, low, high, log, step)


def load_space(path: Path) -> list[Param]:
    source = str(path)
    try:
        data = read_yaml(Path(path))
    except UsageError as exc:  # read_yaml names a file it cannot read as --config
        raise UsageError(f"--space {path}", exc.problems[0][1]) from None
    if not data:
        raise ConfigError(source, [("", "the space is empty; expected one dotted config key per line")])
    return [_param(source, k, v) for k, v in data.items()]


def check_space(params: list[Param], schema, data: dict, space_source: str) -> None:
    """Each probe value through the schema (the config as given, its --set applied): ConfigError
    naming the space file and key, and what the schema said, on the first refusal."""
    for p in params:
        for value in p.probes():
            trial = copy.deepcopy(data)
            keys, _ = parse_override(f"{p.key}=0")
            try:
                apply_override(trial, keys, value, space_source)
                validate(schema, trial, space_source)
            except ConfigError as exc:
                problems = "; ".join(f"{k or '<top level>'}: {m}" for k, m in exc.problems)
                raise ConfigError(space_source, [(p.key, f"the config refuses {p.key}={value!r} ({problems})")]) from None
