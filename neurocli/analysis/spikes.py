"""Spike detection on sampled voltage traces, in JAX inside the compiled solve (every simulate run,
lone or swept: simulation/sweep.py): upward threshold crossings, linearly interpolated, their
count and first times, and the firing rate in a window. (tests/reference_analysis.py holds an
independent NumPy version the tests check this one against.)"""

from __future__ import annotations



RATE_UNDEFINED = "fewer than 2 spikes in the rate window: no inter-spike interval, the rate is undefined"


def crossings(t, v, threshold):
    """JAX, fixed shapes: (mask, times) of upward crossings between samples i and i + 1: mask
    (nt − 1,) true where v[i] < threshold <= v[i + 1], times linearly interpolated."""
    import jax.numpy as jnp

    above = v >= threshold
    up = ~above[:-1] & above[1:]
    dv = jnp.where(up, v[1:] - v[:-1], 1.0)
    frac = (threshold - v[:-1]) / dv
    return up, t[:-1] + frac * (t[1:] - t[:-1])


def voltage_summary(t, v, threshold: float, window: tuple[float, float], max_times: int) -> dict:
    """JAX, inside a compiled solve, per member, as fixed-size arrays: spike_count, the first
    `max_times` spike times (NaN-padded), the firing rate in `window` (1000 (n − 1) / (t_last −
    t_first) = 1000 / mean interval; NaN, undefined, with fewer than two spikes there: a single
    spike is not repetitive firing, and undefined is not zero), peak and minimum of v."""
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
    rate = jnp.where(n_in >= 2, 1000.0 * (n_in - 1) / span, jnp.nan)  # undefined: metrics.json's null
    return {
        "spike_count": jnp.sum(up),
        "firing_rate_hz": rate,
        "spike_times_ms": first_k,
        "peak_V_mV": jnp.max(v),
        "min_V_mV": jnp.min(v),
    }
