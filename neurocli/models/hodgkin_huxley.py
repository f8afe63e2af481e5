"""The full Hodgkin–Huxley model: states V (mV), m, h, n."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models import gating
from neurocli.models.hh_membrane import SQUID, AbstractHHMembrane
from neurocli.models.rest import newton_root


class HodgkinHuxley(AbstractHHMembrane):
    """C_m dV/dt = I_ext − I_Na − I_K − I_L;  dx/dt = φ(T) (α_x (1 − x) − β_x x), x ∈ {m, h, n}.

    C_m µF/cm²; g_* mS/cm²; E_* mV; temperature_C °C (rates × 3^((T − 6.3)/10)).
    """

    C_m: Float[ArrayLike, ""] = SQUID.C_m
    g_Na: Float[ArrayLike, ""] = SQUID.g_Na
    g_K: Float[ArrayLike, ""] = SQUID.g_K
    g_L: Float[ArrayLike, ""] = SQUID.g_L
    E_Na: Float[ArrayLike, ""] = SQUID.E_Na
    E_K: Float[ArrayLike, ""] = SQUID.E_K
    E_L: Float[ArrayLike, ""] = SQUID.E_L
    temperature_C: Float[ArrayLike, ""] = SQUID.temperature_C

    state_names: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n")

    def vector_field(self, t, y, i_ext):
        V, m, h, n = y[0], y[1], y[2], y[3]
        phi = self.rate_factor()
        dV = (i_ext - self.i_na(V, m, h) - self.i_k(V, n) - self.i_l(V)) / self.C_m
        dm = gating.relax(m, gating.alpha_m(V), gating.beta_m(V), phi)
        dh = gating.relax(h, gating.alpha_h(V), gating.beta_h(V), phi)
        dn = gating.relax(n, gating.alpha_n(V), gating.beta_n(V), phi)
        return jnp.stack([dV, dm, dh, dn])

    def resting_potential(self) -> Float[Array, ""]:
        """V where the steady-state membrane current vanishes (I_ext = 0)."""

        def current(V):
            m, h, n = gating.m_inf(V), gating.h_inf(V), gating.n_inf(V)
            return self.i_na(V, m, h) + self.i_k(V, n) + self.i_l(V)

        return newton_root(current, -65.0)

    def initial_state(self):
        V = self.resting_potential()
        return jnp.stack([V, gating.m_inf(V), gating.h_inf(V), gating.n_inf(V)])
