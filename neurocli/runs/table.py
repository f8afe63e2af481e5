"""`neurocli runs`: the listing as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence

from neurocli.runs.keys import COLUMNS, HEADLINE, KEYS
from neurocli.runs.query import RunsError, check_keys, known_keys, ordered, parse_condition, sort_key
from neurocli.runs.record import RunRecord, scan

FORMATS = ("table", "csv", "json")
STATUSES = ("running", "completed", "failed", "interrupted")


def select(root: str | os.PathLike, command: str | None = None, status: str | None = None,
           where: Sequence[str] = (), sort: str | None = None) -> tuple[list[RunRecord], int]:
    """The runs under `root` that match, in order, and the count of unreadable directories. Keys are
    checked against the known ones (RunsError names an unknown one) before any filtering."""
    if status is not None and status not in STATUSES:
        raise RunsError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    conditions = [parse_condition(w) for w in where]
    records, unreadable = scan(root, command)
    documented = [k for c, keys in KEYS.items() if command in (None, c) for k in keys]
    known = known_keys(records, documented)
    check_keys("--where", [c.key for c in conditions], known)
    key, descending = sort_key(sort) if sort else ("time", False)
    check_keys("--sort", [key], known)
    chosen = [r for r in records if (status is None or r.status == status) and all(c.matches(r) for c in conditions)]
    return ordered(chosen, key, descending), unreadable


def columns(records: Sequence[RunRecord]) -> list[str]:
    """The fixed columns, then each command's headline metrics that some listed run has."""
    metric_cols: list[str] = []
    for command in dict.fromkeys(r.command for r in records):
        for key in HEADLINE.get(command, ()):
            if key not in metric_cols and any(r.command == command and key in r.metrics for r in records):
                metric_cols.append(key)
    return [*COLUMNS, *metric_cols]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render(records: Sequence[RunRecord], fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise RunsError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    cols = columns(records)
    if fmt == "json":
        rows = [{"path": str(r.path), **{c: r.value(c) for c in COLUMNS}, "metrics": r.metrics} for r in records]
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([*cols, "path"])
        for r in records:
            writer.writerow([*("" if r.value(c) is None else r.value(c) for c in cols), str(r.path)])
        return buf.getvalue()
    body = [[_cell(r.value(c)) for c in cols] for r in records]
    widths = [max([len(c), *(len(row[i]) for row in body)]) for i, c in enumerate(cols)]
    numeric = [c not in ("time", "command", "name", "status") for c in cols]
    line = lambda cells: "  ".join(s.rjust(w) if n else s.ljust(w) for s, w, n in zip(cells, widths, numeric)).rstrip()  # noqa: E731
    return "\n".join([line(cols), *(line(row) for row in body)]) + "\n"
