"""`--where` conditions and `--sort` keys over run records, checked against the known keys."""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "=": operator.eq,
}
TEXT_COLUMNS = ("time", "command", "name", "status")
CONDITION = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|==|!=|<|>|=)\s*(.+?)\s*$")


class RunsError(ValueError):
    """Bad input to `runs`, `tune`: one line naming the option or file, the key and what was expected
    (exit 2)."""


@dataclasses.dataclass(frozen=True)
class Condition:
    key: str
    op: str
    value: float | str

    def matches(self, record) -> bool:
        have = record.value(self.key)
        if have is None:
            return False
        if isinstance(self.value, str):
            return OPERATORS[self.op](str(have), self.value)
        return isinstance(have, (int, float)) and OPERATORS[self.op](float(have), self.value)


def parse_condition(text: str) -> Condition:
    """`rel_l2_max<1e-3`, `status==completed`, `name!=smoke`; RunsError naming the text otherwise."""
    m = CONDITION.match(text)
    if not m:
        raise RunsError(f"--where {text!r}: expected KEY OP VALUE with OP one of < <= > >= == !=, "
                        "e.g. 'rel_l2_max<1e-3'")
    key, op, raw = m.groups()
    if key in TEXT_COLUMNS:
        if op not in ("=", "==", "!="):
            raise RunsError(f"--where {text!r}: {key} is text; compare it with == or !=")
        return Condition(key, op, raw.strip("'\""))
    try:
        value = float(raw)
    except ValueError:
        raise RunsError(f"--where {text!r}: {raw!r} is not a number (metric {key} is compared as a number)") from None
    return Condition(key, op, value)


def known_keys(records: Iterable, documented: Iterable[str]) -> set[str]:
    """The columns, every documented key, and every key some listed run has."""
    from neurocli.runs.keys import COLUMNS

    keys = set(COLUMNS) | set(documented)
    for r in records:
        keys.update(r.metrics)
    return keys


def check_keys(option: str, keys: Sequence[str], known: set[str]) -> None:
    unknown = [k for k in keys if k not in known]
    if unknown:
        near = sorted(k for k in known if any(u.split("_")[0] in k for u in unknown))[:12]
        hint = f"; similar known keys: {', '.join(near)}" if near else ""
        raise RunsError(f"{option}: unknown key {', '.join(map(repr, unknown))}: not a column nor a metric of any "
                        f"listed run{hint} (README: 'Metric keys')")


def sort_key(text: str) -> tuple[str, bool]:
    """`KEY` (ascending) or `-KEY` (descending) -> (key, descending)."""
    return (text[1:], True) if text.startswith("-") else (text, False)


def ordered(records: list, key: str, descending: bool) -> list:
    """Sorted by `key`; runs without it come last either way."""
    have = [r for r in records if r.value(key) is not None]
    missing = [r for r in records if r.value(key) is None]
    return sorted(have, key=lambda r: r.value(key), reverse=descending) + missing
