"""Benchmark neurocli's start-up (issue 12). Not a test: writes benchmarks/results/startup.{json,md}.

Process wall times, each case run REPS times in alternation (so that a busy machine slows every
case alike), medians reported:
- bare:        python -c "import jax, diffrax, equinox"  (the floor a JAX program starts from)
- version:     neurocli --version  (imports jax to name the backend)
- help:        neurocli --help     (no jax)
- hh warm:     neurocli simulate configs/hh_pulse.yaml, compilation and program caches warm
- hh warm, no program cache: the same with NEUROCLI_NO_PROGRAM_CACHE=1 (traces the solve again)
- hh warm, figure worker on / off: NEUROCLI_FIGURE_WORKER=1 / 0 (the default, `auto`, starts it
  only when a core idles; neurocli/plotting/figure_worker.py)
- cable warm:  neurocli simulate configs/hh_cable.yaml, caches warm
- hh cold:     hh_pulse with an empty cache directory (COLD_REPS times)
- train-ude / train-pinn warm: the smoke configs with warm caches, and the same with
  NEUROCLI_NO_PROGRAM_CACHE=1 (every phase's training step traced again, as before issue 23),
  and with the figure worker forced on / off (NEUROCLI_FIGURE_WORKER=1 / 0)
- train-ude / train-pinn warm, another lr: the same with the first phase's learning rate set to
  a value no earlier run used (`--set ...lr=`), as a user or `neurocli tune` changes it between runs
BENCH_ONLY (a regular expression) keeps the cases whose names match it (the bare import always
stays, as the ratios' base); BENCH_BASE (the directory of another neurocli checkout, e.g. a git
worktree of the commit before a change) adds each kept case run with that checkout's code (its
PYTHONPATH, and run in its directory: `python -m` imports the working directory's neurocli
before PYTHONPATH's), named "... (BENCH_BASE_NAME, default base)", in the same alternation: before and
after side by side, on the same machine at the same moment; BENCH_COLD_REPS=0 skips the cold runs; BENCH_OUT names the result
files (default startup: benchmarks/results/startup.{json,md}).
The phase lines `simulate` prints on stderr split the warm hh run into start-up (imports, config,
run directory), compiling (trace or cached program, then XLA or its cache), solving, and writing
(files and figures). Besides wall time, the CPU seconds of each process and its children (user +
system), which a busy machine disturbs far less than wall time, and the load average before and
after (BENCH_NOTE: a line on the machine's state for the report). Optionally NEURON (BENCH_NEURON_PYTHON: a python with `neuron` installed; never
a dependency of neurocli) runs the same 50 ms HH pulse, for the ratio of process times.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPS = int(os.environ.get("BENCH_REPS", "7"))
COLD_REPS = int(os.environ.get("BENCH_COLD_REPS", "3"))
NEURON_PYTHON = os.environ.get("BENCH_NEURON_PYTHON")
NOTE = os.environ.get("BENCH_NOTE", "The machine may have been shared with other work: compare ratios within this table.")
PY = sys.executable
PHASES = ("building", "compiling", "solving", "writing")

NEURON_HH = """
from neuron import h
h.load_file("stdrun.hoc")
soma = h.Section(name="soma")
soma.L = soma.diam = 10.0
soma.insert("hh")
h.celsius = 6.3
stim = h.IClamp(soma(0.5))
stim.delay, stim.dur = 10.0, 1.0
stim.amp = 20.0 * soma(0.5).area() * 1e-8 * 1e3  # 20 µA/cm² times the area (µm² -> cm²), µA -> nA
v, t = h.Vector().record(soma(0.5)._ref_v), h.Vector().record(h._ref_t)
cv = h.CVode(); cv.active(1); cv.rtol(1e-8); cv.atol(1e-8)
h.finitialize(-65.0)
h.continuerun(50.0)
print(max(v))
"""


CPU = []  # CPU seconds of the latest `timed` command, children included


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CWD = "BENCH_CWD"  # in a case's environment: the directory it runs in (default the repository)


NEW_LR = "{new lr}"  # in a case's arguments: a learning rate no earlier run used
_runs = [0]


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    """Run `cmd` in env[CWD] (default ROOT): `python -m neurocli` and the figure worker import
    neurocli from their working directory first, whatever PYTHONPATH says."""
    _runs[0] += 1
    cmd = [a.replace(NEW_LR, f"{0.01 * (1 + _runs[0] / 1000):.6g}") for a in cmd]
    cpu0, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=env.get(CWD, ROOT))
    wall = time.perf_counter() - start
    CPU[:] = [_children_cpu() - cpu0]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return wall, proc.stderr


def phase_times(stderr: str, wall: float) -> dict[str, float]:
    """Seconds spent in each phase, from the `[  t s] phase` lines; `start-up` before the first."""
    marks = [(m.group(2), float(m.group(1))) for m in re.finditer(r"^\[\s*([\d.]+) s\] (\w+)", stderr, re.M)
             if m.group(2) in PHASES]
    out, prev_name, prev_t = {}, "start-up", 0.0
    for name, t in marks:
        out[prev_name] = out.get(prev_name, 0.0) + t - prev_t
        prev_name, prev_t = name, t
    out[prev_name] = out.get(prev_name, 0.0) + max(0.0, wall - prev_t)
    return out


def _compile_bytecode(*trees: str | None) -> None:
    """Write neurocli's bytecode in each tree, as an installed package has it: the bare import's
    packages (jax, ...) have theirs from pip, and where PYTHONDONTWRITEBYTECODE is set (as on some
    CI images) a neurocli process would otherwise compile its ~110 modules on every start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for tree in trees:
        if tree:
            subprocess.run([PY, "-m", "compileall", "-q", str(Path(tree) / "neurocli")], env=env, check=True)


