"""What the Hodgkin–Huxley family shares: squid-axon parameters and the three ionic currents."""

from __future__ import annotations

import dataclasses

import equinox as eqx
from jaxtyping import ArrayLike, Float

from neurocli.models import gating
from neurocli.models.base import AbstractNeuronModel


@dataclasses.dataclass(frozen=True)
class SquidAxon:
    """The squid giant axon in the modern convention: the one place the HH defaults are written
    (every HH model's field defaults and the config schema's defaults are these)."""

    C_m: float = 1.0  # µF/cm²
    g_Na: float = 120.0  # mS/cm²
    g_K: float = 36.0
    g_L: float = 0.3
    E_Na: float = 50.0  # mV
    E_K: float = -77.0
    E_L: float = -54.387
    temperature_C: float = 6.3  # °C, Hodgkin and Huxley's 1952 reference temperature


SQUID = SquidAxon()


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
