"""Measurements on a propagating action potential V(t, x): conduction velocity, spike peak and
width at half amplitude, whether the impulse reached the far end (`summary`, JAX, inside the
compiled solve of every cable run), and arrival times along the cable (NumPy, for figures).

Units: t in ms, x in cm, V in mV; velocities are reported in m/s (1 cm/ms = 10 m/s).
"""

from __future__ import annotations


import numpy as np

from neurocli.analysis.front import first_crossing, nearest_node, speed_between

M_PER_S_PER_CM_PER_MS = 10.0
"""1 cm/ms = 1e-2 m / 1e-3 s = 10 m/s."""


def arrival_times(t: np.ndarray, V: np.ndarray, threshold: float) -> np.ndarray:
    """First threshold crossing at every node: V (nt, nx) -> (nx,) times, NaN where none (the
    snapshot figures' times)."""
    return np.array([first_crossing(t, V[:, i], threshold) for i in range(V.shape[1])])


def power_law_exponent(values, velocities) -> float:
    """Least-squares slope of log velocity against log value (finite, positive entries only)."""
    v, c = np.asarray(values, float), np.asarray(velocities, float)
    ok = np.isfinite(c) & (c > 0) & (v > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(v[ok]), np.log(c[ok]), 1)[0])


RECORDED = ("velocity_first", "velocity_second", "site", "far_end")
"""The nodes a sweep chunk saves per member, in this order (see `recorded_nodes`)."""


def recorded_nodes(x: np.ndarray, positions: tuple[float, float], site: float) -> tuple[int, int, int, int]:
    """Node indices of RECORDED: the two velocity points, the recording site, the far end."""
    return nearest_node(x, positions[0]), nearest_node(x, positions[1]), nearest_node(x, site), len(x) - 1


def summary(t, V, *, distance_cm: float, threshold: float, max_times: int,
            velocity_scale: float = M_PER_S_PER_CM_PER_MS) -> dict:
    """JAX, inside the compiled solve, per member: V (nt, 4) at the RECORDED nodes -> the
    velocity between the first two (m/s), and at the site (the third) spike count, times, peak,
    minimum and the width at half amplitude above the resting level (V at the site at t0);
    whether the far end (the fourth) crossed threshold. `distance_cm`: between the velocity nodes;
    `velocity_scale`: the reported velocity per unit of distance / time (cm/ms -> m/s: 10; 1 for a
    dimensionless cable, whose key keeps its name)."""
    import jax.numpy as jnp

    from neurocli.analysis.spikes import voltage_summary

    velocity = speed_between(t, V[:, 0], V[:, 1], distance_cm, threshold) * velocity_scale

    v = V[:, 2]
    site = voltage_summary(t, v, threshold, (t[0], t[-1]), max_times)
    rest = v[0]
    nt = v.shape[0]
    k = jnp.argmax(v)
    level = rest + 0.5 * (v[k] - rest)
    idx = jnp.arange(nt)
    below = v < level
    a = jnp.max(jnp.where(below & (idx <= k), idx, -1))
    b = jnp.min(jnp.where(below & (idx >= k), idx, nt))
    valid = (a >= 0) & (b < nt) & jnp.any(v >= threshold)
    a, b = jnp.clip(a, 0, nt - 2), jnp.clip(b, 1, nt - 1)

    def cross(i):  # level crossed between samples i and i + 1
        dv = jnp.where(v[i + 1] != v[i], v[i + 1] - v[i], 1.0)
        return t[i] + (level - v[i]) / dv * (t[i + 1] - t[i])

    width = jnp.where(valid, cross(b - 1) - cross(a), jnp.nan)
    return {
        "conduction_velocity_m_per_s": velocity,
        "reached_far_end": jnp.any(V[:, 3] >= threshold),
        "spike_count": site["spike_count"],
        "spike_times_ms": site["spike_times_ms"],
        "peak_V_mV": site["peak_V_mV"],
        "min_V_mV": site["min_V_mV"],
        "spike_half_width_ms": width,
    }
