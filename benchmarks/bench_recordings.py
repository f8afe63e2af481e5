"""Benchmark train-ude on recordings (issue 19). Not a test: writes benchmarks/results/recordings.{json,md}
and copies the runs' figures there.

1. Conductances from V only: full Hodgkin–Huxley (squid-axon truth) under three 30 ms current
   steps (−10, 4, 10 µA/cm²), 50 ms at 0.1 ms, σ = 1 mV voltage noise, with
   configs/fit_conductances.yaml through the CLI (a fresh process):
   - the shipped recording tests/data/hh_steps.csv (noise seed 0), an empty compilation cache,
     then warm: the wall time (target <= 60 s on 2 cores) and its fitted values;
   - a noise-seed sweep: the noise-free recording with data.noise.V = 1 and `sweep: data.seed`
     over NOISE_SEEDS, every member fitted in one vmapped run: each member's g_Na, g_K, g_L, E_L
     against the truth, their median and spread (targets: within 2 %, E_L within 0.5 mV);
   - a start sweep (identifiability): the shipped recording, `sweep: runtime.seed` over
     START_SEEDS with fit.init_jitter = START_JITTER (starts spread by that fraction, log-normal):
     the spread of the fitted values across starts.
2. The sodium current from V only: the reduced model (V, n; n hidden) whose sodium current a
   network of V replaces (the seed's UDE, configs/ude_reduced_hh.yaml's recipe), fitted to V alone
   with σ = 1 mV under three 1 ms pulses (10, 20, 30 µA/cm² at 10 ms) plus a held-out fourth
   (15 µA/cm²), the recorded current driving the model. Target: the learned I_Na within 1 µA/cm²
   RMSE of the true one over the visited voltages; the held-out protocol's SSE reported (the noise
   alone gives about σ² × 501 = 501).
3. configs/ude_recording.yaml (tests/data/hh_steps.nwb: full HH, sodium replaced by a network of
   V, m, h, from V only): its metrics as they come.

`BENCH_REC_ONLY=a,b` runs a subset (conductances, sodium, ude_recording); the sections not run keep
their previous results (read from recordings.json).
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


import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

TRUTH = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3, "E_L": -54.387}
SIGMA = 1.0
STEPS = (-10.0, 4.0, 10.0)  # µA/cm², as tests/data/make_recording.py
NOISE_SEEDS = list(range(8))
START_SEEDS = list(range(6))
START_JITTER = 0.3
SPREAD = ("median", "min", "max", "q25", "q75", "iqr", "mad")

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


def make_data(kind: str, seed: int, path: Path, sigma: float = SIGMA) -> None:
    """Write a synthetic recording in a child process (JAX float64, no state left here)."""
    code = f"""
import jax; jax.config.update('jax_enable_x64', True)
import sys; sys.path.insert(0, {str(ROOT)!r})
from neurocli.models import HodgkinHuxley, ReducedHodgkinHuxley
from neurocli.ude import synthetic
if {kind!r} == 'steps':
    syn = synthetic.current_clamp(HodgkinHuxley(), amplitudes={STEPS!r}, t1=50.0, dt=0.1, start=5.0,
                                  stop=35.0, noise_mV={sigma}, seed={seed})
else:
    m = ReducedHodgkinHuxley()
    syn = synthetic.current_clamp(m, amplitudes=(10.0, 20.0, 30.0, 15.0), t1=50.0, dt=0.1, start=10.0,
                                  stop=11.0, noise_mV={sigma}, seed={seed})
synthetic.write_csv({str(path)!r}, syn)
"""
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                   stderr=subprocess.DEVNULL)


def cli(config: Path | str, cache_dir: str, sets=()) -> dict:
    run_dir, metrics, wall = neurocli_process.run("train-ude", str(config), list(sets),
                                                  env={**os.environ, "NEUROCLI_CACHE_DIR": cache_dir})
    return {**metrics, "process_wall_s": wall, "run_dir": str(run_dir)}


def _errors(values: dict) -> dict:
    """Each parameter's error against the truth: relative for conductances, mV for E_L."""
    return {n: (values[n] - t) if n == "E_L" else (values[n] - t) / abs(t) for n, t in TRUTH.items()}


