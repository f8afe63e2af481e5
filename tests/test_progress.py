"""Progress on a non-terminal: phase lines, a line every N per cent or seconds, and a final line
carrying the values metrics.json will have."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from neurocli import progress
from neurocli.cli import app


def test_lines_every_ten_percent_and_a_final_line(capsys):
    with progress.progress(50, "train", every_s=1e9, every_pct=10) as report:
        for step in range(1, 51):
            report(step, loss=1.0 / step, best=1.0 / step)
        report.finish(best=0.0123456789)
    lines = capsys.readouterr().err.strip().splitlines()
    steps = [int(re.search(r"(\d+)/50", line).group(1)) for line in lines]
    assert steps == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 50]
    assert "train done: 50/50" in lines[-1] and "best=0.0123457" in lines[-1]


def test_a_line_at_least_every_few_seconds(capsys, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    with progress.progress(10_000, "solve", every_s=2.0, every_pct=50) as report:
        for step in range(1, 11):
            clock[0] += 1.0
            report(step)
    steps = [int(re.search(r"(\d+)/10000", line).group(1)) for line in capsys.readouterr().err.splitlines()]
    assert steps == [2, 4, 6, 8, 10]


def test_latest_values_are_shown_when_the_loop_stops_between_lines(capsys):
    with progress.progress(100, "train", every_s=1e9, every_pct=50) as report:
        for step in range(1, 8):
            report(step, loss=float(step))
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].endswith("train: 7/100  loss=7")


def test_simulate_announces_its_phases(tmp_path: Path):
    cfg = {"model": {"name": "fitzhugh_nagumo"}, "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.5},
           "stimulus": {"kind": "none"}}
    path = tmp_path / "fhn.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    phases = [m.group(1) for m in re.finditer(r"\] (building|compiling|solving|writing)", result.stderr)]
    assert phases == ["building", "compiling", "solving", "writing"]
    assert Path(result.stdout.strip().splitlines()[-1]).is_dir()  # stdout still ends with the run directory
