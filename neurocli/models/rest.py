"""Resting states as fixed points, found by Newton's method inside JAX (jit- and vmap-friendly)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def newton_root(
    f: Callable[[Float[Array, ""]], Float[Array, ""]], x0: float, iterations: int = 40
) -> Float[Array, ""]:
    """A root of the scalar function f near x0 (a fixed number of damped-free Newton steps)."""
    df = jax.grad(f)

    def step(_, x):
        return x - f(x) / df(x)

    return jax.lax.fori_loop(0, iterations, step, jnp.asarray(x0, dtype=float))
