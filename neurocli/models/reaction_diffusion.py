"""The paper's reaction–diffusion caricature of impulse conduction, by the method of lines.

    u_t = u_xx − u + H_k(u − a),   x ∈ (0, length),   H_k(s) = clip(k s, 0, 1) by default

H_k is `heaviside` (neurocli/models/heaviside.py): the ramp clip(k s + offset, 0, 1) (offset 0, the
paper's, by default) or the sigmoid 1/(1 + e^{−k s}).

Second-order central differences on nx nodes x_i = i · length / (nx − 1).
- dirichlet: u = 0 at both ends; the state is the nx − 2 interior nodes.
- neumann (zero flux): the state is all nx nodes; mirrored ghost nodes give u_xx = 2 (u_1 − u_0)/h²
  at the ends, which keeps second order.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models.base import AbstractPDEModel
from neurocli.models.heaviside import Heaviside, RampHeaviside
from neurocli.models.profiles import Profile, SechProfile


def heaviside_k(s: Float[ArrayLike, "..."], k: Float[ArrayLike, ""]) -> Float[Array, "..."]:
    """The paper's Lipschitz regularisation of H: 0 for s < 0, k s up to s = 1/k, then 1."""
    return jnp.clip(k * s, 0.0, 1.0)


def laplacian(u: Float[Array, " n"], h: Float[ArrayLike, ""], boundary: str) -> Float[Array, " n"]:
    """Second-order u_xx on a uniform grid (state layout as in the module docstring)."""
    if boundary == "dirichlet":
        padded = jnp.concatenate([jnp.zeros(1, u.dtype), u, jnp.zeros(1, u.dtype)])
    else:
        padded = jnp.concatenate([u[1:2], u, u[-2:-1]])
    return (padded[:-2] - 2.0 * u + padded[2:]) / (h * h)


class ReactionDiffusion(AbstractPDEModel):
    a: Float[ArrayLike, ""] = 0.2
    k: Float[ArrayLike, ""] = 5.0
    length: Float[ArrayLike, ""] = jnp.pi
    initial: Profile = SechProfile()
    heaviside: Heaviside = RampHeaviside()
    nx: int = eqx.field(static=True, default=201)
    boundary: Literal["dirichlet", "neumann"] = eqx.field(static=True, default="dirichlet")

    jacobian_block_size: ClassVar[int | None] = 1  # three-point stencil: tridiagonal

    def grid(self):
        return jnp.linspace(0.0, 1.0, self.nx) * self.length

    def spacing(self):
        return self.length / (self.nx - 1)

    def full_field(self, y):
        if self.boundary == "neumann":
            return y
        zeros = jnp.zeros(y.shape[:-1] + (1,), y.dtype)
        return jnp.concatenate([zeros, y, zeros], axis=-1)

    def split_vector_field(self, t, y, i_ext):
        stiff = laplacian(y, self.spacing(), self.boundary) - y
        return self.heaviside(y - self.a, self.k), stiff

    def vector_field(self, t, y, i_ext):
        reaction, stiff = self.split_vector_field(t, y, i_ext)
        return reaction + stiff

    def initial_state(self):
        u0 = self.initial(self.grid())
        return u0 if self.boundary == "neumann" else u0[1:-1]
