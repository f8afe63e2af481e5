"""w, w_t and w_xx of a pointwise function over a batch of points, three ways.

- reverse: nested `jax.grad` per point (what PyTorch autograd does), vmapped.
- forward: `jax.jvp` along t, and a jvp of a jvp along x, on the batched function.
- taylor: `jax.experimental.jet` along x (w_x and w_xx in one second-order pass) and a jvp along t.
All three give the same numbers; benchmarks/bench_pinn.py times them (forward was fastest here).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.experimental import jet
from jaxtyping import Array, Float

Pointwise = Callable[[Float[Array, ""], Float[Array, ""]], Float[Array, ""]]
Batch = Float[Array, " batch"]

MODES = ("reverse", "forward", "taylor")


def value_and_derivatives(f: Pointwise, t: Batch, x: Batch, mode: str) -> tuple[Batch, Batch, Batch]:
    """(f, f_t, f_xx) at every point of the batch."""
    batched = jax.vmap(f)
    one, zero = jnp.ones_like(t), jnp.zeros_like(t)
    if mode == "reverse":
        w = batched(t, x)
        w_t = jax.vmap(jax.grad(f, argnums=0))(t, x)
        w_xx = jax.vmap(jax.grad(jax.grad(f, argnums=1), argnums=1))(t, x)
        return w, w_t, w_xx
    w, w_t = jax.jvp(batched, (t, x), (one, zero))
    along_x = lambda y: batched(t, y)  # noqa: E731
    if mode == "forward":
        slope = lambda y: jax.jvp(along_x, (y,), (one,))[1]  # noqa: E731
        w_xx = jax.jvp(slope, (x,), (one,))[1]
    elif mode == "taylor":
        _, (_, w_xx) = jet.jet(along_x, (x,), ((one, zero),))
    else:
        raise ValueError(f"unknown derivative mode {mode!r}; expected one of {MODES}")
    return w, w_t, w_xx


def value_and_slope(f: Pointwise, t: Batch, x: Batch) -> tuple[Batch, Batch]:
    """(f, f_x) at every point (for soft zero-flux boundary terms)."""
    return jax.jvp(lambda y: jax.vmap(f)(t, y), (x,), (jnp.ones_like(x),))
