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
import tempfile
import time
from pathlib import Path

import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SWEEP = ROOT / "configs" / "a_sweep.yaml"
PAPER = ROOT / "configs" / "paper.yaml"
OUT = ROOT / "outputs" / "bench_pinn"

ABLATION_STEPS = 1500
LBFGS = None  # marker: the recipe's Adam phase followed by 200 L-BFGS iterations
ABLATIONS = {  # relative to configs/a_sweep.yaml
    "recipe": [],
    "no Fourier features": ["network.fourier=null"],
    "hard, base φ (u = φ + t g N)": ["conditions.base=initial"],
    "soft conditions": ["conditions.kind=soft"],
    "uniform t (time_power 1)": ["collocation.time_power=1.0"],
    "fixed 2000 points, batch 1024": ["collocation.kind=fixed", "collocation.points=2000"],
    "causal weighting": ["weighting.kind=causal"],
    "then L-BFGS 200": LBFGS,
}


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cli_run(config: Path, sets: list[str], name: str) -> dict:
    """One CLI run with a cold compilation cache; returns metrics + wall time."""
    with tempfile.TemporaryDirectory() as cache:
        before = load_avg()
        run_dir, metrics, wall = neurocli_process.run("train-pinn", config, sets, output_root=OUT, name=name,
                                                      env={**os.environ, "NEUROCLI_CACHE_DIR": cache})
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


def compiled_step(cfg, a_values):
    """(call, state, compile_s) of the first phase's step for these members (in this process)."""
    from neurocli.pinn.setup import build_setup
    from neurocli.pinn.train import Trainer, member_keys

    trainer = Trainer(build_setup(cfg), a_values, member_keys(cfg.runtime.seed, len(a_values)))
    state = trainer.place(trainer.initial_state())
    start = time.perf_counter()
    call = trainer.compile(state, 0)
    return call, state, time.perf_counter() - start


def time_steps(call, state, first: int, steps: int):
    import jax

    state, losses = call(state, first)
    jax.block_until_ready(losses)
    start = time.perf_counter()
    for i in range(first + 1, first + steps + 1):
        state, losses = call(state, i)
    jax.block_until_ready(losses)
    return state, (time.perf_counter() - start) / steps


def interleaved(candidates: dict, rounds: int, steps: int) -> dict:
    """s/step of each candidate (name -> (cfg, a_values)), timed in turn for `rounds` rounds so a
    change in the machine's load hits all alike; min and median over rounds."""
    built = {name: compiled_step(*args) for name, args in candidates.items()}
    states = {name: b[1] for name, b in built.items()}
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name, (call, _, _) in built.items():
            states[name], sps = time_steps(call, states[name], r * (steps + 1), steps)
            times[name].append(sps)
    import statistics

    return {name: {"compile_s": round(built[name][2], 2), "s_per_step_min": min(t), "s_per_step_median": statistics.median(t),
                   "rounds": t} for name, t in times.items()}


def sweep_config(**updates):
    from neurocli.config.base import load_config
    from neurocli.config.pinn import TrainPinnConfig

    sets = [f"{k}={v}" for k, v in updates.items()]
    return load_config(TrainPinnConfig, SWEEP, sets)[0]


def part_derivatives() -> dict:
    from neurocli import runtime

    runtime.configure("float32", compilation_cache=False)
    modes = ("reverse", "forward", "taylor")
    out = {"load_avg_before": load_avg(), "rounds": 5, "steps_per_round": 40}
    cands = {m: (sweep_config(derivatives=m), sweep_config().pde.member_values()) for m in modes}
    out.update(interleaved(cands, out["rounds"], out["steps_per_round"]))
    out["load_avg_after"] = load_avg()
    out["fastest"] = min(modes, key=lambda m: out[m]["s_per_step_min"])
    print(f"derivatives: { {m: round(out[m]['s_per_step_min'], 4) for m in modes} }", flush=True)
    return out


def part_vmap() -> dict:
    from neurocli import runtime

    runtime.configure("float32", compilation_cache=False)
    cfg = sweep_config()
    values = cfg.pde.member_values()
    out = {"load_avg_before": load_avg(), "rounds": 4, "steps_per_round": 50}
    cands = {"vmapped": (cfg, values), **{f"single a={a:g}": (cfg, [a]) for a in values}}
    res = interleaved(cands, out["rounds"], out["steps_per_round"])
    out.update(res)
    seq = sum(res[f"single a={a:g}"]["s_per_step_min"] for a in values)
    out["sequential_s_per_step"] = seq
    out["ratio_sequential_over_vmapped"] = seq / res["vmapped"]["s_per_step_min"]
    out["load_avg_after"] = load_avg()
    print(f"vmap: {res['vmapped']['s_per_step_min']:.4f} s/step vs sequential {seq:.4f}", flush=True)
    return out


def part_ablation() -> dict:
    out = {"steps": ABLATION_STEPS}
    adam = f"{{optimizer: adam, iterations: {ABLATION_STEPS}, lr: 1.0e-2, schedule: cosine, final_lr: 1.0e-4}}"
    for name, sets in ABLATIONS.items():
        phases = f"phases=[{adam}]"
        if sets is LBFGS:
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
        lines += ["## Derivatives (the a_sweep step, six members; timed in turn, 5 rounds of 40 steps)", "",
                  "| mode | s/step (min) | s/step (median) | compile s |", "|---|---|---|---|"]
        for mode in ("reverse", "forward", "taylor"):
            lines.append(f"| {mode} | {d[mode]['s_per_step_min']:.4f} | {d[mode]['s_per_step_median']:.4f} | {d[mode]['compile_s']:.1f} |")
        lines += ["", f"fastest: {d['fastest']}; load average {d['load_avg_before']} -> {d['load_avg_after']}", ""]
    if "vmap" in res:
        v = res["vmap"]
        lines += ["## One vmapped step for six members vs six one-member steps (timed in turn, min of 4 rounds)", "",
                  f"vmapped: {v['vmapped']['s_per_step_min']:.4f} s/step; six one-member steps in turn: "
                  f"{v['sequential_s_per_step']:.4f} s; ratio sequential / vmapped = {v['ratio_sequential_over_vmapped']:.2f}; "
                  f"load average {v['load_avg_before']} -> {v['load_avg_after']}", ""]
    for key, title in (("ablation", "Ablation: configs/a_sweep.yaml with one thing changed"),
                       ("ablation_v1", "Earlier ablation: the first recipe (no Fourier features) with one thing changed")):
        if key not in res:
            continue
        ab = res[key]
        lines += [f"## {title} ({ab['steps']} Adam steps, six members)", "",
                  "| variant | max rel_l2 | rel_l2 per a | wall s | s/step |", "|---|---|---|---|---|"]
        for name, r in ab.items():
            if name == "steps":
                continue
            per = " ".join(f"{e:.1e}" for e in r["rel_l2"])
            lines.append(f"| {name} | {r['rel_l2_max']:.2e} | {per} | {r['wall_s']} | {r['s_per_step']:.4f} |")
        lines.append("")
    for key, title in (("sharp", "Sharp limit: configs/a_sweep.yaml with pde.k set"), ("sharp_v1", "Sharp limit, first recipe")):
        if key not in res:
            continue
        lines += [f"## {title}", "", "| k | max rel_l2 | rel_l2 per a | wall s |", "|---|---|---|---|"]
        for name, r in res[key].items():
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
