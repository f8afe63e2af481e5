"""Benchmark `neurocli runs` on 10^4 run directories (issue 24). Not a test: writes
benchmarks/results/runs.{json,md}.

Makes N (BENCH_RUNS, default 10000) synthetic run directories in a temporary output root, a
third each of simulate (a 2-member sweep's metrics), train-ude and train-pinn (3 members), each
with run.json and metrics.json shaped as the real commands write them (plus config.yaml, which
`runs` does not read). Then times, as separate processes (REPS alternating repetitions, medians):
the plain listing, a filtered and sorted listing, and the JSON format; and `neurocli --help` as
the floor of a process start. CPU seconds (user + system) too: steadier on a shared machine.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
N = int(os.environ.get("BENCH_RUNS", "10000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
NOTE = os.environ.get("BENCH_NOTE", "The machine may have been shared with other work.")
NEUROCLI = [sys.executable, "-m", "neurocli"]


def metrics(command: str, rng: random.Random) -> dict:
    if command == "simulate":
        return {"spike_count": [0, rng.randint(0, 3)], "firing_rate_hz": [None, rng.uniform(20, 90)],
                "peak_V_mV": [-60.8, rng.uniform(30, 45)], "min_V_mV": [-66.3, -76.2], "num_steps": [46, 141],
                "num_rejected_steps": [6, 15], "spike_times_ms": [[], [3.3]], "swept": "stimulus.amplitude",
                "values": [5.0, 20.0], "members": 2, "compile_s": rng.uniform(1, 5), "run_s": rng.uniform(0, 1)}
    if command == "train-ude":
        return {"best_loss": 10 ** rng.uniform(-7, 3), "final_loss": 1.0, "iterations": 500, "failed_solves": 0,
                "current_rmse": 10 ** rng.uniform(-4, 1), "current_max_err": 1.0, "validation_sse": 2.0,
                "compile_s": 10.0, "train_s": rng.uniform(5, 100), "s_per_iter": 0.01, "phases": ["adam", "lbfgs"]}
    return {"members": [{"a": a, "k": 5.0, "final_loss": rng.uniform(0, 1), "best_loss": 0.1,
                         "rel_l2": 10 ** rng.uniform(-4, -1), "max_abs_err": 0.1, "rel_l2_T": 0.1} for a in (0.1, 0.2, 0.3)],
            "swept": ["pde.a"], "compile_s": 20.0, "train_s": rng.uniform(10, 500), "s_per_step": 0.004,
            "boundary": "dirichlet", "reference_num_steps": [11442, 11444, 11450]}


def make(root: Path) -> None:
    rng = random.Random(0)
    commands = ("simulate", "train-ude", "train-pinn")
    for i in range(N):
        command = commands[i % 3]
        day, sec = divmod(i, 86400)
        stamp = f"2026{11 + day // 28:02d}{1 + day % 28:02d}-{sec // 3600:02d}{sec // 60 % 60:02d}{sec % 60:02d}"
        path = root / command / f"{stamp}_run{i}"
        path.mkdir(parents=True)
        iso = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00"
        info = {"command": command, "argv": ["neurocli", command, "--config", f"configs/run{i}.yaml"],
                "status": "completed" if i % 10 else "failed", "started": iso, "finished": iso,
                "versions": {"python": "3.11.7", "jax": "0.10.2"}, "seed": 0, "git_commit": "0" * 40, "error": None,
                "jax_backend": "cpu", "devices": ["cpu:0"]}
        (path / "run.json").write_text(json.dumps(info, indent=2))
        (path / "metrics.json").write_text(json.dumps(metrics(command, rng), indent=2))
        (path / "config.yaml").write_text("runtime: {seed: 0}\n")


def timed(args: list[str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout.count("\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "outputs"
        t0 = time.perf_counter()
        make(root)
        made_s = time.perf_counter() - t0
        cases = {
            "neurocli --help (process floor)": [*NEUROCLI, "--help"],
            "runs (table)": [*NEUROCLI, "runs", "--output-root", str(root)],
            "runs --where 'rel_l2_max<1e-2' --sort -train_s": [*NEUROCLI, "runs", "--output-root", str(root), "--where",
                                                              "rel_l2_max<1e-2", "--sort", "-train_s"],
            "runs --format json": [*NEUROCLI, "runs", "--output-root", str(root), "--format", "json"],
        }
        load_before = os.getloadavg()
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for _ in range(REPS):
            for name, args in cases.items():
                runs[name].append(timed(args))
        load_after = os.getloadavg()
    rows = []
    for name, results in runs.items():
        walls, cpus, lines = zip(*results)
        rows.append({"case": name, "median_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                     "lines": lines[0], "runs_s": list(walls)})
    report = {"runs": N, "reps": REPS, "made_s": made_s, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "python": platform.python_version(), "load_before": load_before, "load_after": load_after, "cases": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runs.json").write_text(json.dumps(report, indent=2) + "\n")
    md = [f"# `neurocli runs` on {N} run directories", "",
          f"{report['machine']}, python {report['python']}. {N} synthetic run directories (a third each of simulate, "
          f"train-ude, train-pinn; run.json and metrics.json as the commands write them), made in {made_s:.1f} s. "
          f"Medians over {REPS} alternating process runs. {NOTE} Load average (1, 5, 15 min) before: "
          f"{', '.join(f'{x:.1f}' for x in load_before)}; after: {', '.join(f'{x:.1f}' for x in load_after)}.", "",
          "| case | median wall (s) | CPU s (median) | stdout lines | runs (s) |", "|---|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['case']} | {r['median_s']:.2f} | {r['cpu_s']:.2f} | {r['lines']} | "
                  f"{', '.join(f'{x:.2f}' for x in r['runs_s'])} |")
    (RESULTS / "runs.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
