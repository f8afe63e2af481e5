"""Benchmark `neurocli simulate` (issue: foundation). Not a test: writes benchmarks/results/simulate.{json,md}.

1. The 50 ms `hh` pulse solve: compile and run wall time (configs/hh_pulse.yaml), first and second
   process (the persistent compilation cache), through the CLI.
2. The f–I sweep with 1000 members in one vmapped solve (configs/hh_fi_curve.yaml, num = 1000).
3. The same solves with scipy's solve_ivp (RK45, same tolerances, a NumPy right-hand side) in a
   Python loop, timed on an evenly spaced subset and scaled to 1000; the ratio.
4. The onset current of repetitive firing found by the sweep.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import neurocli_process

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCIPY_SUBSET = int(os.environ.get("BENCH_SCIPY_SUBSET", "10"))


def cli(config: str, *sets: str, env=None) -> dict:
    _, metrics, wall = neurocli_process.run("simulate", config, sets, env=env)
    return {**metrics, "process_wall_s": wall}


def hh_rhs_numpy(I):
    """An independent NumPy Hodgkin–Huxley right-hand side (6.3 °C) for scipy."""

    def vtrap(x, y):  # x / (exp(x/y) − 1), limit y at x = 0
        return np.where(np.abs(x / y) < 1e-6, y * (1 - x / y / 2), x / np.expm1(x / y))

    def f(t, s):
        V, m, h, n = s
        am, bm = 0.1 * vtrap(-(V + 40), 10), 4 * np.exp(-(V + 65) / 18)
        ah, bh = 0.07 * np.exp(-(V + 65) / 20), 1 / (1 + np.exp(-(V + 35) / 10))
        an, bn = 0.01 * vtrap(-(V + 55), 10), 0.125 * np.exp(-(V + 65) / 80)
        i_ion = 120 * m**3 * h * (V - 50) + 36 * n**4 * (V + 77) + 0.3 * (V + 54.387)
        return [I - i_ion, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]

    return f


def scipy_sweep(values, y0, t1, rtol, atol, every):
    from scipy.integrate import solve_ivp

    ts = np.arange(0, t1 + 1e-9, every)
    start = time.perf_counter()
    peaks = []
    for I in values:
        sol = solve_ivp(hh_rhs_numpy(I), (0, t1), y0, method="RK45", rtol=rtol, atol=atol, t_eval=ts)
        peaks.append(sol.y[0].max())
    return time.perf_counter() - start, peaks


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="neurocli-cache-")
    env = {**os.environ, "NEUROCLI_CACHE_DIR": cache}
    first = cli("configs/hh_pulse.yaml", env=env)
    second = cli("configs/hh_pulse.yaml", env=env)
    no_cache = cli("configs/hh_pulse.yaml", env={**env, "NEUROCLI_NO_COMPILATION_CACHE": "1"})

    sweep = cli("configs/hh_fi_curve.yaml", "sweep.linspace.num=1000", "output.trajectory_members=3", env=env)
    values = np.asarray(sweep["values"])

    y0 = [-64.99637933, 0.05295509, 0.59599413, 0.3177324]
    subset = values[np.linspace(0, len(values) - 1, SCIPY_SUBSET).astype(int)]
    scipy_s, scipy_peaks = scipy_sweep(subset, y0, 1000.0, 1e-7, 1e-7, 0.1)
    scipy_1000 = scipy_s * len(values) / len(subset)
    ours = sweep["compile_s"] + sweep["run_s"]

    result = {
        "machine": f"{os.cpu_count()} CPU cores",
        "hh_50ms": {
            "first_process": {"compile_s": first["compile_s"], "run_s": first["run_s"], "process_wall_s": first["process_wall_s"]},
            "second_process_cached": {"compile_s": second["compile_s"], "run_s": second["run_s"], "process_wall_s": second["process_wall_s"]},
            "cache_off": {"compile_s": no_cache["compile_s"], "run_s": no_cache["run_s"]},
            "num_steps": first["num_steps"],
        },
        "fi_sweep_1000": {
            "members": len(values),
            "compile_s": sweep["compile_s"],
            "run_s": sweep["run_s"],
            "total_steps": int(np.sum(sweep["num_steps"])),
            "onset_current_uA_per_cm2": sweep["onset_value"],
            "rate_at_onset_hz": float(np.asarray(sweep["firing_rate_hz"])[values == sweep["onset_value"]][0]),
            "rate_at_20_hz": sweep["firing_rate_hz"][-1],
        },
        "scipy_solve_ivp_loop": {
            "method": "RK45, rtol = atol = 1e-7, NumPy right-hand side",
            "timed_members": len(subset),
            "timed_s": scipy_s,
            "extrapolated_1000_s": scipy_1000,
        },
        "speedup_vmapped_vs_scipy_loop": {
            "run_only": scipy_1000 / sweep["run_s"],
            "compile_plus_run": scipy_1000 / ours,
        },
    }
    (RESULTS / "simulate.json").write_text(json.dumps(result, indent=2) + "\n")
    h, f, s, r = result["hh_50ms"], result["fi_sweep_1000"], result["scipy_solve_ivp_loop"], result["speedup_vmapped_vs_scipy_loop"]
    md = f"""# simulate benchmark ({result['machine']})

| what | value |
|---|---|
| hh 50 ms, first process: compile / run | {h['first_process']['compile_s']:.2f} s / {h['first_process']['run_s']*1e3:.1f} ms |
| hh 50 ms, second process (persistent cache): compile / run | {h['second_process_cached']['compile_s']:.2f} s / {h['second_process_cached']['run_s']*1e3:.1f} ms |
| hh 50 ms, cache off: compile | {h['cache_off']['compile_s']:.2f} s |
| f–I sweep, 1000 members in one vmapped solve: compile / run | {f['compile_s']:.1f} s / {f['run_s']:.1f} s |
| scipy solve_ivp loop, 1000 solves (timed {s['timed_members']}, scaled) | {s['extrapolated_1000_s']:.0f} s |
| ratio scipy / vmapped (run only; compile + run) | {r['run_only']:.1f}× ; {r['compile_plus_run']:.1f}× |
| onset of repetitive firing | {f['onset_current_uA_per_cm2']:.3f} µA/cm² ({f['rate_at_onset_hz']:.1f} Hz there; {f['rate_at_20_hz']:.1f} Hz at 20 µA/cm²) |
"""
    (RESULTS / "simulate.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
