"""The 1000-member f–I sweep: neurocli's process wall against jaxley's at dt 0.01 ms (issue 12),
and both against a tight-tolerance reference. Not a test: writes
benchmarks/results/sweeps_vs_jaxley.{json,md}. Skipped unless JAXLEY_PYTHON names a Python with
jaxley installed (a separate venv: jaxley is never a neurocli dependency).

- neurocli: `simulate --config configs/hh_fi_curve.yaml --set sweep.linspace.num=1000`, cold
  (compilation cache off) and warm (cache on, second run), process wall.
- jaxley: benchmarks/jaxley_fi.py, one HH compartment, backward Euler at dt, process wall.
- reference: neurocli's own solve at rtol = atol = 1e-11, V every 0.01 ms, on 21 of the members
  (every 50th), in one vmapped solve.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
JAXLEY_PYTHON = os.environ.get("JAXLEY_PYTHON")
MEMBERS = int(os.environ.get("BENCH_FI_MEMBERS", "1000"))


def process(cmd, env=None) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout, wall


def neurocli(sets, env, root) -> tuple[dict, float]:
    out, wall = process([sys.executable, "-m", "neurocli", "simulate", "--config", "configs/hh_fi_curve.yaml",
                         "--output-root", str(root), *sum((["--set", s] for s in sets), [])], env)
    run = Path(out.strip().splitlines()[-1])
    return json.loads((run / "metrics.json").read_text()), wall


def _rates(values) -> np.ndarray:
    """metrics.json's firing rates (null where a member fired fewer than two spikes) as floats, NaN there."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def main() -> None:
    if not JAXLEY_PYTHON:
        print("JAXLEY_PYTHON not set: skipping the jaxley comparison", file=sys.stderr)
        return
    root = Path(tempfile.mkdtemp(prefix="bench_fi_"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cold_env = {**env, "NEUROCLI_NO_COMPILATION_CACHE": "1"}
    cache_env = {**env, "NEUROCLI_CACHE_DIR": str(root / "cache")}
    sets = [f"sweep.linspace.num={MEMBERS}", "output.trajectory_members=3"]
    results: dict = {"members": MEMBERS}

    ours, wall = neurocli(sets, cold_env, root / "cold")
    results["neurocli_cold"] = {"wall_s": wall, "compile_s": ours["compile_s"], "run_s": ours["run_s"]}
    neurocli(sets, cache_env, root / "warm0")
    ours, wall = neurocli(sets, cache_env, root / "warm")
    results["neurocli_warm"] = {"wall_s": wall, "compile_s": ours["compile_s"], "run_s": ours["run_s"]}
    rates = _rates(ours["firing_rate_hz"])

    out, wall = process([JAXLEY_PYTHON, "benchmarks/jaxley_fi.py", str(MEMBERS), "0.01"])
    theirs = json.loads(out.strip().splitlines()[-1])
    results["jaxley_dt_0.01"] = {"wall_s": wall, "compile_s": theirs["compile_s"], "solve_s": theirs["solve_s"]}
    jrates = np.asarray(theirs["rates_hz"])

    subset = np.arange(0, MEMBERS, max(1, MEMBERS // 20))
    values = np.asarray(ours["values"])[subset]
    ref, _ = neurocli([f"sweep.linspace=null", f"sweep.values={values.tolist()}", "solver.rtol=1e-11",
                       "solver.atol=1e-11", "time.save_every=0.01", "output.trajectory_members=1"], cold_env, root / "ref")
    ref_rates = _rates(ref["firing_rate_hz"])
    results["reference"] = {"members": subset.tolist(), "values": values.tolist(), "rates_hz": ref_rates.tolist()}
    defined = np.isfinite(ref_rates)  # a rate needs two spikes; members with fewer have none (null)
    results["neurocli_max_abs_err_hz"] = float(np.max(np.abs(rates[subset] - ref_rates)[defined]))
    results["jaxley_max_abs_err_hz"] = float(np.max(np.abs(jrates[subset] - ref_rates)[defined]))
    results["rate_defined_agrees"] = bool(np.array_equal(np.isfinite(rates[subset]), defined))
    firing = ref_rates > 0
    results["onset_reference"] = float(values[firing].min()) if firing.any() else None
    results["onset_neurocli"] = ours["onset_value"]
    ls = np.asarray(ours["values"])
    results["onset_jaxley"] = float(ls[jrates > 0].min()) if (jrates > 0).any() else None

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sweeps_vs_jaxley.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results)


def write_markdown(results: dict) -> None:
    subset = results["reference"]["members"]
    c, w, j = results["neurocli_cold"], results["neurocli_warm"], results["jaxley_dt_0.01"]
    lines = [
        f"# {results['members']}-member f–I sweep: neurocli vs jaxley (2 shared CPU cores; timings noisy)",
        "",
        "Full HH, step current 0–20 µA/cm², 1 s, rate over the last 500 ms. Errors against neurocli at "
        f"rtol = atol = 1e-11, V every 0.01 ms, on {len(subset)} of the members.",
        "",
        "| run | process wall (s) | compile (s) | solve (s) | max rate error (Hz) |",
        "|---|---|---|---|---|",
        f"| neurocli, tsit5 1e-7, cache off | {c['wall_s']:.1f} | {c['compile_s']:.1f} | {c['run_s']:.1f} | "
        f"{results['neurocli_max_abs_err_hz']:.2g} |",
        f"| neurocli, warm cache | {w['wall_s']:.1f} | {w['compile_s']:.1f} | {w['run_s']:.1f} | same |",
        f"| jaxley 0.14, backward Euler dt 0.01 ms | {j['wall_s']:.1f} | {j['compile_s']:.1f} | {j['solve_s']:.1f} | "
        f"{results['jaxley_max_abs_err_hz']:.2g} |",
        "",
        f"Onset of repetitive firing (µA/cm²): neurocli {results['onset_neurocli']:.4g}, jaxley "
        f"{results['onset_jaxley']:.4g} (grid step {20 / (results['members'] - 1):.3g}).",
        "",
        "One run of each, one after another (not interleaved) on a machine shared with other jobs: the "
        "absolute times vary by 2× between sessions; compare within a table.",
    ]
    (RESULTS / "sweeps_vs_jaxley.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--markdown":
        write_markdown(json.loads((RESULTS / "sweeps_vs_jaxley.json").read_text()))
    else:
        main()
