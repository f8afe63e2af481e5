"""The seed's 2-D reduction of Hodgkin–Huxley: states V (mV), n; m = m∞(V), h = h∞(V)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models import gating
from neurocli.models.hh_membrane import SQUID, AbstractHHMembrane
from neurocli.models.rest import newton_root


class ReducedHodgkinHuxley(AbstractHHMembrane):
    """C_m dV/dt = I_ext − g_Na m∞³ h∞ (V − E_Na) − g_K n⁴ (V − E_K) − g_L (V − E_L);
    dn/dt = φ(T) (α_n (1 − n) − β_n n). Parameters and units as `AbstractHHMembrane`."""

    C_m: Float[ArrayLike, ""] = SQUID.C_m
    g_Na: Float[ArrayLike, ""] = SQUID.g_Na
    g_K: Float[ArrayLike, ""] = SQUID.g_K
    g_L: Float[ArrayLike, ""] = SQUID.g_L
    E_Na: Float[ArrayLike, ""] = SQUID.E_Na
    E_K: Float[ArrayLike, ""] = SQUID.E_K
    E_L: Float[ArrayLike, ""] = SQUID.E_L
    temperature_C: Float[ArrayLike, ""] = SQUID.temperature_C

    state_names: ClassVar[tuple[str, ...]] = ("V", "n")

    def i_na_inf(self, V):
        return self.i_na(V, gating.m_inf(V), gating.h_inf(V))

    def vector_field(self, t, y, i_ext):
        V, n = y[0], y[1]
        phi = self.rate_factor()
        dV = (i_ext - self.i_na_inf(V) - self.i_k(V, n) - self.i_l(V)) / self.C_m
        dn = gating.relax(n, gating.alpha_n(V), gating.beta_n(V), phi)
        return jnp.stack([dV, dn])

    def resting_potential(self) -> Float[Array, ""]:
        return newton_root(lambda V: self.i_na_inf(V) + self.i_k(V, gating.n_inf(V)) + self.i_l(V), -65.0)

    def initial_state(self):
        V = self.resting_potential()
        return jnp.stack([V, gating.n_inf(V)])
