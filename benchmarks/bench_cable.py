"""Benchmark the Hodgkin–Huxley cable (issue 5). Not a test: writes benchmarks/results/cable.{json,md}.

1. Grid convergence of the conduction velocity at 6.3 and 18.5 °C (both temperatures in one
   vmapped solve per nx), nx = 51 … 801 on the default 6 cm axon, KenCarp5 rtol 1e-6.
2. Time-step convergence at nx = 401: adaptive rtol 1e-4 … 1e-8 and fixed steps dt = 0.05 …
   0.01 ms.
3. How the implicit stages are solved (nx 51 and 101): the shipped one chord step + tridiagonal
   solve against diffrax's default VeryChord iteration and against a dense LU.
4. The shipped configs through the CLI (process wall time, compile, run): hh_cable.yaml, the same
   at 6.3 °C, hh_cable_temperature.yaml, and a diameter sweep.

Timings on 2 CPU cores shared with other jobs: pessimistic.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import diffrax
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import lineax as lx  # noqa: E402
import numpy as np  # noqa: E402

import neurocli_process  # noqa: E402
from neurocli.analysis import cable as cable_analysis  # noqa: E402
from neurocli.analysis.front import speed_between  # noqa: E402
from neurocli.numerics.block_tridiagonal import BlockTridiagonalJacobian  # noqa: E402
from neurocli.config.common import SolverConfig  # noqa: E402
from neurocli.numerics.implicit_stages import OneChordStep  # noqa: E402
from neurocli.models.hh_cable import HHCable  # noqa: E402
from neurocli.models.stimulus import PulseStimulus  # noqa: E402
from neurocli.numerics.solve import Problem, SolveSpec, make_controller, make_terms, run_solve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LENGTH, T1, SAVE = 6.0, 8.0, 0.01
POINTS = (LENGTH / 3, 2 * LENGTH / 3)
STIMULUS = PulseStimulus(start=jnp.asarray(0.5), duration=jnp.asarray(0.5), amplitude=jnp.asarray(300.0))


def cable(nx: int, temperature: float = 18.5) -> HHCable:
    return HHCable(nx=nx, length_cm=jnp.asarray(LENGTH), temperature_C=jnp.asarray(temperature))


def velocity(model, ts, V) -> float:
    """m/s between the nodes nearest POINTS (cm), as simulate measures it (analysis/front.py)."""
    x = np.asarray(model.grid())
    i, j = (cable_analysis.nearest_node(x, p) for p in POINTS)
    speed = speed_between(jnp.asarray(ts), jnp.asarray(V[:, i]), jnp.asarray(V[:, j]), x[j] - x[i], 0.0)
    return float(speed) * cable_analysis.M_PER_S_PER_CM_PER_MS


def solve(model, solver_cfg: SolverConfig, sweep=None, values=None):
    ts = np.arange(0.0, T1 + 1e-9, SAVE)
    spec = SolveSpec(solver_cfg, 0.0, T1, ts, (0.5, 1.0), save=lambda t, y: model.full_field(y))
    return run_solve(Problem(model, STIMULUS), spec, sweep, values)


ADAPTIVE = SolverConfig(name="kencarp5", rtol=1e-6, atol=1e-6, dtmax=0.05, max_steps=100_000)


def grid_convergence() -> list[dict]:
    rows = []
    for nx in (51, 101, 201, 401, 801):
        model = cable(nx)
        out = solve(model, ADAPTIVE, "model.temperature_C", [6.3, 18.5])
        for k, T in enumerate((6.3, 18.5)):
            rows.append(dict(nx=nx, dx_cm=LENGTH / (nx - 1), temperature_C=T, velocity_m_per_s=velocity(model, out.ts, out.ys[k]),
                             steps=int(out.num_steps[k]), rejected=int(out.num_rejected_steps[k]),
                             compile_s=out.compile_s, run_s_both=out.run_s))
        print("grid", nx, [r["velocity_m_per_s"] for r in rows[-2:]], flush=True)
    for T in (6.3, 18.5):
        sub = [r for r in rows if r["temperature_C"] == T]
        finest, second = sub[-1]["velocity_m_per_s"], sub[-2]["velocity_m_per_s"]
        extrapolated = finest + (finest - second) / 3  # second order in Δx
        for r in sub:
            r["rel_err_vs_extrapolated"] = r["velocity_m_per_s"] / extrapolated - 1
            r["extrapolated_m_per_s"] = extrapolated
    return rows


def time_convergence(nx: int = 401) -> list[dict]:
    rows = []
    model = cable(nx)
    variants = [dict(rtol=r, atol=r, dtmax=0.05) for r in (1e-4, 1e-5, 1e-6, 1e-8)]
    variants += [dict(adaptive=False, dt0=dt) for dt in (0.05, 0.025, 0.01)]
    for v in variants:
        cfg = SolverConfig(name="kencarp5", max_steps=100_000, **v)
        try:
            out = solve(model, cfg)
            vel, steps, compile_s, run_s = velocity(model, out.ts, out.ys), int(out.num_steps), out.compile_s, out.run_s
        except Exception as exc:  # a fixed step too long for the explicit membrane part
            vel, steps, compile_s, run_s = float("nan"), None, None, None
            v = {**v, "failed": str(exc)[:120]}
        rows.append(dict(nx=nx, **v, velocity_m_per_s=vel, steps=steps, mean_dt_ms=T1 / steps if steps else None,
                         compile_s=compile_s, run_s=run_s))
        print("time", v, vel, steps, run_s, flush=True)
    return rows


def stage_solvers() -> list[dict]:
    """Root finder × linear solver for the implicit stages of KenCarp5 (rtol 1e-6)."""
    rows = []
    variants = [
        ("one chord step + tridiagonal (gtsv), shipped", lambda: OneChordStep(linear_solver=BlockTridiagonalJacobian(1)), (51, 101)),
        ("diffrax VeryChord + tridiagonal (gtsv)", lambda: diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=BlockTridiagonalJacobian(1)), (51,)),
        ("one chord step + dense LU (lineax default)", lambda: OneChordStep(linear_solver=lx.AutoLinearSolver(well_posed=None)), (51, 101)),
    ]
    for name, root_finder, sizes in variants:
        for nx in sizes:
            model = cable(nx)
            problem = Problem(model, STIMULUS)
            ts = jnp.arange(0.0, T1 + 1e-9, SAVE)
            solver = diffrax.KenCarp5(root_finder=root_finder())

            @jax.jit
            def run(problem):
                sol = diffrax.diffeqsolve(
                    make_terms(problem, True), solver, 0.0, T1, None, problem.y0(),
                    saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: problem.model.full_field(y)),
                    stepsize_controller=make_controller(ADAPTIVE, [0.5, 1.0]), max_steps=1_000_000, throw=False,
                )
                return sol.ys, sol.stats["num_steps"], sol.stats["num_rejected_steps"]

            start = time.perf_counter()
            jax.block_until_ready(run(problem))
            first = time.perf_counter() - start
            start = time.perf_counter()
            ys, steps, rejected = jax.block_until_ready(run(problem))
            wall = time.perf_counter() - start
            rows.append(dict(stages=name, nx=nx, steps=int(steps), rejected=int(rejected), run_s=wall,
                             compile_s=first - wall, velocity_m_per_s=velocity(model, np.asarray(ts), np.asarray(ys))))
            print("stages", rows[-1], flush=True)
    return rows


def cli(config: str, *sets: str) -> dict:
    _, metrics, wall = neurocli_process.run("simulate", config, sets)
    keep = ("conduction_velocity_m_per_s", "peak_V_mV", "spike_half_width_ms", "reached_far_end", "num_steps",
            "compile_s", "run_s", "values", "velocity_power_law_exponent")
    return dict(command=" ".join(["neurocli simulate --config", config, *[f"--set {s}" for s in sets]]), process_wall_s=wall,
                **{k: metrics[k] for k in keep if k in metrics})


def cli_runs() -> list[dict]:
    runs = [
        cli("configs/hh_cable.yaml"),
        cli("configs/hh_cable.yaml", "model.temperature_C=6.3"),
        cli("configs/hh_cable_temperature.yaml"),
        cli("configs/hh_cable.yaml", "sweep.parameter=model.diameter_um", "sweep.values=[119,238,476,952,1904]"),
    ]
    for r in runs:
        print("cli", r["command"], r["process_wall_s"], flush=True)
    return runs


def markdown(res: dict) -> str:
    lines = ["# hh_cable benchmark (2 shared CPU cores: timings pessimistic)", ""]
    lines += ["## Conduction velocity against nx (6 cm axon, KenCarp5 rtol 1e-6, dtmax 0.05 ms)", "",
              "| nx | Δx (cm) | T (°C) | velocity (m/s) | vs extrapolated | steps |", "|---|---|---|---|---|---|"]
    for r in res["grid"]:
        lines.append(f"| {r['nx']} | {r['dx_cm']:.4f} | {r['temperature_C']} | {r['velocity_m_per_s']:.4f} | "
                     f"{100 * r['rel_err_vs_extrapolated']:+.3f} % | {r['steps']} |")
    ext = {r["temperature_C"]: r["extrapolated_m_per_s"] for r in res["grid"]}
    lines += ["", f"Richardson-extrapolated (Δx → 0): {ext[6.3]:.3f} m/s at 6.3 °C, {ext[18.5]:.3f} m/s at 18.5 °C "
              "(HH 1952 computed 18.8 m/s at 18.5 °C; measured 21.2 m/s).", ""]
    lines += ["## Time stepping at nx = 401 (18.5 °C)", "", "| stepping | velocity (m/s) | steps | mean dt (ms) | run (s) |",
              "|---|---|---|---|---|"]
    for r in res["time"]:
        what = f"fixed dt {r['dt0']} ms" if r.get("adaptive") is False else f"adaptive rtol {r['rtol']:g}"
        vel = f"{r['velocity_m_per_s']:.4f}" if np.isfinite(r["velocity_m_per_s"]) else "failed"
        mean = f"{r['mean_dt_ms']:.4f}" if r["mean_dt_ms"] else "–"
        run = f"{r['run_s']:.2f}" if r["run_s"] is not None else "–"
        lines.append(f"| {what} | {vel} | {r['steps']} | {mean} | {run} |")
    lines += ["", "## Implicit stages (KenCarp5, rtol 1e-6, 8 ms)", "",
              "| stages | nx | steps (rejected) | run (s) | velocity (m/s) |", "|---|---|---|---|---|"]
    for r in res["stages"]:
        lines.append(f"| {r['stages']} | {r['nx']} | {r['steps']} ({r['rejected']}) | {r['run_s']:.2f} | {r['velocity_m_per_s']:.4f} |")
    lines += ["", "## Through the CLI", "", "| command | velocity (m/s) | process wall (s) | compile (s) | run (s) |",
              "|---|---|---|---|---|"]
    for r in res["cli"]:
        v = r["conduction_velocity_m_per_s"]
        v = f"{v:.3f}" if isinstance(v, float) else ", ".join(f"{x:.2f}" for x in v)
        lines.append(f"| `{r['command']}` | {v} | {r['process_wall_s']:.1f} | {r['compile_s']:.1f} | {r['run_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    res = dict(grid=grid_convergence(), time=time_convergence(), stages=stage_solvers(), cli=cli_runs(),
               devices=[str(d) for d in jax.devices()])
    (RESULTS / "cable.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    (RESULTS / "cable.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
