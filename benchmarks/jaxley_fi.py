"""The 1000-member f–I sweep in jaxley (a peer, never a dependency: run it with a separate venv
that has `pip install jaxley`). One HH compartment, a step current from t = 0, backward Euler at
`dt`, 1 s; the steady rate over the last 500 ms from interpolated upward crossings of 0 mV.
Prints JSON: rates (Hz), solve seconds. Parameters as neurocli's hh (E_L −54.387 mV, 6.3 °C).

    /tmp/jaxley-venv/bin/python benchmarks/jaxley_fi.py MEMBERS DT_MS
"""

from __future__ import annotations

import json
import math
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platform_name", "cpu")

import jax.numpy as jnp  # noqa: E402
import jaxley as jx  # noqa: E402
from jaxley.channels import HH  # noqa: E402

MEMBERS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
DT = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
T1, WINDOW = 1000.0, (500.0, 1000.0)
RADIUS_UM, LENGTH_UM = 1.0, 10.0  # jaxley's default compartment
AREA_CM2 = 2 * math.pi * RADIUS_UM * LENGTH_UM * 1e-8
NA_PER_UA_CM2 = AREA_CM2 * 1e3  # µA/cm² × cm² = µA; × 1000 = nA


def main() -> None:
    start = time.perf_counter()
    comp = jx.Compartment()
    comp.insert(HH())
    comp.set("HH_eLeak", -54.387)
    comp.set("v", -65.0)
    comp.set("HH_m", 0.0529)
    comp.set("HH_h", 0.5961)
    comp.set("HH_n", 0.3177)
    comp.record("v", verbose=False)
    amplitudes = jnp.linspace(0.0, 20.0, MEMBERS)

    def rate(amplitude):
        current = jx.step_current(0.0, T1, amplitude * NA_PER_UA_CM2, DT, T1)
        v = jx.integrate(comp, data_stimuli=comp.data_stimulate(current, verbose=False), delta_t=DT)[0]
        t = jnp.arange(v.shape[0]) * DT
        up = (v[:-1] < 0.0) & (v[1:] >= 0.0)
        times = t[:-1] + (0.0 - v[:-1]) / jnp.where(up, v[1:] - v[:-1], 1.0) * DT
        inside = up & (times >= WINDOW[0]) & (times <= WINDOW[1])
        n = inside.sum()
        first = jnp.min(jnp.where(inside, times, jnp.inf))
        last = jnp.max(jnp.where(inside, times, -jnp.inf))
        return jnp.where(n >= 2, 1000.0 * (n - 1) / jnp.where(n >= 2, last - first, 1.0), 0.0)

    solve = jax.jit(jax.vmap(rate))
    t0 = time.perf_counter()
    compiled = solve.lower(amplitudes).compile()
    t1 = time.perf_counter()
    rates = jax.block_until_ready(compiled(amplitudes))
    t2 = time.perf_counter()
    print(json.dumps({"members": MEMBERS, "dt_ms": DT, "setup_s": t0 - start, "compile_s": t1 - t0,
                      "solve_s": t2 - t1, "rates_hz": [float(r) for r in rates]}))


if __name__ == "__main__":
    main()
