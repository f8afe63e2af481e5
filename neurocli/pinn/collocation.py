"""Collocation points: uniform draws (t = T · U^p concentrates them near t = 0), batches from a
fixed pool, and residual-based adaptive resampling (RAD, Wu et al. 2023)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

Points = tuple[Float[Array, " n"], Float[Array, " n"]]


def uniform(key: PRNGKeyArray, n: int, T: float, length: float, time_power: float, dtype) -> Points:
    """n points: x ~ U(0, length), t = T · U^time_power."""
    kt, kx = jax.random.split(key)
    u = jax.random.uniform(kt, (n,), dtype)
    t = T * (u if time_power == 1.0 else u**time_power)
    return t, length * jax.random.uniform(kx, (n,), dtype)


def take(key: PRNGKeyArray, pool: Points, n: int) -> Points:
    """n distinct points of the pool, at random."""
    idx = jax.random.choice(key, pool[0].shape[0], (n,), replace=False)
    return pool[0][idx], pool[1][idx]


def concat(a: Points, b: Points) -> Points:
    return jnp.concatenate([a[0], b[0]]), jnp.concatenate([a[1], b[1]])


def resample_by_residual(
    key: PRNGKeyArray,
    residual: Callable[[Float[Array, " n"], Float[Array, " n"]], Float[Array, " n"]],
    candidates: Points,
    n: int,
    exponent: float,
) -> Points:
    """n of the candidates, drawn without replacement with p ∝ |r|^exponent / mean(|r|^exponent) + 1."""
    r = jnp.abs(jax.lax.stop_gradient(residual(*candidates))) ** exponent
    p = r / (jnp.mean(r) + jnp.finfo(r.dtype).tiny) + 1.0
    idx = jax.random.choice(key, r.shape[0], (n,), replace=False, p=p / jnp.sum(p))
    return candidates[0][idx], candidates[1][idx]
