"""How the network's output becomes u(t, x): soft (u = N) or hard (u = base + (t/T) g(x) N).

The field is split as u = b + w: the base b is known in closed form, w is learned. The residual
needs the derivatives of w (by autodiff) and the linear operator applied to b, L[b] = b_t − b_xx + b,
in closed form:
- soft: b = 0, w = N(t, x).
- hard, base `initial`: b = φ(x), L[b] = φ − φ''.
- hard, base `heat`: b = the eigen-series solution of v_t = v_xx − v (heat.py), L[b] = 0.
With hard conditions w = (t / T) g(x) N(t, ξ(x)) vanishes at t = 0; for dirichlet g = 4x(L − x)/L²
vanishes at both ends; for neumann ξ(x) = L s²(3 − 2s) (s = x/L, `flat_ends`) has zero slope at
both ends, so w_x = 0 there. For boundary `none` g = 1 and ξ = x.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurocli.models.profiles import Profile
from neurocli.pinn.heat import HeatSeries
from neurocli.pinn.networks import PinnNetwork


def second_derivative(f, x):
    """f''(x) of a scalar function by nested forward mode."""
    return jax.jvp(lambda y: jax.jvp(f, (y,), (jnp.ones_like(y),))[1], (x,), (jnp.ones_like(x),))[1]


def flat_ends(x: Float[Array, ""], L: float) -> Float[Array, ""]:
    """ξ(x) = L q(x / L), q(s) = s²(3 − 2s): maps [0, L] onto itself with ξ' = 0 at both ends.

    Evaluated from the nearer end (L q(s) = L − L q(1 − s)) with 1 − s formed as (L − x) / L, so
    the slope is exactly zero at x = 0 and x = L in float32 and under any compiler rewriting.
    """
    far = x > 0.5 * L
    r = jnp.where(far, L - x, x) / L
    q = L * r * r * (3.0 - 2.0 * r)
    return jnp.where(far, L - q, q)


class Ansatz(eqx.Module):
    kind: str = eqx.field(static=True)  # soft | hard
    boundary: str = eqx.field(static=True)  # dirichlet | neumann | none
    T: float = eqx.field(static=True)
    length: float = eqx.field(static=True)
    profile: Profile
    heat: HeatSeries | None  # the base for hard conditions with base `heat`; None: base φ (or 0 if soft)

    def learned(self, net: PinnNetwork, t: Float[Array, ""], x: Float[Array, ""]) -> Float[Array, ""]:
        """w(t, x), the part of u the network carries."""
        if self.kind == "soft":
            return net(t, x)
        L = self.length
        if self.boundary == "neumann":
            return (t / self.T) * net(t, flat_ends(x, L))
        g = 4.0 * x * (L - x) / (L * L) if self.boundary == "dirichlet" else 1.0
        return (t / self.T) * g * net(t, x)

    def base(self, t: Float[Array, ""], x: Float[Array, ""]) -> Float[Array, ""]:
        """b(t, x)."""
        if self.kind == "soft":
            return jnp.zeros_like(x)
        if self.heat is not None:
            return self.heat(t, x)
        return self.profile(x)

    def base_operator(self, t: Float[Array, ""], x: Float[Array, ""]) -> Float[Array, ""]:
        """L[b] = b_t − b_xx + b, in closed form (zero for the heat base: it solves the linear part)."""
        if self.kind == "soft" or self.heat is not None:
            return jnp.zeros_like(x)
        return self.profile(x) - second_derivative(self.profile, x)

    def __call__(self, net: PinnNetwork, t: Float[Array, ""], x: Float[Array, ""], scale=None) -> Float[Array, ""]:
        """u(t, x) at one point. `scale`: t is a member's clock s (pde.T swept), whose time is
        scale · s: the base is evaluated at that time, the network on the clock."""
        return self.base(t if scale is None else scale * t, x) + self.learned(net, t, x)