def _sweep_config(tmp: Path, name: str, data_path: Path, sweep: dict, data=None, fit=None) -> Path:
    import yaml

    raw = yaml.safe_load((ROOT / "configs" / "fit_conductances.yaml").read_text())
    raw["data"]["path"] = str(data_path)
    raw["data"].update(data or {})
    raw["fit"].update(fit or {})
    raw["sweep"] = sweep
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _summary(m: dict) -> dict:
    """A sweep's fitted parameters: per member, the median and spread, errors against the truth."""
    fitted = m["fitted_parameters"]
    members = [{name: mem["fitted_parameters"][name]["value"] for name in TRUTH} for mem in m["members"]]
    return {"process_wall_s": m["process_wall_s"], "compile_s": m["compile_s"], "train_s": m["train_s"],
            "members": len(members), "run_dir": m["run_dir"],
            "member_values": members, "member_errors": [_errors(v) for v in members],
            "member_stderr": [{n: mem["fitted_parameters"][n]["stderr"] for n in TRUTH} for mem in m["members"]],
            "spread": {n: {k: fitted[n][k] for k in SPREAD} for n in TRUTH},
            "median_error": _errors({n: fitted[n]["median"] for n in TRUTH}),
            "stderr_median": {n: fitted[n]["stderr_median"] for n in TRUTH}}


def conductances(tmp: Path) -> dict:
    out: dict = {}
    cache = tempfile.mkdtemp(prefix="bench_rec_cache_")
    shipped = ROOT / "tests" / "data" / "hh_steps.csv"
    print("[bench_recordings] conductances, the shipped recording (cold, then warm)", file=sys.stderr, flush=True)
    m = cli("configs/fit_conductances.yaml", cache)
    warm = cli("configs/fit_conductances.yaml", cache)
    fitted = {n: m["fitted_parameters"][n]["value"] for n in TRUTH}
    out["single"] = {"cold_wall_s": m["process_wall_s"], "warm_wall_s": warm["process_wall_s"],
                     "compile_s": m["compile_s"], "train_s": m["train_s"], "residual_sd": m["fit_residual_sd"],
                     "values": fitted, "errors": _errors(fitted),
                     "stderr": {n: m["fitted_parameters"][n]["stderr"] for n in TRUTH}, "run_dir": m["run_dir"]}
    shutil.copy(Path(m["run_dir"]) / "figures" / "fit.pdf", RESULTS / "recordings_conductances_fit.pdf")

    clean = tmp / "steps_clean.csv"
    make_data("steps", 0, clean, sigma=0.0)
    print(f"[bench_recordings] conductances, a noise-seed sweep ({len(NOISE_SEEDS)} members)", file=sys.stderr, flush=True)
    config = _sweep_config(tmp, "noise_seeds", clean, {"parameter": "data.seed", "values": NOISE_SEEDS},
                           data={"noise": {"V": SIGMA}})
    out["noise_seeds"] = _summary(cli(config, cache))
    shutil.copy(Path(out["noise_seeds"]["run_dir"]) / "figures" / "parameters.pdf",
                RESULTS / "recordings_conductances_noise_seeds.pdf")

    print(f"[bench_recordings] conductances, a start sweep ({len(START_SEEDS)} members)", file=sys.stderr, flush=True)
    config = _sweep_config(tmp, "starts", shipped, {"parameter": "runtime.seed", "values": START_SEEDS},
                           fit={"init_jitter": START_JITTER})
    out["starts"] = _summary(cli(config, cache))
    shutil.copy(Path(out["starts"]["run_dir"]) / "figures" / "parameters.pdf",
                RESULTS / "recordings_conductances_starts.pdf")
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
    return {**{k: m.get(k) for k in keep}, "steps": list(STEPS)}


