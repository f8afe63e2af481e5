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




class ConstantProfile(eqx.Module):
    """u(0, x) = value everywhere (with value = a it sits on the threshold: the non-unique case)."""

    value: Float[ArrayLike, ""] = 0.3

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        x = jnp.asarray(x)
        return jnp.zeros_like(x) + self.value


def _smoothstep(r: Float[Array, "..."]) -> Float[Array, "..."]:
    """0 for r ≤ 0, 1 for r ≥ 1, the quintic 6r⁵ − 15r⁴ + 10r³ between (C², flat at both ends)."""
    r = jnp.clip(r, 0.0, 1.0)
    return r * r * r * (r * (6.0 * r - 15.0) + 10.0)


class PlateauProfile(eqx.Module):
    """value on [start, stop], falling smoothly (C², a quintic smoothstep) to 0 over edge_width on
    each side: 0 outside [start − edge_width, stop + edge_width]."""

    value: Float[ArrayLike, ""] = 0.3
    start: Float[ArrayLike, ""] = 1.0
    stop: Float[ArrayLike, ""] = 2.0
    edge_width: Float[ArrayLike, ""] = 0.2

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        rise = _smoothstep((x - (self.start - self.edge_width)) / self.edge_width)
        fall = _smoothstep(((self.stop + self.edge_width) - x) / self.edge_width)
        return self.value * rise * fall


Profile = SechProfile | GaussianProfile | ConstantProfile | PlateauProfile
