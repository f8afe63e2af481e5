"""`neurocli runs show RUN`: one run's status, config, metrics and files, as text."""

from __future__ import annotations

from pathlib import Path

from neurocli.runs.record import RunRecord, read_run
from neurocli.runs.query import RunsError


def describe(path: Path) -> str:
    record = read_run(Path(path))
    if record is None:
        raise RunsError(f"{path}: run.json is missing or unreadable")
    return "\n".join(_lines(record)) + "\n"


def _lines(r: RunRecord) -> list[str]:
    info = r.info
    duration = "" if r.duration_s is None else f"   duration {r.duration_s:.1f} s"
    out = [f"run      {r.path}",
           f"command  {r.command}   status {r.status}   started {r.time}{duration}",
           f"argv     {' '.join(map(str, info.get('argv') or []))}"]
    if info.get("error"):
        out.append(f"error    {info['error']}")
    if info.get("resumed"):
        out.append(f"resumed  {len(info['resumed'])} time(s)")
    trial = _read_text(r.path / "tune_trial.json")
    if trial:
        out += ["", "tune trial (tune_trial.json):", *("  " + line for line in trial.strip().splitlines())]
    config = _read_text(r.path / "config.yaml")
    out += ["", "config (config.yaml):", *("  " + line for line in (config or "(none)\n").rstrip().splitlines())]
    out += ["", "metrics (metrics.json, numbers; README 'Metric keys'):"]
    if r.metrics:
        width = max(map(len, r.metrics))
        out += [f"  {k.ljust(width)}  {v:.6g}" for k, v in sorted(r.metrics.items())]
    else:
        out.append("  (none)")
    figures = sorted((r.path / "figures").glob("*.pdf")) if (r.path / "figures").is_dir() else []
    out += ["", "figures:", *(f"  {f}" for f in figures)] if figures else ["", "figures: (none)"]
    files = sorted(p.name + ("/" if p.is_dir() else "") for p in r.path.iterdir() if p.name != "figures"
                   and not p.name.startswith("."))
    out += ["", f"files:   {' '.join(files)}"]
    return out


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
