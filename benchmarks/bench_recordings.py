"""Benchmark train-ude on recordings (issue 19). Not a test: writes benchmarks/results/recordings.{json,md}
and copies the runs' figures there.

1. Conductances from V only: full Hodgkin–Huxley (squid-axon truth) under three 30 ms current
   steps (−3, 4, 10 µA/cm²), 50 ms at 0.1 ms, σ = 1 mV voltage noise, noise seeds 0, 1, 2 (seed 0
   is tests/data/hh_steps.csv). configs/fit_conductances.yaml through the CLI (a fresh process, an
   empty compilation cache for seed 0, then warm): g_Na, g_K, g_L, E_L against the truth.
   Targets: each within 2 % (E_L within 0.5 mV), <= 60 s wall on 2 cores.
2. The sodium current from V only: the reduced model (V, n; n hidden) whose sodium current a
   network of V replaces (the seed's UDE, configs/ude_reduced_hh.yaml's recipe), fitted to V alone
   with σ = 1 mV under three 1 ms pulses (10, 20, 30 µA/cm² at 10 ms) plus a held-out fourth
   (15 µA/cm²), the recorded current driving the model. Target: the learned I_Na within 1 µA/cm²
   RMSE of the true one over the visited voltages; the held-out protocol's SSE reported (the noise
   alone gives about σ² × 501 = 501).
3. configs/ude_recording.yaml (tests/data/hh_steps.nwb: full HH, sodium replaced by a network of
   V, m, h, from V only): its metrics as they come.

`BENCH_REC_ONLY=a,b` runs a subset (conductances, sodium, ude_recording).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

TRUTH = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3, "E_L": -54.387}
SIGMA = 1.0

SODIUM_CONFIG = """\
model: {name: hh_reduced}
stimulus: {kind: recorded}
data:
  kind: csv
  path: PATH
  columns: {t: time_ms, V: vm, I_ext: stim}
  sweep_column: sweep
  observed: [V]
ude:
  replaced: sodium
  network: {width: 32, depth: 1, activation: tanh, output_scale: 100.0, final_layer_scale: 0.1}
loss: {reduction: sse}
fit:
  initial_voltage: true
solve:
  solver: {name: tsit5, rtol: 1.0e-7, atol: 1.0e-7, max_steps: 20000}
train:
  phases:
    - {optimizer: levenberg_marquardt, iterations: 300}
  checkpoint_every: 100
validation:
  sweeps: [3]
runtime: {precision: float64, seed: 0}
"""


def make_data(kind: str, seed: int, path: Path) -> None:
    """Write a synthetic recording in a child process (JAX float64, no state left here)."""
    code = f"""
import jax; jax.config.update('jax_enable_x64', True)
import sys; sys.path.insert(0, {str(ROOT)!r})
from neurocli.models import HodgkinHuxley, ReducedHodgkinHuxley
from neurocli.ude import synthetic
if {kind!r} == 'steps':
    syn = synthetic.current_clamp(HodgkinHuxley(), amplitudes=(-3.0, 4.0, 10.0), t1=50.0, dt=0.1, start=5.0,
                                  stop=35.0, noise_mV={SIGMA}, seed={seed})
else:
    m = ReducedHodgkinHuxley()
    syn = synthetic.current_clamp(m, amplitudes=(10.0, 20.0, 30.0, 15.0), t1=50.0, dt=0.1, start=10.0,
                                  stop=11.0, noise_mV={SIGMA}, seed={seed})
