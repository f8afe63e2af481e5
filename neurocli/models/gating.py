"""Hodgkin–Huxley gating kinetics (modern convention, V in mV, rates in 1/ms).

α_n and α_m have removable singularities (0/0 at V = −55 and V = −40 mV). They are written with
`exprel`, which is finite there and has finite gradients (the double-`where` trick).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

Scalar = Float[ArrayLike, "..."]

_TAYLOR_BELOW = 1e-4


def exprel(z: Scalar) -> Float[Array, "..."]:
    """(exp(z) − 1) / z, with the limit 1 at z = 0; value and gradient finite everywhere."""
    z = jnp.asarray(z)
    small = jnp.abs(z) < _TAYLOR_BELOW
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2.0 + z * z / 6.0, jnp.expm1(z_safe) / z_safe)


def alpha_n(V: Scalar) -> Float[Array, "..."]:
    # 0.01 (V+55) / (1 − exp(−(V+55)/10)) = 0.1 / exprel(−(V+55)/10)
    return 0.1 / exprel(-(V + 55.0) / 10.0)


def beta_n(V: Scalar) -> Float[Array, "..."]:
    return 0.125 * jnp.exp(-(V + 65.0) / 80.0)


def alpha_m(V: Scalar) -> Float[Array, "..."]:
    # 0.1 (V+40) / (1 − exp(−(V+40)/10)) = 1 / exprel(−(V+40)/10)
    return 1.0 / exprel(-(V + 40.0) / 10.0)


def beta_m(V: Scalar) -> Float[Array, "..."]:
    return 4.0 * jnp.exp(-(V + 65.0) / 18.0)


def alpha_h(V: Scalar) -> Float[Array, "..."]:
    return 0.07 * jnp.exp(-(V + 65.0) / 20.0)


def beta_h(V: Scalar) -> Float[Array, "..."]:
    return 1.0 / (1.0 + jnp.exp(-(V + 35.0) / 10.0))


def temperature_factor(temperature_C: Scalar) -> Float[Array, "..."]:
    """Q10 = 3 scaling of every rate relative to 6.3 °C."""
    return 3.0 ** ((jnp.asarray(temperature_C) - 6.3) / 10.0)


def steady_state(alpha: Scalar, beta: Scalar) -> Float[Array, "..."]:
    """x∞ = α / (α + β)."""
    return alpha / (alpha + beta)


def m_inf(V: Scalar) -> Float[Array, "..."]:
    return steady_state(alpha_m(V), beta_m(V))


def h_inf(V: Scalar) -> Float[Array, "..."]:
    return steady_state(alpha_h(V), beta_h(V))


def n_inf(V: Scalar) -> Float[Array, "..."]:
    return steady_state(alpha_n(V), beta_n(V))


def relax(x: Scalar, alpha: Scalar, beta: Scalar, phi: Scalar) -> Float[Array, "..."]:
    """dx/dt = φ (α (1 − x) − β x)."""
    return phi * (alpha * (1.0 - x) - beta * x)
