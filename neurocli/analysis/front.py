"""The speed of a travelling front or impulse: distance between two grid nodes over the time
between the first upward crossings of a level there. The reaction–diffusion front is where u
crosses a (the level of the McKean travelling wave, whose speed for the step H is
c = (1 − 2a)/√(a(1 − a))); the cable's impulse is where V crosses the spike threshold.

JAX inside the compiled solve (`speed_between`), NaN where the level was not crossed at both
nodes or not first at the first one; `first_crossing` (NumPy) times a front for figures.
"""

from __future__ import annotations

import numpy as np

from neurocli.analysis.spikes import crossings


def nearest_node(x: np.ndarray, position: float) -> int:
    return int(np.argmin(np.abs(x - position)))


def first_crossing(t: np.ndarray, v: np.ndarray, level: float) -> float:
    """The first upward crossing of `level` (linearly interpolated), NumPy; NaN if there is none.
    For figures (where a front is when): metrics come from the compiled analysis."""
    above = v >= level
    idx = np.nonzero(~above[:-1] & above[1:])[0]
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    return float(t[i] + (level - v[i]) / (v[i + 1] - v[i]) * (t[i + 1] - t[i]))


def speed_between(t, u_i, u_j, distance, level):
    """JAX: (distance) / (t_j − t_i) from the first upward crossings of `level` in the traces
    u_i, u_j (nt,) of two nodes `distance` apart (units of x per unit of t)."""
    import jax.numpy as jnp

    def first(v):
        up, times = crossings(t, v, level)
        return jnp.min(jnp.where(up, times, jnp.inf))

    t_i, t_j = first(u_i), first(u_j)
    ok = jnp.isfinite(t_i) & jnp.isfinite(t_j) & (t_j > t_i)
    return jnp.where(ok, distance / jnp.where(ok, t_j - t_i, 1.0), jnp.nan)


def mckean_speed(a):
    """The travelling-front speed of u_t = u_xx − u + H(u − a) with the step H (k → ∞ of H_k):
    c = (1 − 2a)/√(a(1 − a)), for 0 < a < 1/2 (McKean's caricature; NaN elsewhere)."""
    a = np.asarray(a, dtype=float)
    inside = (a > 0) & (a < 0.5)
    safe = np.where(inside, a, 0.25)
    return np.where(inside, (1 - 2 * safe) / np.sqrt(safe * (1 - safe)), np.nan)
