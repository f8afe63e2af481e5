"""Benchmark `neurocli train-ude` (issue 3). Not a test: writes benchmarks/results/ude.{json,md} and
benchmarks/results/ude_loss_comparison.pdf.

1. configs/ude_reduced_hh.yaml through the CLI, wall time of the whole process: first with an
   empty compilation cache (cold), then again (warm, the persistent cache). Targets: best_loss
   <= 1e-4, current_rmse <= 0.5 µA/cm², <= 60 s wall including compilation.
2. Stability: after the first 5 % of iterations the loss never exceeds 10 × its best so far.
3. configs/ude_seed_recipe.yaml (the seed's recipe, same data): its metrics, the same stability
   ratio, and the seconds per Adam iteration against the seed's torchdiffeq 0.55 s/iter.
4. The potassium variant (configs/ude_potassium.yaml) and noisy data (configs/ude_noisy.yaml).
5. The default recipe from other seeds, and with the previous optimiser (2000 L-BFGS iterations).
6. The full hh model, sodium replaced, on a spike (configs/ude_hh_sodium.yaml: multiple shooting,
   then the whole record, Levenberg–Marquardt), and variants without shooting and with L-BFGS.

The machine may be shared: the timings are then pessimistic. `BENCH_UDE_ONLY=a,b` runs a subset
(names: the keys of CONFIGS).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TORCHDIFFEQ_S_PER_ITER = 0.55  # the figure for the seed's model in PyTorch + torchdiffeq (2 cores)

CONFIGS = {
    "default": ("configs/ude_reduced_hh.yaml", ()),
    "seed": ("configs/ude_seed_recipe.yaml", ()),
    # seconds per Adam iteration at the torchdiffeq figure's settings (the seed's problem, a 1 -> 10 -> 1
    # network, Tsit5 at rtol = atol = 1e-6, float64), on a healthy run (no rejected steps)
    "adam_timing": ("configs/ude_reduced_hh.yaml", (
        "ude.network.width=10", "solve.solver.rtol=1.0e-6", "solve.solver.atol=1.0e-6",
        "train.phases=[{optimizer: adam, iterations: 300, lr: 0.001}]")),
    "potassium": ("configs/ude_potassium.yaml", ()),
    "noisy": ("configs/ude_noisy.yaml", ()),
    # the default recipe from other initial networks
    "default_seed1": ("configs/ude_reduced_hh.yaml", ("runtime.seed=1",)),
    "default_seed2": ("configs/ude_reduced_hh.yaml", ("runtime.seed=2",)),
    "default_seed3": ("configs/ude_reduced_hh.yaml", ("runtime.seed=3",)),
    # the previous recipe: 2000 L-BFGS iterations instead of 500 Levenberg–Marquardt ones
    "default_lbfgs": ("configs/ude_reduced_hh.yaml", ("train.phases=[{optimizer: lbfgs, iterations: 2000}]",)),
    # the full model (spiking data): multiple shooting first, then the whole record ...
    "hh_sodium": ("configs/ude_hh_sodium.yaml", ()),
    # ... the whole record only, with LM ...
    "hh_sodium_lm_whole_record": ("configs/ude_hh_sodium.yaml", (
        "loss.shooting=null", "train.phases=[{optimizer: levenberg_marquardt, iterations: 500}]")),
    # ... and with L-BFGS, with and without shooting
    "hh_sodium_lbfgs_shooting": ("configs/ude_hh_sodium.yaml", (
        "loss.shooting={segment_ms: 1.0, iterations: 500}",
        "train.phases=[{optimizer: lbfgs, iterations: 500}, {optimizer: lbfgs, iterations: 1500}]")),
    "hh_sodium_lbfgs_whole_record": ("configs/ude_hh_sodium.yaml", (
        "loss.shooting=null", "train.phases=[{optimizer: lbfgs, iterations: 2000}]")),
}


def cli(config: str, cache_dir: str, sets=()) -> dict:
    run_dir, metrics, wall = neurocli_process.run("train-ude", config, sets,
                                                  env={**os.environ, "NEUROCLI_CACHE_DIR": cache_dir})
    return {**metrics, "process_wall_s": wall, "run_dir": str(run_dir)}


def loss_history(run_dir: str) -> dict:
    with open(Path(run_dir) / "loss.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    phases = sorted({int(r["phase"]) for r in rows})
    names = {int(r["phase"]): r["optimizer"] for r in rows}
    return {
        "step": np.array([int(r["step"]) for r in rows]),
        "loss": np.array([float(r["loss"]) for r in rows]),
        "phase": np.array([int(r["phase"]) for r in rows]),
        "rejected": np.array([int(r["rejected"]) for r in rows]),
        "names": [names[p] for p in phases],
    }


def stability_ratio(loss: np.ndarray, whole_record_from: int = 0) -> float:
    """max over iterations after the first 5 % of loss / best-so-far (rejected steps count as inf),
    over the whole-record objective's iterations only (multiple shooting's are another objective)."""
    loss = loss[whole_record_from:]
    finite = np.where(np.isfinite(loss), loss, np.inf)
    best = np.minimum.accumulate(finite)
    start = int(np.ceil(0.05 * len(loss)))
    return float(np.max(finite[start:] / best[start:]))


def main() -> None:
    only = os.environ.get("BENCH_UDE_ONLY")
    names = only.split(",") if only else list(CONFIGS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="bench_ude_cache_")
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "load_average_at_start": os.getloadavg()}}
    for name in names:
        config, sets = CONFIGS[name]
        print(f"[bench_ude] {name}: {config} {' '.join(sets)} (cold cache)", file=sys.stderr, flush=True)
        cold = cli(config, cache, sets)
        entry = {"config": config, "set": list(sets), "cold": cold}
        if name == "default":
            print(f"[bench_ude] {name}: warm cache", file=sys.stderr, flush=True)
            entry["warm"] = cli(config, cache)
        hist = loss_history(cold["run_dir"])
        entry["stability_ratio"] = stability_ratio(hist["loss"], cold.get("whole_record_from", 0))
        entry["history"] = hist
        results[name] = entry
    results["machine"]["load_average_at_end"] = os.getloadavg()

    summary = summarise(results)
    figure(results)
    copy_figures(results)
    for entry in results.values():
        entry.pop("history", None) if isinstance(entry, dict) else None
    (RESULTS / "ude.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=2, default=float) + "\n")
    (RESULTS / "ude.md").write_text(markdown(summary, results))
    print(json.dumps(summary, indent=2, default=float))


def summarise(results: dict) -> dict:
    s: dict = {}
    if "default" in results:
        d = results["default"]
        cold, warm = d["cold"], d["warm"]
        s["default"] = {
            "best_loss": cold["best_loss"], "final_loss": cold["final_loss"], "current_rmse": cold["current_rmse"],
            "current_max_err": cold["current_max_err"], "validation_sse": cold["validation_sse"],
            "iterations": cold["iterations"], "failed_solves": cold["failed_solves"],
            "wall_s_cold_cache": cold["process_wall_s"], "wall_s_warm_cache": warm["process_wall_s"],
            "compile_s_cold": cold["compile_s"], "compile_s_warm": warm["compile_s"],
            "s_per_iter": cold["s_per_iter"], "s_per_iter_by_phase": cold["s_per_iter_by_phase"],
            "phases": cold["phases"], "stability_ratio": d["stability_ratio"],
            "targets": {
                "best_loss<=1e-4": cold["best_loss"] <= 1e-4,
                "current_rmse<=0.5": cold["current_rmse"] <= 0.5,
                "wall<=60s (cold cache)": cold["process_wall_s"] <= 60.0,
                "wall<=60s (warm cache)": warm["process_wall_s"] <= 60.0,
                "stability_ratio<=10": d["stability_ratio"] <= 10.0,
            },
        }
    if "seed" in results:
        m = results["seed"]["cold"]
        s["seed_recipe"] = {
            "best_loss": m["best_loss"], "final_loss": m["final_loss"], "current_rmse": m["current_rmse"],
            "validation_sse": m["validation_sse"], "iterations": m["iterations"],
            "failed_solves": m["failed_solves"], "stability_ratio": results["seed"]["stability_ratio"],
            "wall_s": m["process_wall_s"], "s_per_iter": m["s_per_iter"],
        }
    if "adam_timing" in results:
        m = results["adam_timing"]["cold"]
        adam = m["s_per_iter_by_phase"][0]
        s["adam_iteration"] = {
            "settings": "seed problem, 1 -> 10 -> 1 tanh (scaled), Tsit5 rtol = atol = 1e-6, float64, Adam",
            "s_per_iter": adam, "failed_solves": m["failed_solves"], "iterations": m["iterations"],
            "torchdiffeq_s_per_iter": TORCHDIFFEQ_S_PER_ITER, "speedup_vs_torchdiffeq": TORCHDIFFEQ_S_PER_ITER / adam,
        }
    for name in [n for n in CONFIGS if n not in ("default", "seed", "adam_timing")]:
        if name in results:
            m = results[name]["cold"]
            s[name] = {k: m.get(k) for k in ("best_loss", "final_loss", "current_rmse", "current_max_err",
                                             "validation_sse", "iterations", "failed_solves", "fit_sse_to_noise_free",
                                             "noise_sse", "s_per_iter", "compile_s")}
            s[name]["wall_s"] = m["process_wall_s"]
            s[name]["set"] = results[name]["set"]
            s[name]["stability_ratio"] = results[name]["stability_ratio"]
    s["load_average"] = {"start": results["machine"]["load_average_at_start"],
                         "end": results["machine"]["load_average_at_end"]}
    return s


def figure(results: dict) -> None:
    if "default" not in results or "seed" not in results:
        return
    sys.path.insert(0, str(ROOT))
    from neurocli.plotting.ude import loss_comparison

    curves = []
    for name, title in (("default", "our recipe: Levenberg–Marquardt\n(configs/ude_reduced_hh.yaml)"),
                        ("default_lbfgs", "the same with 2000 L-BFGS iterations"),
                        ("seed", "the seed's recipe\n(configs/ude_seed_recipe.yaml)")):
        if name not in results:
            continue
        h = results[name]["history"]
        ratio = results[name]["stability_ratio"]
        m = results[name]["cold"]
        curves.append({**h, "title": f"{title}\nbest {m['best_loss']:.3g}, rejected steps {m['failed_solves']}, "
                                     f"max loss / best-so-far after 5 %: {ratio:.3g}"})
    fig = loss_comparison(curves)
    fig.savefig(RESULTS / "ude_loss_comparison.pdf", bbox_inches="tight")


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def markdown(s: dict, results: dict) -> str:
    lines = ["# train-ude benchmark", "", "Produced by `python benchmarks/bench_ude.py` on "
             f"{results['machine']['cpus']} CPU cores (load average at start "
             f"{', '.join(f'{x:.1f}' for x in results['machine']['load_average_at_start'])}"
             + ("; the machine was shared, so timings are pessimistic" if
                results["machine"]["load_average_at_start"][0] > 1.5 else "") + ").", ""]
    for name, block in s.items():
        if name == "load_average":
            continue
        lines += [f"## {name}", "", "| key | value |", "| --- | --- |"]
        for k, v in block.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    lines.append(f"| {k}: {k2} | {_fmt(v2)} |")
            else:
                lines.append(f"| {k} | {_fmt(v)} |")
        lines.append("")
    lines += ["Loss curves side by side: `benchmarks/results/ude_loss_comparison.pdf`; each run's figures: "
              "`benchmarks/results/ude_<run>_<loss|fit|current|validation>.pdf`.", ""]
    return "\n".join(lines)


def copy_figures(results: dict) -> None:
    """Each run's own figures next to the results: ude_<run>_<figure>.pdf."""
    import shutil

    for name in ("default", "seed", "potassium", "noisy", "hh_sodium"):
        if name in results:
            for pdf in sorted((Path(results[name]["cold"]["run_dir"]) / "figures").glob("*.pdf")):
                shutil.copyfile(pdf, RESULTS / f"ude_{name}_{pdf.name}")


def redraw() -> None:
    """Draw the comparison figure again (and copy the runs' figures) from the runs in ude.json."""
    runs = json.loads((RESULTS / "ude.json").read_text())["runs"]
    for name in ("default", "default_lbfgs", "seed"):
        if name in runs:
            runs[name]["history"] = loss_history(runs[name]["cold"]["run_dir"])
    figure(runs)
    copy_figures(runs)


if __name__ == "__main__":
    redraw() if "--redraw" in sys.argv else main()
