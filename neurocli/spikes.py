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
