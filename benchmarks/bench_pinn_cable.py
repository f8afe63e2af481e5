"""Benchmark PINNs of the cable models (issue 22). Not a test: writes
benchmarks/results/pinn_cable.{json,md} and copies the runs' figures there.

Each case runs `neurocli train-pinn` in a fresh process on a shipped config (with `--set`
changes for the method ladder) and reports, against simulate's solve of the same cable: the
relative L2 and largest error of every field, the PINN's conduction velocity next to the
reference's, and the wall time.

- `fhn`: configs/pinn_fhn_cable.yaml (targets: rel L2 of v ≤ 1e-2, pulse speed within 1 %).
- `hh`: configs/pinn_hh_cable.yaml (targets: velocity within 2 % of simulate's, rel L2 of V ≤ 5e-2,
  ≤ 30 min on 2 cores).
- The method ladder on the FitzHugh–Nagumo cable, one change at a time from the shipped recipe:
  `fhn_one_window` (no time marching: one network for all of [0, T], the same total steps),
  `fhn_causal` (causal weighting within each window), `fhn_fourier` (Fourier features),
  `fhn_lbfgs` (an L-BFGS finish per window).

`BENCH_PINN_CABLE_ONLY=a,b` runs a subset; the cases not run keep their previous results.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from pathlib import Path

import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FHN, HH = "configs/pinn_fhn_cable.yaml", "configs/pinn_hh_cable.yaml"

CASES = {
    "fhn": (FHN, [], "FitzHugh–Nagumo cable, shipped recipe"),
    "hh": (HH, [], "Hodgkin–Huxley cable (squid axon, 18.5 °C), shipped recipe"),
    "fhn_one_window": (FHN, ["pde.windows=1", "phases[0].iterations=WINDOWS_TIMES_ITERATIONS"],
                       "no time marching (one window, the same total steps)"),
    "fhn_causal": (FHN, ["weighting.kind=causal", "weighting.chunks=8"], "+ causal weighting within each window"),
    "fhn_fourier": (FHN, ["network.fourier={features: 16, scale: 1.0}"], "+ Fourier features"),
    "fhn_lbfgs": (FHN, ["phases=PHASES_WITH_LBFGS"], "+ an L-BFGS finish in each window (200 steps)"),
}


def _sets(config: str, sets: list[str]) -> list[str]:
    """Fill the ladder's placeholders from the shipped config."""
    import yaml

    raw = yaml.safe_load((ROOT / config).read_text())
    windows, phase = raw["pde"]["windows"], raw["phases"][0]
    out = []
    for s in sets:
        s = s.replace("WINDOWS_TIMES_ITERATIONS", str(windows * phase["iterations"]))
        lbfgs = [phase, {"optimizer": "lbfgs", "iterations": 200}]
        s = s.replace("PHASES_WITH_LBFGS", json.dumps(lbfgs))
        out.append(s)
    return out


def run_case(name: str) -> dict:
    config, sets, what = CASES[name]
    load = os.getloadavg()
    run_dir, metrics, wall = neurocli_process.run("train-pinn", config, _sets(config, sets), name=f"bench_{name}")
    first = metrics["fields"][0]
    for fig in ("heatmaps", "heatmaps_error", "spikes", "loss"):
        shutil.copy(run_dir / "figures" / f"{fig}.pdf", RESULTS / f"pinn_cable_{name}_{fig}.pdf")
    c, c_ref = metrics["conduction_velocity_m_per_s"], metrics["reference_conduction_velocity_m_per_s"]
    return {
        "case": name, "what": what, "config": config, "sets": _sets(config, sets),
        "fields": {f: {"rel_l2": metrics[f"rel_l2_{f}"], "max_abs_err": metrics[f"max_abs_err_{f}"]}
                   for f in metrics["fields"]},
        "rel_l2_first": metrics[f"rel_l2_{first}"],
        "velocity": c, "reference_velocity": c_ref,
        "velocity_error_percent": None if c is None or c_ref is None else 100.0 * (c - c_ref) / c_ref,
        "wall_s": wall, "train_s": metrics["train_s"], "steps": metrics["steps"],
        "load_before": load, "load_after": os.getloadavg(),
    }


def write(results: dict) -> None:
    (RESULTS / "pinn_cable.json").write_text(json.dumps(results, indent=1))
    lines = ["# PINNs of the cable models against simulate's solve", "",
             f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}. "
             "`python benchmarks/bench_pinn_cable.py` (a fresh process per case, through the CLI). Load "
             "averages (1 min) before and after each case are listed: other jobs shared the cores.", "",
             "| case | what | rel L2 (per field) | max abs error of V/v | velocity (PINN / reference) | error | wall s | load |",
             "|---|---|---|---:|---|---:|---:|---|"]
    for name in CASES:
        r = results.get(name)
        if r is None:
            continue
        rel = ", ".join(f"{f} {v['rel_l2']:.3g}" for f, v in r["fields"].items())
        first = next(iter(r["fields"].values()))
        vel = f"{r['velocity']:.4g} / {r['reference_velocity']:.4g}" if r["velocity"] is not None else \
            f"none / {r['reference_velocity']:.4g}"
        err = f"{r['velocity_error_percent']:+.2f} %" if r["velocity_error_percent"] is not None else "—"
        lines.append(f"| {name} | {r['what']} | {rel} | {first['max_abs_err']:.3g} | {vel} | {err} | "
                     f"{r['wall_s']:.0f} | {r['load_before'][0]:.1f} → {r['load_after'][0]:.1f} |")
    lines += ["", "Velocities: m/s for the HH cable, length per time unit for the dimensionless FitzHugh–Nagumo "
              "cable (the key keeps its name). Figures: `pinn_cable_<case>_{heatmaps,heatmaps_error,spikes,loss}.pdf`."]
    (RESULTS / "pinn_cable.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    path = RESULTS / "pinn_cable.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    only = os.environ.get("BENCH_PINN_CABLE_ONLY")
    names = only.split(",") if only else list(CASES)
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = run_case(name)
        write(results)  # after every case: a long benchmark keeps what it measured
    write(results)


if __name__ == "__main__":
    main()
