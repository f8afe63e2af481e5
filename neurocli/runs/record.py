"""One run directory as a row: run.json and metrics.json read, nothing else."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
from pathlib import Path
from typing import Any

from neurocli.runs.keys import flat_metrics
from neurocli.runs.query import RunsError

STAMPED = re.compile(r"^(\d{8}-\d{6})_(.+)$")


@dataclasses.dataclass(frozen=True)
class RunRecord:
    path: Path
    command: str
    name: str  # the directory's name without its time stamp
    status: str
    started: str | None  # ISO 8601, as run.json has it
    duration_s: float | None  # finished - started (None while running)
    metrics: dict[str, float]  # flat_metrics(metrics.json); {} without one
    info: dict  # run.json

    @property
    def time(self) -> str:
        return (self.started or "")[:19].replace("T", " ")

    def value(self, key: str) -> Any:
        """A column (`time`, `command`, `name`, `status`, `duration_s`) or a metric; None if absent."""
        if key == "time":
            return self.time
        if key in ("command", "name", "status", "duration_s"):
            return getattr(self, key)
        return self.metrics.get(key)


def _seconds(started: Any, finished: Any) -> float | None:
    try:
        return (_dt.datetime.fromisoformat(finished) - _dt.datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None


def _read_json(path: str) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def read_run(path: str | os.PathLike) -> RunRecord | None:
    """The run in `path`, or None when it has no readable run.json."""
    info = _read_json(os.path.join(path, "run.json"))
    if not isinstance(info, dict):
        return None
    path = Path(path)
    match = STAMPED.match(path.name)
    metrics = _read_json(os.path.join(path, "metrics.json"))
    return RunRecord(
        path=path,
        command=str(info.get("command") or path.parent.name),
        name=match.group(2) if match else path.name,
        status=str(info.get("status") or "unknown"),
        started=info.get("started"),
        duration_s=_seconds(info.get("started"), info.get("finished")),
        metrics=flat_metrics(metrics),
        info=info,
    )


def scan(root: str | os.PathLike, command: str | None = None) -> tuple[list[RunRecord], int]:
    """Every run under `<root>/<command>/` (one command, or all), oldest first, and how many
    directories there had no readable run.json. RunsError if the root is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise RunsError(f"--output-root {root}: {'is not a directory' if root.exists() else 'no such directory'}")
    runs, unreadable = [], 0
    with os.scandir(root) as parents:
        commands = sorted(e.name for e in parents if e.is_dir() and (command is None or e.name == command))
    for name in commands:
        parent = os.path.join(root, name)
        with os.scandir(parent) as entries:
            dirs = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
        for d in dirs:
            record = read_run(os.path.join(parent, d))
            if record is None:
                unreadable += 1
            elif command is None or record.command == command:
                runs.append(record)
    runs.sort(key=lambda r: (r.started or "", str(r.path)))
    return runs, unreadable


def find_run(text: str, root: str | os.PathLike) -> Path:
    """A run named on the command line: its directory, or its directory's name (`<stamp>_<name>`) or
    plain name under the output root when that names one run. RunsError otherwise."""
    path = Path(text)
    if path.is_dir():
        if not (path / "run.json").is_file():
            raise RunsError(f"{text}: not a run directory (no run.json)")
        return path
    if Path(root).is_dir():
        runs, _ = scan(root)
        hits = [r.path for r in runs if r.path.name == text] or [r.path for r in runs if r.name == text]
        if len(hits) == 1:
            return hits[0]
        if hits:
            shown = "\n  ".join(str(h) for h in hits[-10:])
            raise RunsError(f"{text}: names {len(hits)} runs under {root}; give the directory, e.g.\n  {shown}")
    raise RunsError(f"{text}: no such run directory (nor a run of that name under --output-root {root})")
