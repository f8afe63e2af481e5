"""Run `neurocli <command>` in a fresh process, as a user would: a benchmark's wall time then
includes imports, compilation (cold, or from the persistent cache) and writing the run directory."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(command: str, config, sets=(), *, env=None, output_root=None, name=None) -> tuple[Path, dict, float]:
    """(run directory, its metrics.json, process wall seconds); a failed run raises with its stderr.
    `config` is relative to the repository root, or absolute."""
    out = output_root or tempfile.mkdtemp(prefix=f"bench_{command}_")
    cmd = [sys.executable, "-m", "neurocli", command, "--config", str(ROOT / config), "--output-root", str(out)]
    if name is not None:
        cmd += ["--name", name]
    for item in sets:
        cmd += ["--set", item]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"neurocli {command} --config {config}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    return run_dir, json.loads((run_dir / "metrics.json").read_text()), wall
