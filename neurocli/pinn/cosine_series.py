"""A field on [0, L] with zero slope at both ends as a cosine series, y(x) = Σ_k c_k cos(kπx/L):
how a time-marching window hands its end state to the next (the next window's initial state).

The series meets the sealed-end condition exactly, and its second derivative is closed-form
(−(kπ/L)² c_k), so the next window's residual differentiates a sum of cosines, not the previous
window's network. Coefficients come from samples on a uniform grid by the type-I discrete cosine
transform, truncated to the first `modes`; a smooth field's coefficients fall off fast.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def cosine_coefficients(samples: np.ndarray, modes: int) -> np.ndarray:
    """(fields, N) samples at x_j = j L / (N − 1) -> (fields, modes) coefficients c_k such that
    Σ_k c_k cos(kπ x_j / L) interpolates them (modes = N) or is their least-squares truncation."""
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[-1]
    j = np.arange(n)
    k = np.arange(min(modes, n))
    weights = np.full(n, 2.0)
    weights[[0, -1]] = 1.0  # the trapezoid ends of DCT-I
    basis = np.cos(np.pi * np.outer(k, j) / (n - 1))  # (modes, N)
    c = (samples * weights) @ basis.T / (n - 1)
    c[..., 0] /= 2.0
    if k[-1] == n - 1:
        c[..., -1] /= 2.0
    return c


class CosineSeries(eqx.Module):
    coefficients: Float[Array, "fields modes"]
    length: float = eqx.field(static=True)

    def _basis(self, x):
        k = jnp.arange(self.coefficients.shape[-1], dtype=self.coefficients.dtype)
        return k * (math.pi / self.length), jnp.cos(x * k * (math.pi / self.length))

    def __call__(self, x: Float[Array, ""]) -> Float[Array, " fields"]:
        return self.coefficients @ self._basis(x)[1]

    def second_derivative(self, x: Float[Array, ""]) -> Float[Array, " fields"]:
        wave, cos = self._basis(x)
        return self.coefficients @ (-(wave * wave) * cos)
