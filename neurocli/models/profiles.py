"""Initial profiles u(0, x) for the reaction–diffusion equation (also the PINN's initial condition)."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


class SechProfile(eqx.Module):
    """height / cosh((x − centre) / width); the paper's φ is height 2, centre π/2, width 0.1."""

    height: Float[ArrayLike, ""] = 2.0
    centre: Float[ArrayLike, ""] = math.pi / 2
    width: Float[ArrayLike, ""] = 0.1

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.height / jnp.cosh((x - self.centre) / self.width)


class GaussianProfile(eqx.Module):
    """height · exp(−(x − centre)² / (2 width²))."""

    height: Float[ArrayLike, ""] = 2.0
    centre: Float[ArrayLike, ""] = math.pi / 2
    width: Float[ArrayLike, ""] = 0.1

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.height * jnp.exp(-0.5 * ((x - self.centre) / self.width) ** 2)


Profile = SechProfile | GaussianProfile
