"""Measurements on a propagating action potential V(t, x): arrival times, conduction velocity,
spike peak and width at half amplitude, whether the impulse reached the far end. NumPy only.

Units: t in ms, x in cm, V in mV; velocities are reported in m/s (1 cm/ms = 10 m/s).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neurocli.analysis.front import first_crossing, front_speed, nearest_node, speed_between
from neurocli.analysis.spikes import spike_times

M_PER_S_PER_CM_PER_MS = 10.0
"""1 cm/ms = 1e-2 m / 1e-3 s = 10 m/s."""


def arrival_times(t: np.ndarray, V: np.ndarray, threshold: float) -> np.ndarray:
    """First threshold crossing at every node: V (nt, nx) -> (nx,) times, NaN where none."""
    return np.array([first_crossing(t, V[:, i], threshold) for i in range(V.shape[1])])


def conduction_velocity(t, x, V, threshold: float, positions: tuple[float, float]) -> float:
    """(x₂ − x₁) / (t₂ − t₁) in m/s from the first threshold crossings at the nodes nearest to
    `positions` (cm); NaN if the impulse did not cross at both."""
    return front_speed(t, x, V, threshold, positions) * M_PER_S_PER_CM_PER_MS


def half_width(t: np.ndarray, v: np.ndarray, rest: float) -> float:
    """Duration (ms) for which v exceeds rest + (peak − rest)/2 around its peak, with the two
    crossings linearly interpolated; NaN if the spike does not come back down within the run."""
    k = int(np.argmax(v))
    level = rest + 0.5 * (v[k] - rest)
    before = np.nonzero(v[: k + 1] < level)[0]
    after = np.nonzero(v[k:] < level)[0]
    if before.size == 0 or after.size == 0:
        return float("nan")
    a = before[-1]  # v[a] < level <= v[a + 1]
    b = k + after[0]  # v[b - 1] >= level > v[b]
    t_up = t[a] + (level - v[a]) / (v[a + 1] - v[a]) * (t[a + 1] - t[a])
    t_down = t[b - 1] + (level - v[b - 1]) / (v[b] - v[b - 1]) * (t[b] - t[b - 1])
    return float(t_down - t_up)


@dataclasses.dataclass(frozen=True)
class Propagation:
    """What one solve of the cable shows (see `analyse`)."""

    velocity_m_per_s: float
    peak_V_mV: float
    min_V_mV: float
    half_width_ms: float
    spike_times_ms: list[float]
    reached_far_end: bool
    arrival_ms: np.ndarray  # (nx,)


def analyse(t, x, V, *, rest: float, threshold: float, positions: tuple[float, float], site: float) -> Propagation:
    """V: (nt, nx). Velocity between `positions`; peak, minimum, half-amplitude width (from
    `rest`) and spike times recorded at `site` (cm); far end reached if its V crossed threshold."""
    k = nearest_node(x, site)
    v_site = V[:, k]
    fired = bool(np.any(v_site >= threshold))
    return Propagation(
        velocity_m_per_s=conduction_velocity(t, x, V, threshold, positions),
        peak_V_mV=float(v_site.max()),
        min_V_mV=float(v_site.min()),
        half_width_ms=half_width(t, v_site, rest) if fired else float("nan"),
        spike_times_ms=spike_times(t, v_site, threshold).tolist(),
        reached_far_end=bool(np.any(V[:, -1] >= threshold)),
        arrival_ms=arrival_times(t, V, threshold),
    )


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


def summary(t, V, *, distance_cm: float, threshold: float, max_times: int) -> dict:
    """JAX, inside a compiled sweep chunk, per member: V (nt, 4) at the RECORDED nodes ->
    what `analyse` reports (the same formulas, fixed-size arrays; the resting level is V at the
    site at t0). `distance_cm`: between the two velocity nodes."""
    import jax.numpy as jnp

    from neurocli.analysis.spikes import voltage_summary

    velocity = speed_between(t, V[:, 0], V[:, 1], distance_cm, threshold) * M_PER_S_PER_CM_PER_MS

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
