"""Spike detection on sampled voltage traces: upward threshold crossings, linearly interpolated."""

from __future__ import annotations

import numpy as np


def spike_times(t: np.ndarray, v: np.ndarray, threshold: float) -> np.ndarray:
    """Times at which v crosses `threshold` upwards (interpolated between samples)."""
    above = v >= threshold
    idx = np.nonzero(~above[:-1] & above[1:])[0]
    v0, v1 = v[idx], v[idx + 1]
    frac = (threshold - v0) / (v1 - v0)
    return t[idx] + frac * (t[idx + 1] - t[idx])


RATE_UNDEFINED = "fewer than 2 spikes in the rate window: no inter-spike interval, the rate is undefined"


def firing_rate_hz(times_ms: np.ndarray, window: tuple[float, float]) -> float | None:
    """Steady firing rate in a window: 1000 / mean inter-spike interval of the spikes inside it.
    None (JSON null) with fewer than two spikes there: no interval, so no rate; undefined is not
    zero (a single spike is not repetitive firing). Where a yes/no is wanted, None is "not firing"
    (see `is_firing`); metrics state the reason beside it (`RATE_UNDEFINED`)."""
    inside = times_ms[(times_ms >= window[0]) & (times_ms <= window[1])]
    if inside.size < 2:
        return None
    return float(1000.0 / np.mean(np.diff(inside)))


def is_firing(rate_hz: float | None) -> bool:
    """Repetitive firing: a defined, positive rate."""
    return rate_hz is not None and rate_hz > 0


def crossings(t, v, threshold):
    """JAX, fixed shapes: (mask, times) of upward crossings between samples i and i + 1: mask
    (nt − 1,) true where v[i] < threshold <= v[i + 1], times interpolated as `spike_times` does."""
    import jax.numpy as jnp

    above = v >= threshold
    up = ~above[:-1] & above[1:]
    dv = jnp.where(up, v[1:] - v[:-1], 1.0)
    frac = (threshold - v[:-1]) / dv
    return up, t[:-1] + frac * (t[1:] - t[:-1])


def voltage_summary(t, v, threshold: float, window: tuple[float, float], max_times: int) -> dict:
    """JAX, inside a compiled solve, per member: what `spike_times` and `firing_rate_hz` give on
    the same samples, as fixed-size arrays. spike_count, the first `max_times` spike times
    (NaN-padded), the firing rate in `window` (1000 (n − 1) / (t_last − t_first) = 1000 / mean
    interval, NaN (undefined) with fewer than two spikes there), first spike, peak and minimum of v."""
    import jax.numpy as jnp

    up, times = crossings(t, v, threshold)
    rank = jnp.cumsum(up) - 1
    slot = jnp.where(up & (rank < max_times), rank, max_times)  # max_times: dropped
    first_k = jnp.full((max_times,), jnp.nan, dtype=times.dtype).at[slot].set(times, mode="drop")
    inside = up & (times >= window[0]) & (times <= window[1])
    n_in = jnp.sum(inside)
    t_first = jnp.min(jnp.where(inside, times, jnp.inf))
    t_last = jnp.max(jnp.where(inside, times, -jnp.inf))
    span = jnp.where(n_in >= 2, t_last - t_first, 1.0)
    rate = jnp.where(n_in >= 2, 1000.0 * (n_in - 1) / span, jnp.nan)  # undefined, as firing_rate_hz's None
    return {
        "spike_count": jnp.sum(up),
        "firing_rate_hz": rate,
        "spike_times_ms": first_k,
        "peak_V_mV": jnp.max(v),
        "min_V_mV": jnp.min(v),
    }
