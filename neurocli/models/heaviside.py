"""Regularisations H_k of the multivalued Heaviside step H (H(0) = [0, 1]) in u_t = u_xx − u + H_k(u − a).

    ramp:     H_k(s) = clip(k s + offset, 0, 1)     offset θ ∈ [0, 1] is the value H_k picks at s = 0
    sigmoid:  H_k(s) = 1 / (1 + e^{−k s})            H_k(0) = 1/2

θ = 0 is the paper's regularisation (0 below the threshold, k s up to s = 1/k, then 1); θ = 1 is 0 up
to s = −1/k and 1 from the threshold on (it approaches H from below); θ = 1/2 is centred. Every
choice converges to a solution of the inclusion u_t − u_xx + u ∈ H(u − a) as k → ∞, and where u
sits at the threshold the choice selects which one: u ≡ a with θ = a stays at a, θ < a sends it
down, θ > a up. Staying is unstable: s = u − a obeys s' = (k − 1) s + (θ − a), so θ off a by one
rounding (0.1 · 3 = 0.30000000000000004) departs like e^{(k−1)t} once a step's increment survives
rounding: unseen at k = 5 over T = 1, fatal for large k. With θ and a the same double,
u_t = −a + θ is exactly 0 and u stays.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


class RampHeaviside(eqx.Module):
    """clip(k s + offset, 0, 1). offset 0 is `heaviside_k`, bit for bit (k s + 0 is k s)."""

    offset: Float[ArrayLike, ""] = 0.0

    def __call__(self, s: Float[ArrayLike, "..."], k: Float[ArrayLike, ""]) -> Float[Array, "..."]:
        return jnp.clip(k * s + self.offset, 0.0, 1.0)


class SigmoidHeaviside(eqx.Module):
    """1 / (1 + e^{−k s}) (jax.nn.sigmoid: no overflow for large k |s|)."""

    def __call__(self, s: Float[ArrayLike, "..."], k: Float[ArrayLike, ""]) -> Float[Array, "..."]:
        return jax.nn.sigmoid(k * s)


Heaviside = RampHeaviside | SigmoidHeaviside
