"""Benchmark sweeps at scale (issue: sweeps at scale). Not a test: writes
benchmarks/results/sweeps.{json,md}.

0. The large f–I map (stimulus × temperature, full HH; 10⁵ members by default) through the CLI in
   one process, members in chunks sized from a memory budget: wall, peak RSS, members per second.
1. A smaller map (10⁴ by default) the same way, against
2. the same members one chunk per process (each process: imports, compilation, its chunk), and
3. the same sweep in two local processes (jax.distributed on 127.0.0.1): members.csv equal to the
   one-process run's, members per second.

Sizes from the environment: BENCH_SWEEP_LARGE_AMPLITUDES (0 skips the large map) and
BENCH_SWEEP_AMPLITUDES, × BENCH_SWEEP_TEMPERATURES members over BENCH_SWEEP_T1_MS (rate over the
last half), budget BENCH_SWEEP_BUDGET_GB. The compilation cache is off in every process (each pays
its compilation, as a first run would).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LARGE_AMPLITUDES = int(os.environ.get("BENCH_SWEEP_LARGE_AMPLITUDES", "12500"))
AMPLITUDES = int(os.environ.get("BENCH_SWEEP_AMPLITUDES", "1250"))
TEMPERATURES = int(os.environ.get("BENCH_SWEEP_TEMPERATURES", "8"))
T1 = float(os.environ.get("BENCH_SWEEP_T1_MS", "200"))
BUDGET_GB = float(os.environ.get("BENCH_SWEEP_BUDGET_GB", "0.5"))
ENV = {**os.environ, "NEUROCLI_NO_COMPILATION_CACHE": "1", "PYTHONPATH": str(ROOT)}


def config(sweep: dict) -> dict:
    return {
        "model": {"name": "hh"},
        "stimulus": {"kind": "step", "start": 0.0, "amplitude": 0.0},
        "sweep": sweep,
        "time": {"t0": 0.0, "t1": T1, "save_every": 0.1},
        "solver": {"name": "tsit5", "rtol": 1e-7, "atol": 1e-7},
        "analysis": {"rate_window_ms": T1 / 2},
        "output": {"trajectory_members": 3},
        "runtime": {"memory_budget_gb": BUDGET_GB},
    }


def fi_map(amplitudes: int) -> dict:
    return {"parameters": [
        {"parameter": "model.temperature_C", "linspace": {"start": 6.3, "stop": 20.0, "num": TEMPERATURES}},
        {"parameter": "stimulus.amplitude", "linspace": {"start": 0.0, "stop": 20.0, "num": amplitudes}},
    ]}


MAP = fi_map(AMPLITUDES)


def neurocli(cfg: dict, workdir: Path, name: str, extra=()) -> tuple[subprocess.Popen, Path, Path]:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rss = workdir / f"{name}.rss"
    cmd = ["/usr/bin/time", "-f", "%M", "-o", str(rss), sys.executable, "-m", "neurocli", "simulate",
           "--config", str(path), "--output-root", str(workdir / name), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT), rss, path


def finish(proc, rss: Path) -> tuple[Path | None, float]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("/")]
    return (Path(lines[-1]) if lines else None), int(rss.read_text().split()[-1]) * 1024


def timed(cfg, workdir, name, extra=()):
    start = time.perf_counter()
    proc, rss, _ = neurocli(cfg, workdir, name, extra)
    run, peak = finish(proc, rss)
    return run, peak, time.perf_counter() - start


def rows(run: Path) -> np.ndarray:
    return np.loadtxt(run / "members.csv", delimiter=",", skiprows=1, ndmin=2)


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """members.csv of two runs: bitwise equal? the largest difference per metric otherwise."""
    diff = np.abs(a - b)
    diff[np.isnan(a) & np.isnan(b)] = 0.0
    return {
        "members_csv_equal_to_one_process": bool(np.array_equal(a, b, equal_nan=True)),
        "spike_counts_equal": bool(np.array_equal(a[:, 2], b[:, 2])),
        "rates_max_abs_diff_hz": float(diff[:, 3].max()),
        "max_abs_diff_any_column": float(diff.max()),
    }


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_sweeps_"))
    n = AMPLITUDES * TEMPERATURES
    results: dict = {"members": n, "t1_ms": T1, "budget_gb": BUDGET_GB, "cpu_count": os.cpu_count(),
                     "load_note": os.environ.get("BENCH_LOAD_NOTE", "not recorded"),
                     "loadavg_at_start": os.getloadavg()}

    # a one-member run: what the process costs without the sweep
    one = config({"parameter": "stimulus.amplitude", "values": [10.0]})
    _, base_rss, base_wall = timed(one, work, "baseline")
    results["baseline"] = {"wall_s": base_wall, "peak_rss_bytes": base_rss}

    # 0. the large map, one process
    if LARGE_AMPLITUDES:
        run, peak, wall = timed(config(fi_map(LARGE_AMPLITUDES)), work, "large")
        metrics = json.loads((run / "metrics.json").read_text())
        big = LARGE_AMPLITUDES * TEMPERATURES
        results["large"] = {
            "members": big, "wall_s": wall, "peak_rss_bytes": peak, "members_per_s": big / wall,
            "chunk_size": metrics["chunk_size"], "chunks": metrics["chunks"], "compile_s": metrics["compile_s"],
            "run_s": metrics["run_s"], "rss_above_baseline_bytes": peak - base_rss,
            "budget_bytes": int(BUDGET_GB * 1024**3), "members_csv_rows": len(rows(run)),
        }
        print(json.dumps(results["large"]), file=sys.stderr)

    # 1. one process, chunks from the budget
    run, peak, wall = timed(config(MAP), work, "map")
    metrics = json.loads((run / "metrics.json").read_text())
    results["one_process"] = {
        "wall_s": wall, "peak_rss_bytes": peak, "members_per_s": n / wall, "chunk_size": metrics["chunk_size"],
        "chunks": metrics["chunks"], "compile_s": metrics["compile_s"], "run_s": metrics["run_s"],
        "rss_above_baseline_bytes": peak - base_rss, "budget_bytes": int(BUDGET_GB * 1024**3),
    }
    print(json.dumps(results["one_process"]), file=sys.stderr)
    reference = rows(run)

    # 2. the same chunks, one process each (members as a zip of their own values)
    table = reference[:, :2]
    chunk = metrics["chunk_size"]
    walls, peaks, parts = [], [], []
    for i in range(0, n, chunk):
        part = table[i:i + chunk]
        sweep = {"combine": "zip", "parameters": [
            {"parameter": "model.temperature_C", "values": part[:, 0].tolist()},
            {"parameter": "stimulus.amplitude", "values": part[:, 1].tolist()},
        ]}
        cfg = config(sweep)
        cfg["runtime"] = {"chunk_size": len(part)}
        r, p, w = timed(cfg, work, f"chunk{i // chunk}")
        walls.append(w)
        peaks.append(p)
        parts.append(rows(r))
    separate = np.concatenate(parts)
    results["chunk_per_process"] = {
        "processes": len(walls), "wall_s": sum(walls), "max_peak_rss_bytes": max(peaks), "members_per_s": n / sum(walls),
        "rates_max_abs_diff_hz": float(np.nanmax(np.abs(separate[:, 3] - reference[:, 3]))),
    }
    print(json.dumps(results["chunk_per_process"]), file=sys.stderr)

    # 3. two local processes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    procs = [neurocli(config(MAP), work, f"two{i}", ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                                                      "--process-id", str(i)]) for i in range(2)]
    done = [finish(p, rss) for p, rss, _ in procs]
    wall2 = time.perf_counter() - start
    two = done[0][0]
    results["two_processes"] = {
        "wall_s": wall2, "members_per_s": n / wall2, "peak_rss_bytes": [d[1] for d in done],
        "chunk_size": json.loads((two / "metrics.json").read_text())["chunk_size"], **compare(rows(two), reference),
    }
    print(json.dumps(results["two_processes"]), file=sys.stderr)

    (RESULTS / "sweeps.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results)


def write_markdown(r: dict) -> None:
    gib = 1024**3
    one, sep, two = r["one_process"], r["chunk_per_process"], r["two_processes"]
    lines = [
        "# sweeps benchmark (2 CPU cores; see the note on load)",
        "",
        f"f–I maps of full HH (stimulus × temperature) over {r['t1_ms']:g} ms, rate over the last half; tsit5 1e-7, "
        f"V every 0.1 ms; memory budget {r['budget_gb']:g} GiB; compilation cache off.",
        "",
        "| what | members | wall (s) | members/s | peak RSS (GiB) |",
        "|---|---|---|---|---|",
    ]
    if "large" in r:
        big = r["large"]
        lines.append(
            f"| one process, {big['chunks']} chunks of {big['chunk_size']} (compile {big['compile_s']:.1f} s, solve "
            f"{big['run_s']:.1f} s) | {big['members']} | {big['wall_s']:.1f} | {big['members_per_s']:.0f} | "
            f"{big['peak_rss_bytes'] / gib:.2f} |")
    lines += [
        f"| one process, {one['chunks']} chunks of {one['chunk_size']} (compile {one['compile_s']:.1f} s, "
        f"solve {one['run_s']:.1f} s) | {r['members']} | {one['wall_s']:.1f} | {one['members_per_s']:.0f} | "
        f"{one['peak_rss_bytes'] / gib:.2f} |",
        f"| the same chunks, one process each ({sep['processes']} processes) | {r['members']} | {sep['wall_s']:.1f} | "
        f"{sep['members_per_s']:.0f} | {sep['max_peak_rss_bytes'] / gib:.2f} (largest) |",
        f"| two local processes (jax.distributed, gloo) | {r['members']} | {two['wall_s']:.1f} | "
        f"{two['members_per_s']:.0f} | {', '.join(f'{b / gib:.2f}' for b in two['peak_rss_bytes'])} |",
        f"| a one-member run (the process alone) | 1 | {r['baseline']['wall_s']:.1f} | | "
        f"{r['baseline']['peak_rss_bytes'] / gib:.2f} |",
        "",
    ]
    if "large" in r:
        big = r["large"]
        lines.append(f"- {big['members']} members: peak RSS {big['rss_above_baseline_bytes'] / gib:.2f} GiB above the "
                     f"one-member run, budget {big['budget_bytes'] / gib:.2f} GiB; members.csv has "
                     f"{big['members_csv_rows']} rows.")
    lines += [
        f"- {r['members']} members: peak RSS above the one-member run {one['rss_above_baseline_bytes'] / gib:.2f} GiB.",
        f"- Chunk-per-process rates equal the one-process run's to {sep['rates_max_abs_diff_hz']:.2g} Hz.",
        f"- Two processes (chunks of {two['chunk_size']}: a multiple of the 2 devices) against one process "
        f"(chunks of {one['chunk_size']}): members.csv bitwise equal: {two['members_csv_equal_to_one_process']}; "
        f"spike counts equal: {two['spike_counts_equal']}; rates differ by at most {two['rates_max_abs_diff_hz']:.2g} Hz, "
        f"any column by {two['max_abs_diff_any_column']:.2g} (where not equal: XLA rounds differently for another batch "
        "length; with equal chunk sizes one and two processes write identical files, tests/test_sweeps.py).",
        "- Two processes on one 2-core machine share the same cores (XLA already uses both in one process), so "
        "they show the engine works, not a speed-up. Each device loops over its own members (shard_map): no "
        "collective per solver step.",
        f"- Load: {r.get('load_note', 'not recorded')}",
    ]
    (RESULTS / "sweeps.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--markdown":
        write_markdown(json.loads((RESULTS / "sweeps.json").read_text()))
    else:
        main()