def markdown(results: dict) -> str:
    mach = results["machine"]
    lines = ["# train-ude on recordings (issue 19)", "",
             f"Machine: {mach['cpus']} CPUs, {mach['platform']}; load average at start {mach['load_average_at_start']}, "
             f"at end {mach['load_average_at_end']} (a shared machine: timings are pessimistic).",
             "Produced by `python benchmarks/bench_recordings.py` (from the repository root).", ""]
    if "conductances" in results:
        c = results["conductances"]

        def err(name, e):
            return f"{e:+.3f} mV" if name == "E_L" else f"{100 * e:+.2f} %"

        one = c["single"]
        lines += ["## Conductances from V only (full HH, 3 current steps −10, 4, 10 µA/cm², σ = 1 mV)", "",
                  "`configs/fit_conductances.yaml` (no network; g_Na, g_K, g_L log-space, E_L linear; start "
                  "100, 30, 0.5, −60; 10 Levenberg–Marquardt iterations of multiple shooting (1 ms segments), then "
                  "40 on the whole record; each sweep's starting V fitted). "
                  "Targets: within 2 % (E_L within 0.5 mV), ≤ 60 s.", "",
                  "### The shipped recording (tests/data/hh_steps.csv, noise seed 0)", "",
                  "| | g_Na | g_K | g_L | E_L (mV) |", "|---|---|---|---|---|",
                  "| fitted ± stderr | " + " | ".join(f"{one['values'][n]:.5g} ± {one['stderr'][n]:.2g}" for n in TRUTH) + " |",
                  "| error | " + " | ".join(err(n, one["errors"][n]) for n in TRUTH) + " |", "",
                  f"Residual sd {one['residual_sd']:.3f} mV. Process wall: {one['cold_wall_s']:.1f} s with an empty "
                  f"compilation cache, {one['warm_wall_s']:.1f} s warm.", ""]
        for key, title, how in (
                ("noise_seeds", "Over noise seeds: `sweep: data.seed`",
                 f"The noise-free recording with `data.noise.V: {SIGMA}`, one noise draw per member (data.seed "
                 f"{NOISE_SEEDS[0]}–{NOISE_SEEDS[-1]}), all fitted in one vmapped run."),
                ("starts", "Over starts: `sweep: runtime.seed` with `fit.init_jitter`",
                 f"The shipped recording, each member's start drawn log-normally around the config's "
                 f"(init_jitter {START_JITTER}, runtime.seed {START_SEEDS[0]}–{START_SEEDS[-1]}): identifiability.")):
            if key not in c:
                continue
            sw = c[key]
            errs = sw["member_errors"]
            lines += [f"### {title}", "", how, "",
                      "| | g_Na | g_K | g_L | E_L (mV) |", "|---|---|---|---|---|",
                      "| median | " + " | ".join(f"{sw['spread'][n]['median']:.5g}" for n in TRUTH) + " |",
                      "| error of the median | " + " | ".join(err(n, sw["median_error"][n]) for n in TRUTH) + " |",
                      "| min – max | " + " | ".join(f"{sw['spread'][n]['min']:.5g} – {sw['spread'][n]['max']:.5g}"
                                                  for n in TRUTH) + " |",
                      "| IQR | " + " | ".join(f"{sw['spread'][n]['iqr']:.3g}" for n in TRUTH) + " |",
                      "| MAD | " + " | ".join(f"{sw['spread'][n]['mad']:.3g}" for n in TRUTH) + " |",
                      "| median stderr | " + " | ".join(f"{sw['stderr_median'][n]:.3g}" for n in TRUTH) + " |",
                      "| worst member error | " + " | ".join(err(n, max((e[n] for e in errs), key=abs)) for n in TRUTH) + " |",
                      "| members within target | " + " | ".join(
                          f"{sum(abs(e[n]) <= (0.5 if n == 'E_L' else 0.02) for e in errs)}/{len(errs)}" for n in TRUTH) + " |",
                      "", f"{sw['members']} members in {sw['process_wall_s']:.1f} s of process wall (compile "
                          f"{sw['compile_s']:.1f} s, train {sw['train_s']:.1f} s).", ""]
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
        steps = ", ".join(f"{x:g}" for x in u.get("steps", (-3.0, 4.0, 10.0)))
        lines += ["## configs/ude_recording.yaml (full HH from the NWB, V only; sodium by a network of V, m, h)", "",
                  f"Measured on tests/data/hh_steps.nwb with the steps {steps} µA/cm²"
                  + ("" if "steps" in u else " (the recording before its hyperpolarising step became −10 µA/cm²; "
                                             "not rerun since)") + ".", "",
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
    previous = RESULTS / "recordings.json"
    if only and previous.is_file():  # the sections not run now keep their last results
        kept = json.loads(previous.read_text())
        results.update({k: v for k, v in kept.items() if k not in ("machine", *names)})
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
