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


def firing_rate_hz(times_ms: np.ndarray, window: tuple[float, float]) -> float:
    """Steady firing rate in a window: 1000 / mean inter-spike interval of the spikes inside it,
    0 with fewer than two spikes there (a single spike is not repetitive firing)."""
    inside = times_ms[(times_ms >= window[0]) & (times_ms <= window[1])]
    if inside.size < 2:
        return 0.0
    return float(1000.0 / np.mean(np.diff(inside)))
