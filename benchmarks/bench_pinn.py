"""train-pinn benchmarks -> benchmarks/results/pinn.json and pinn.md.

    python benchmarks/bench_pinn.py                 # everything (about half an hour on 2 cores)
    python benchmarks/bench_pinn.py --parts sweep paper

Parts:
  sweep        configs/a_sweep.yaml through the CLI, cold compilation cache: wall time (all of it:
               start-up, reference, compilation, training, figures) and rel_l2 per member.
  paper        configs/paper.yaml the same way.
  derivatives  s/step of the a_sweep step with reverse, forward and Taylor-mode derivatives.
  vmap         s/step of the six-member vmapped step against six one-member runs, in turn.
  ablation     the a_sweep recipe with one ingredient changed at a time (shorter runs): error
               against wall time.
  sharp        the sharp limit: k = 50 and k = 500.
Results of parts not run are kept from the previous file. Timings on a shared machine are
pessimistic: the load average is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NEUROCLI = [sys.executable, "-m", "neurocli"]
SWEEP = ROOT / "configs" / "a_sweep.yaml"
PAPER = ROOT / "configs" / "paper.yaml"
OUT = ROOT / "outputs" / "bench_pinn"

ABLATION_STEPS = 1500
ABLATIONS = {
    "recipe (hard, heat base)": [],
    "hard, base φ (u = φ + t g N)": ["conditions.base=initial"],
    "soft conditions": ["conditions.kind=soft"],
    "uniform t (time_power 1)": ["collocation.time_power=1.0"],
    "fixed 2000 points, batch 1024": ["collocation.kind=fixed", "collocation.points=2000"],
    "causal weighting": ["weighting.kind=causal"],
    "Fourier features (16, σ=1)": ["network.fourier={features: 16, scale: 1.0}"],
    "DGM layers (width 32, 3)": ["network.kind=dgm"],
    "then L-BFGS 200": None,  # phases set below
}


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cli_run(config: Path, sets: list[str], name: str) -> dict:
    """One CLI run with a cold compilation cache; returns metrics + wall time."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NEUROCLI_CACHE_DIR": cache}
        args = [*NEUROCLI, "train-pinn", "--config", str(config), "--output-root", str(OUT), "--name", name]
        for s in sets:
            args += ["--set", s]
        before = load_avg()
        start = time.perf_counter()
        proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "command": " ".join(["neurocli", "train-pinn", "--config", str(config.relative_to(ROOT)), *(f"--set {s}" for s in sets)]),
        "run_dir": str(run_dir.relative_to(ROOT)) if run_dir.is_relative_to(ROOT) else str(run_dir),
        "wall_s": round(wall, 1),
        "load_avg_before": before,
        "load_avg_after": load_avg(),
        "rel_l2": [round(m["rel_l2"], 6) for m in metrics["members"]],
        "rel_l2_max": round(max(m["rel_l2"] for m in metrics["members"]), 6),
        "max_abs_err": [round(m["max_abs_err"], 6) for m in metrics["members"]],
        "rel_l2_T": [round(m["rel_l2_T"], 6) for m in metrics["members"]],
        "final_loss": [m["final_loss"] for m in metrics["members"]],
        "a": [m["a"] for m in metrics["members"]],
        **{k: metrics[k] for k in ("compile_s", "train_s", "s_per_step", "steps", "reference_s", "reference_boundary")},
    }


def step_timing(cfg, a_values, steps: int) -> dict:
    """compile_s and s/step of the first phase's step for these members (in this process)."""
    from neurocli.pinn.setup import build_setup
    from neurocli.pinn.train import Trainer, member_keys

    trainer = Trainer(build_setup(cfg), a_values, member_keys(cfg.runtime.seed, len(a_values)))
    state = trainer.place(trainer.initial_state())
    call, compile_s = trainer.compile(state, 0)
    state, _ = call(state, 0, None)  # warm
    import jax

    jax.block_until_ready(state)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        state, losses = call(state, i, None)
    jax.block_until_ready(losses)
    return {"compile_s": round(compile_s, 2), "s_per_step": (time.perf_counter() - start) / steps}


def sweep_config(**updates):
    from neurocli.config.base import load_config
    from neurocli.config.pinn import TrainPinnConfig

    sets = [f"{k}={v}" for k, v in updates.items()]
    return load_config(TrainPinnConfig, SWEEP, sets)[0]


def part_derivatives() -> dict:
    from neurocli import runtime

    runtime.configure("float32", compilation_cache=False)
    out = {"load_avg_before": load_avg()}
    for mode in ("reverse", "forward", "taylor"):
        cfg = sweep_config(derivatives=mode)
        out[mode] = step_timing(cfg, cfg.pde.member_values(), 100)
        print(f"derivatives {mode}: {out[mode]}", flush=True)
    out["load_avg_after"] = load_avg()
    out["fastest"] = min(("reverse", "forward", "taylor"), key=lambda m: out[m]["s_per_step"])
    return out


def part_vmap() -> dict:
    from neurocli import runtime

    runtime.configure("float32", compilation_cache=False)
    cfg = sweep_config()
    values = cfg.pde.member_values()
    out = {"load_avg_before": load_avg(), "steps_timed": 200}
    out["vmapped"] = step_timing(cfg, values, 200)
    singles = [step_timing(cfg, [a], 200) for a in values]
    out["single"] = singles
    seq = sum(s["s_per_step"] for s in singles)
    out["sequential_s_per_step"] = seq
    out["ratio_sequential_over_vmapped"] = seq / out["vmapped"]["s_per_step"]
    out["load_avg_after"] = load_avg()
    print(f"vmap: {out['vmapped']['s_per_step']:.4f} s/step vs sequential {seq:.4f}", flush=True)
    return out


