"""`neurocli runs compare RUN RUN…`: the config keys that differ, the metrics side by side, and
the runs' loss curves (loss.csv) overlaid in one PDF."""

from __future__ import annotations

import csv
import datetime as _dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from neurocli.atomic import atomic_write_bytes
from neurocli.runs.query import RunsError
from neurocli.runs.record import RunRecord, read_run


def flat_config(node: Any, prefix: str = "") -> dict[str, Any]:
    """A config as {dotted key: value}; list items as `phases[0].lr`, the `--set` spelling."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(flat_config(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        for i, v in enumerate(node):
            out.update(flat_config(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = node
    return out


def read_config(run: Path) -> dict[str, Any]:
    try:
        return flat_config(yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}


MISSING = object()


def differing(configs: Sequence[dict[str, Any]]) -> list[str]:
    keys = dict.fromkeys(k for c in configs for k in c)
    return [k for k in keys if len({repr(c.get(k, MISSING)) for c in configs}) > 1]


def _cell(v: Any) -> str:
    if v is MISSING:
        return "–"
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def read_loss(run: Path) -> dict[str, list[tuple[float, float]]] | None:
    """loss.csv as {member label: [(step, loss)]} with rejected and non-finite rows left out;
    None without a loss.csv."""
    try:
        with open(run / "loss.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    curves: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        try:
            step, loss = float(row["step"]), float(row["loss"])
        except (KeyError, TypeError, ValueError):
            continue
        if not math.isfinite(loss) or row.get("rejected") not in (None, "", "0", "0.0"):
            continue
        curves.setdefault(row.get("member") or "", []).append((step, loss))
    return curves


def compare(paths: Sequence[Path], output: Path | None, output_root: Path) -> tuple[str, Path | None]:
    """(the text report, the loss figure's path or None when no run has a loss.csv)."""
    if len(paths) < 2:
        raise RunsError("runs compare: give at least two runs")
    if output is not None and Path(output).suffix.lower() != ".pdf":
        raise RunsError(f"--output {output}: expected a .pdf file name")
    records: list[RunRecord] = []
    for p in paths:
        r = read_run(Path(p))
        if r is None:
            raise RunsError(f"{p}: run.json is missing or unreadable")
        records.append(r)
    labels = [f"[{i + 1}]" for i in range(len(records))]
    lines = [f"{lab} {r.path}  ({r.command}, {r.status})" for lab, r in zip(labels, records)]
    configs = [read_config(r.path) for r in records]
    keys = differing(configs)
    lines += ["", f"config keys that differ ({len(keys)}):"]
    lines += ["  " + s for s in _table(["key", *labels], [[k, *(_cell(c.get(k, MISSING)) for c in configs)]
                                                            for k in keys])] if keys else ["  (none)"]
    metric_keys = sorted(dict.fromkeys(k for r in records for k in r.metrics))
    lines += ["", "metrics:"]
    lines += ["  " + s for s in _table(["key", *labels], [[k, *(_cell(r.metrics.get(k, MISSING)) for r in records)]
                                                           for k in metric_keys])] if metric_keys else ["  (none)"]
    curves = [read_loss(r.path) for r in records]
    if not any(curves):
        lines += ["", "no loss.csv in these runs: no loss figure"]
        return "\n".join(lines) + "\n", None
    from neurocli.plotting.runs import loss_overlay
    from neurocli.plotting.style import pdf_bytes

    names = [f"{lab} {r.command} {r.path.name}" for lab, r in zip(labels, records)]
    fig = loss_overlay(names, curves)
    if output is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        output = Path(output_root) / "comparisons" / f"{stamp}_{records[0].name}_vs_{len(records) - 1}.pdf"
    output = Path(output)
    try:
        atomic_write_bytes(output, pdf_bytes(fig))
    except OSError as exc:
        raise RunsError(f"--output {output}: cannot be written: {exc.strerror or exc}") from None
    return "\n".join(lines) + "\n", output
