"""What the Hodgkin–Huxley family shares: squid-axon parameters and the three ionic currents."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import ArrayLike, Float

from neurocli.models import gating
from neurocli.models.base import AbstractNeuronModel


class AbstractHHMembrane(AbstractNeuronModel):
    """Parameters in the modern convention (rest near −65 mV).

    C_m µF/cm²; g_Na, g_K, g_L mS/cm²; E_Na, E_K, E_L mV; temperature_C °C. Currents µA/cm².
    """

    C_m: eqx.AbstractVar[Float[ArrayLike, ""]]
    g_Na: eqx.AbstractVar[Float[ArrayLike, ""]]
    g_K: eqx.AbstractVar[Float[ArrayLike, ""]]
    g_L: eqx.AbstractVar[Float[ArrayLike, ""]]
    E_Na: eqx.AbstractVar[Float[ArrayLike, ""]]
    E_K: eqx.AbstractVar[Float[ArrayLike, ""]]
    E_L: eqx.AbstractVar[Float[ArrayLike, ""]]
    temperature_C: eqx.AbstractVar[Float[ArrayLike, ""]]

    def rate_factor(self):
        return gating.temperature_factor(self.temperature_C)

    def i_na(self, V, m, h):
        return self.g_Na * m**3 * h * (V - self.E_Na)

    def i_k(self, V, n):
        return self.g_K * n**4 * (V - self.E_K)

    def i_l(self, V):
        return self.g_L * (V - self.E_L)