def main() -> None:
    cache = tempfile.mkdtemp(prefix="bench_startup_cache_")
    out = tempfile.mkdtemp(prefix="bench_startup_out_")
    base_env = {**os.environ, "NEUROCLI_CACHE_DIR": cache}
    base_env.pop("NEUROCLI_NO_COMPILATION_CACHE", None)
    base_env.pop("NEUROCLI_NO_PROGRAM_CACHE", None)
    base_env.pop("NEUROCLI_FIGURE_WORKER", None)
    sim = lambda cfg: [PY, "-m", "neurocli", "simulate", "--config", str(ROOT / cfg), "--output-root", out]  # noqa: E731
    cases = {
        "bare import jax, diffrax, equinox": ([PY, "-c", "import jax, diffrax, equinox"], base_env),
        "neurocli --version": ([PY, "-m", "neurocli", "--version"], base_env),
        "neurocli --help": ([PY, "-m", "neurocli", "--help"], base_env),
        "hh_pulse warm": (sim("configs/hh_pulse.yaml"), base_env),
        "hh_pulse warm, no program cache": (sim("configs/hh_pulse.yaml"), {**base_env, "NEUROCLI_NO_PROGRAM_CACHE": "1"}),
        "hh_pulse warm, figure worker on": (sim("configs/hh_pulse.yaml"), {**base_env, "NEUROCLI_FIGURE_WORKER": "1"}),
        "hh_pulse warm, figure worker off": (sim("configs/hh_pulse.yaml"), {**base_env, "NEUROCLI_FIGURE_WORKER": "0"}),
        "hh_cable warm": (sim("configs/hh_cable.yaml"), base_env),
    }
    no_programs = {**base_env, "NEUROCLI_NO_PROGRAM_CACHE": "1"}
    for command, cfg, lr in (("train-ude", "configs/ude_smoke.yaml", "train.phases[0].lr"),
                             ("train-pinn", "configs/pinn_smoke.yaml", "phases[0].lr")):
        cmd = [PY, "-m", "neurocli", command, "--config", str(ROOT / cfg), "--output-root", out]
        cases[f"{command} {Path(cfg).stem} warm"] = (cmd, base_env)
        cases[f"{command} {Path(cfg).stem} warm, another lr"] = ([*cmd, "--set", f"{lr}={NEW_LR}"], base_env)
        cases[f"{command} {Path(cfg).stem} warm, no program cache"] = (cmd, no_programs)
        cases[f"{command} {Path(cfg).stem} warm, figure worker on"] = (cmd, {**base_env, "NEUROCLI_FIGURE_WORKER": "1"})
        cases[f"{command} {Path(cfg).stem} warm, figure worker off"] = (cmd, {**base_env, "NEUROCLI_FIGURE_WORKER": "0"})
    _compile_bytecode(ROOT, os.environ.get("BENCH_BASE"))
    only = os.environ.get("BENCH_ONLY")
    if only:
        cases = {k: v for k, v in cases.items() if k.startswith("bare") or re.search(only, k)}
    base = os.environ.get("BENCH_BASE")
    if base:
        label = os.environ.get("BENCH_BASE_NAME", "base")
        for name, (cmd, env) in list(cases.items()):
            if cmd[:3] == [PY, "-m", "neurocli"]:
                where = str(Path(base).resolve())
                cases[f"{name} ({label})"] = (cmd, {**env, "PYTHONPATH": where, CWD: where})
    if NEURON_PYTHON:
        cases["NEURON, same 50 ms HH pulse (CVODE)"] = ([NEURON_PYTHON, "-c", NEURON_HH], base_env)

    load_before = os.getloadavg()
    cold, cold_phases = [], []
    for i in range(COLD_REPS):
        env = {**base_env, "NEUROCLI_CACHE_DIR": tempfile.mkdtemp(prefix="bench_startup_cold_")}
        wall, err = timed(sim("configs/hh_pulse.yaml"), env)
        cold.append(wall)
        cold_phases.append(phase_times(err, wall))
    for cmd, env in cases.values():  # fill the caches
        timed(cmd, env)
    walls = {name: [] for name in cases}
    cpus = {name: [] for name in cases}
    phases = {name: [] for name in cases}
    for _ in range(REPS):
        for name, (cmd, env) in cases.items():
            wall, err = timed(cmd, env)
            walls[name].append(wall)
            cpus[name].append(CPU[0])
            phases[name].append(phase_times(err, wall))
    load_after = os.getloadavg()

    med = {name: statistics.median(w) for name, w in walls.items()}
    if cold:
        med["hh_pulse cold"] = statistics.median(cold)
        walls["hh_pulse cold"] = cold
        phases["hh_pulse cold"] = cold_phases
    bare = med["bare import jax, diffrax, equinox"]
    phase_med = {name: {p: statistics.median(d.get(p, 0.0) for d in rows) for p in ("start-up", *PHASES)}
                 for name, rows in phases.items() if rows and any(len(d) > 1 for d in rows)}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}",
        "note": NOTE,
        "load_average_before": list(load_before), "load_average_after": list(load_after),
        "reps": REPS, "cold_reps": COLD_REPS,
        "median_s": med, "all_s": walls, "ratio_to_bare": {k: v / bare for k, v in med.items()},
        "cpu_median_s": {k: statistics.median(v) for k, v in cpus.items()},
        "phases_median_s": phase_med,
    }
    if NEURON_PYTHON:
        result["ratio_to_neuron"] = {k: v / med["NEURON, same 50 ms HH pulse (CVODE)"] for k, v in med.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = os.environ.get("BENCH_OUT", "startup")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    lines = ["# Start-up: process wall time", "",
             f"{r['machine']}. Medians over {r['reps']} alternating repetitions ({r['cold_reps']} for cold). "
             f"{r['note']} Load average (1, 5, 15 min) before: "
             f"{', '.join(f'{x:.1f}' for x in r['load_average_before'])}; after: "
             f"{', '.join(f'{x:.1f}' for x in r['load_average_after'])}.", "",
             "| case | median (s) | × bare import | CPU s (median) | × bare CPU | runs (s) |",
             "|---|---:|---:|---:|---:|---|"]
    cpu = r.get("cpu_median_s", {})
    bare_cpu = cpu.get("bare import jax, diffrax, equinox")
    for name, m in r["median_s"].items():
        runs = ", ".join(f"{w:.2f}" for w in r["all_s"][name])
        c = cpu.get(name)
        cpu_cells = f"{c:.2f} | {c / bare_cpu:.2f}" if c is not None and bare_cpu else " | "
        lines.append(f"| {name} | {m:.2f} | {r['ratio_to_bare'][name]:.2f} | {cpu_cells} | {runs} |")
    lines += ["", "Phases (median seconds, from the `[t s] phase` lines on stderr; start-up = imports, config, "
              "run directory; compiling = trace or cached program, then XLA or its cache; writing = files and "
              "figures):", "", "| case | " + " | ".join(("start-up", *PHASES)) + " |",
              "|---|" + "---:|" * (len(PHASES) + 1)]
    for name, ph in r["phases_median_s"].items():
        lines.append(f"| {name} | " + " | ".join(f"{ph[p]:.2f}" for p in ("start-up", *PHASES)) + " |")
    if "ratio_to_neuron" in r:
        lines += ["", "Ratio to NEURON's process time for the same 50 ms HH pulse: " + ", ".join(
            f"{k} {v:.1f}×" for k, v in r["ratio_to_neuron"].items() if k.startswith("hh"))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
