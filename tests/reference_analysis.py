"""NumPy measurements of sampled traces, written apart from the package's JAX analysis
(neurocli/analysis/: computed inside the compiled solves) so that tests can check it: upward
threshold crossings, firing rates, front speeds and the cable's propagation measurements."""

from __future__ import annotations

import dataclasses

import numpy as np

M_PER_S_PER_CM_PER_MS = 10.0


def spike_times(t: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    """Times at which v crosses `threshold` upwards (interpolated between samples)."""
    above = v >= threshold
    idx = np.nonzero(~above[:-1] & above[1:])[0]
    v0, v1 = v[idx], v[idx + 1]
    frac = (threshold - v0) / (v1 - v0)
    return t[idx] + frac * (t[idx + 1] - t[idx])


def firing_rate_hz(times_ms: np.ndarray, window: tuple[float, float]) -> float | None:
    """Steady firing rate in a window: 1000 / mean inter-spike interval of the spikes inside it;
    None with fewer than two spikes there."""
    inside = times_ms[(times_ms >= window[0]) & (times_ms <= window[1])]
    if inside.size < 2:
        return None
    return float(1000.0 / np.mean(np.diff(inside)))


def nearest_node(x: np.ndarray, position: float) -> int:
    return int(np.argmin(np.abs(x - position)))


def first_crossing(t: np.ndarray, v: np.ndarray, level: float) -> float:
    """The first upward crossing of `level` (linearly interpolated); NaN if there is none."""
    times = spike_times(t, v, level)
    return float(times[0]) if times.size else float("nan")


def front_speed(t, x, u, level: float, positions: tuple[float, float]) -> float:
    """(x₂ − x₁) / (t₂ − t₁) (units of x per unit of t) from the first upward crossings of `level`
    at the nodes nearest to `positions`; u: (nt, nx)."""
    i, j = nearest_node(x, positions[0]), nearest_node(x, positions[1])
    t_i, t_j = first_crossing(t, u[:, i], level), first_crossing(t, u[:, j], level)
    if not (np.isfinite(t_i) and np.isfinite(t_j)) or t_j <= t_i:
        return float("nan")
    return float((x[j] - x[i]) / (t_j - t_i))


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