def part_ablation() -> dict:
    out = {"steps": ABLATION_STEPS}
    adam = f"{{optimizer: adam, iterations: {ABLATION_STEPS}, lr: 1.0e-2, schedule: cosine, final_lr: 1.0e-4}}"
    for name, sets in ABLATIONS.items():
        phases = f"phases=[{adam}]"
        if sets is None:
            sets, phases = [], f"phases=[{adam}, {{optimizer: lbfgs, iterations: 200}}]"
        res = cli_run(SWEEP, [phases, *sets], "ablation")
        out[name] = res
        print(f"ablation {name}: rel_l2_max {res['rel_l2_max']:.3g}, wall {res['wall_s']} s", flush=True)
    return out


def part_sharp() -> dict:
    out = {}
    for k in (50.0, 500.0):
        res = cli_run(SWEEP, [f"pde.k={k}"], f"sharp_k{int(k)}")
        out[f"k={k:g}"] = res
        print(f"sharp k={k:g}: rel_l2 {res['rel_l2']}, wall {res['wall_s']} s", flush=True)
    return out


PARTS = {
    "sweep": lambda: cli_run(SWEEP, [], "a_sweep"),
    "paper": lambda: cli_run(PAPER, [], "paper"),
    "derivatives": part_derivatives,
    "vmap": part_vmap,
    "ablation": part_ablation,
    "sharp": part_sharp,
}


def markdown(res: dict) -> str:
    lines = ["# train-pinn benchmarks", ""]
    m = res.get("machine", {})
    lines += [f"Machine: {m.get('cpus')} CPUs ({m.get('platform')}), jax {m.get('jax')}; shared with other jobs, "
              "so timings are pessimistic (load averages are listed).", ""]
    for key, title in (("sweep", "configs/a_sweep.yaml"), ("paper", "configs/paper.yaml")):
        r = res.get(key)
        if not r:
            continue
        lines += [f"## {title}", "", f"`{r['command']}`", "",
                  f"wall {r['wall_s']} s (compile {r['compile_s']:.1f} s, train {r['train_s']:.1f} s, "
                  f"reference {r['reference_s']:.1f} s, {r['s_per_step']:.4f} s/step, {r['steps']} steps); "
                  f"load average {r['load_avg_before']} -> {r['load_avg_after']}; reference boundary {r['reference_boundary']}", "",
                  "| a | rel_l2 | max_abs_err | rel_l2 at T | final loss |", "|---|---|---|---|---|"]
        for i, a in enumerate(r["a"]):
            lines.append(f"| {a:g} | {r['rel_l2'][i]:.2e} | {r['max_abs_err'][i]:.2e} | {r['rel_l2_T'][i]:.2e} | {r['final_loss'][i]:.2e} |")
        lines.append("")
    if "derivatives" in res:
        d = res["derivatives"]
        lines += ["## Derivatives (a_sweep step, six members)", "", "| mode | s/step | compile s |", "|---|---|---|"]
        for mode in ("reverse", "forward", "taylor"):
            lines.append(f"| {mode} | {d[mode]['s_per_step']:.4f} | {d[mode]['compile_s']:.1f} |")
        lines += ["", f"fastest: {d['fastest']}; load average {d['load_avg_before']} -> {d['load_avg_after']}", ""]
    if "vmap" in res:
        v = res["vmap"]
        lines += ["## One vmapped step for six members vs six one-member runs", "",
                  f"vmapped: {v['vmapped']['s_per_step']:.4f} s/step; six one-member steps in turn: "
                  f"{v['sequential_s_per_step']:.4f} s; ratio sequential / vmapped = {v['ratio_sequential_over_vmapped']:.2f}; "
                  f"load average {v['load_avg_before']} -> {v['load_avg_after']}", ""]
    if "ablation" in res:
        ab = res["ablation"]
        lines += [f"## Ablation: the recipe with one thing changed ({ab['steps']} Adam steps, six members)", "",
                  "| variant | max rel_l2 | rel_l2 per a | wall s | s/step |", "|---|---|---|---|---|"]
        for name, r in ab.items():
            if name == "steps":
                continue
            per = " ".join(f"{e:.1e}" for e in r["rel_l2"])
            lines.append(f"| {name} | {r['rel_l2_max']:.2e} | {per} | {r['wall_s']} | {r['s_per_step']:.4f} |")
        lines.append("")
    if "sharp" in res:
        lines += ["## Sharp limit (a_sweep recipe)", "", "| k | max rel_l2 | rel_l2 per a | wall s |", "|---|---|---|---|"]
        for name, r in res["sharp"].items():
            lines.append(f"| {name} | {r['rel_l2_max']:.2e} | {' '.join(f'{e:.1e}' for e in r['rel_l2'])} | {r['wall_s']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "pinn.json"
    res = json.loads(path.read_text()) if path.is_file() else {}
    import jax

    res["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "jax": jax.__version__,
                      "devices": [str(d) for d in jax.devices()]}
    for part in args.parts:
        print(f"== {part}", flush=True)
        res[part] = PARTS[part]()
        path.write_text(json.dumps(res, indent=2) + "\n")
        (RESULTS / "pinn.md").write_text(markdown(res))
    print((RESULTS / "pinn.md").read_text())


if __name__ == "__main__":
    main()