synthetic.write_csv({str(path)!r}, syn)
"""
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                   stderr=subprocess.DEVNULL)


def cli(config: Path | str, cache_dir: str, sets=()) -> dict:
    run_dir, metrics, wall = neurocli_process.run("train-ude", str(config), list(sets),
                                                  env={**os.environ, "NEUROCLI_CACHE_DIR": cache_dir})
    return {**metrics, "process_wall_s": wall, "run_dir": str(run_dir)}


def conductances(tmp: Path) -> dict:
    out: dict = {"runs": []}
    cache = tempfile.mkdtemp(prefix="bench_rec_cache_")
    for seed in (0, 1, 2):
        data = tmp / f"steps_{seed}.csv"
        make_data("steps", seed, data)
        print(f"[bench_recordings] conductances, noise seed {seed}", file=sys.stderr, flush=True)
        m = cli("configs/fit_conductances.yaml", cache, [f"data.path={data}"])
        fitted = m["fitted_parameters"]
        row = {"noise_seed": seed, "process_wall_s": m["process_wall_s"], "compile_s": m["compile_s"],
               "train_s": m["train_s"], "best_loss": m["best_loss"], "residual_sd": m["fit_residual_sd"],
               "run_dir": m["run_dir"], "parameters": {}}
        for name, truth in TRUTH.items():
            v, se = fitted[name]["value"], fitted[name]["stderr"]
            err = v - truth
            row["parameters"][name] = {"value": v, "stderr": se, "error": err, "relative_error": err / abs(truth),
                                       "z": err / se if se > 0 else None}
        out["runs"].append(row)
        if seed == 0:  # the same data again with a warm compilation cache
            warm = cli("configs/fit_conductances.yaml", cache, [f"data.path={data}"])
            out["warm_wall_s"] = warm["process_wall_s"]
    shutil.copy(Path(out["runs"][0]["run_dir"]) / "figures" / "fit.pdf", RESULTS / "recordings_conductances_fit.pdf")
    return out


def sodium(tmp: Path) -> dict:
    data = tmp / "reduced.csv"
    make_data("pulses", 0, data)
    config = tmp / "sodium.yaml"
    config.write_text(SODIUM_CONFIG.replace("PATH", str(data)))
    print("[bench_recordings] sodium current from V only (reduced model)", file=sys.stderr, flush=True)
    m = cli(config, tempfile.mkdtemp(prefix="bench_rec_cache_"))
    for fig in ("current", "fit", "loss"):
        shutil.copy(Path(m["run_dir"]) / "figures" / f"{fig}.pdf", RESULTS / f"recordings_sodium_{fig}.pdf")
    keep = ("current_rmse", "current_max_err", "heldout_sse", "fit_sse_per_sweep", "best_loss", "iterations",
            "process_wall_s", "compile_s", "train_s", "fitted_v0_offsets", "run_dir", "failed_solves")
    return {k: m.get(k) for k in keep}


def ude_recording() -> dict:
    print("[bench_recordings] configs/ude_recording.yaml", file=sys.stderr, flush=True)
    m = cli("configs/ude_recording.yaml", tempfile.mkdtemp(prefix="bench_rec_cache_"))
    for fig in ("current", "fit", "loss"):
        src = Path(m["run_dir"]) / "figures" / f"{fig}.pdf"
        if src.is_file():
            shutil.copy(src, RESULTS / f"recordings_ude_recording_{fig}.pdf")
    keep = ("current_rmse", "current_max_err", "heldout_sse", "fit_sse_per_sweep", "best_loss", "iterations",
            "process_wall_s", "compile_s", "train_s", "run_dir", "failed_solves")
    return {k: m.get(k) for k in keep}


def markdown(results: dict) -> str:
    mach = results["machine"]
    lines = ["# train-ude on recordings (issue 19)", "",
             f"Machine: {mach['cpus']} CPUs, {mach['platform']}; load average at start {mach['load_average_at_start']}, "
             f"at end {mach['load_average_at_end']} (a shared machine: timings are pessimistic).",
             "Produced by `python benchmarks/bench_recordings.py` (from the repository root).", ""]
    if "conductances" in results:
        c = results["conductances"]
        lines += ["## Conductances from V only (full HH, 3 current steps, σ = 1 mV)", "",
                  "`configs/fit_conductances.yaml` (no network; g_Na, g_K, g_L log-space, E_L linear; start "
                  "100, 30, 0.5, −60; 40 Levenberg–Marquardt iterations; each sweep's starting V fitted). "
                  "Targets: within 2 % (E_L within 0.5 mV), ≤ 60 s.", "",
                  "| noise seed | g_Na | g_K | g_L | E_L (mV) | residual sd (mV) | process wall (s) |",
                  "|---|---|---|---|---|---|---|"]
        for r in c["runs"]:
            p = r["parameters"]

            def cell(name):
                x = p[name]
                if name == "E_L":
                    return f"{x['value']:.3f} ± {x['stderr']:.3f} ({x['error']:+.3f} mV)"
                return f"{x['value']:.4g} ± {x['stderr']:.2g} ({100 * x['relative_error']:+.2f} %)"

            lines.append(f"| {r['noise_seed']} | {cell('g_Na')} | {cell('g_K')} | {cell('g_L')} | {cell('E_L')} | "
                         f"{r['residual_sd']:.3f} | {r['process_wall_s']:.1f} |")
        worst = {n: max(abs(r["parameters"][n]["relative_error" if n != "E_L" else "error"]) for r in c["runs"])
                 for n in TRUTH}
        zmax = max(abs(r["parameters"][n]["z"]) for r in c["runs"] for n in TRUTH)
        lines += ["", f"Truth: g_Na 120, g_K 36, g_L 0.3 mS/cm², E_L −54.387 mV. Worst over the seeds: g_Na "
                      f"{100 * worst['g_Na']:.2f} %, g_K {100 * worst['g_K']:.2f} %, g_L {100 * worst['g_L']:.2f} %, "
                      f"E_L {worst['E_L']:.3f} mV; largest |error| / stderr {zmax:.2f}. "
                      f"Wall (process, seed 0): {c['runs'][0]['process_wall_s']:.1f} s cold cache, "
                      f"{c['warm_wall_s']:.1f} s warm.", ""]
    if "sodium" in results:
        s = results["sodium"]
        lines += ["## The sodium current from V only (reduced HH, σ = 1 mV)", "",
                  "Three 1 ms pulses (10, 20, 30 µA/cm²) fitted, a fourth (15 µA/cm²) held out; n hidden; a "
                  "network of V (32 tanh) for I_Na; 300 Levenberg–Marquardt iterations. Target: RMSE ≤ 1 µA/cm².", "",
                  f"- learned I_Na vs true over the visited voltages: RMSE {s['current_rmse']:.3g} µA/cm², "
                  f"max error {s['current_max_err']:.3g} µA/cm²",
                  f"- held-out protocol SSE {s['heldout_sse']:.4g} (noise alone ≈ 501); fit SSE per sweep "
                  f"{', '.join(f'{x:.4g}' for x in s['fit_sse_per_sweep'])}",
                  f"- process wall {s['process_wall_s']:.1f} s (compile {s['compile_s']:.1f} s, train {s['train_s']:.1f} s)",
                  ""]
    if "ude_recording" in results:
        u = results["ude_recording"]
        rmse = "n/a" if u["current_rmse"] is None else f"{u['current_rmse']:.3g}"
        lines += ["## configs/ude_recording.yaml (full HH from the NWB, V only; sodium by a network of V, m, h)", "",
                  f"- current RMSE {rmse} µA/cm²; best loss {u['best_loss']:.4g}; held-out SSE "
                  f"{u['heldout_sse']:.4g}; fit SSE per sweep {', '.join(f'{x:.4g}' for x in u['fit_sse_per_sweep'])}",
                  f"- process wall {u['process_wall_s']:.1f} s", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    only = os.environ.get("BENCH_REC_ONLY")
    names = only.split(",") if only else ["conductances", "sodium", "ude_recording"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}}
    with tempfile.TemporaryDirectory() as tmp:
        if "conductances" in names:
            results["conductances"] = conductances(Path(tmp))
        if "sodium" in names:
            results["sodium"] = sodium(Path(tmp))
        if "ude_recording" in names:
            results["ude_recording"] = ude_recording()
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    (RESULTS / "recordings.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    (RESULTS / "recordings.md").write_text(markdown(results))
    print((RESULTS / "recordings.md").read_text())


if __name__ == "__main__":
    main()
