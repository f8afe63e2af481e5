"""The Hodgkin–Huxley cable: the propagating action potential of the squid giant axon.

    C_m ∂V/∂t = (d / (4 R_i)) ∂²V/∂x² − I_ion(V, m, h, n) + I_stim(x, t),   x ∈ (0, length_cm)
    dx/dt = φ(T) (α_x(V) (1 − x) − β_x(V) x),   x ∈ {m, h, n}, at every point of the axon

with sealed (zero-flux) ends ∂V/∂x = 0. The membrane at each node is exactly the point model
`HodgkinHuxley` (same fields, same currents and gating); the cable adds the axial current.

Units: x in cm, t in ms, V in mV, currents µA/cm² of membrane, d in µm, R_i in Ω·cm.
The axial conductance d/(4 R_i) is converted to mS (see `axial_conductance_mS`), so that
(mS) · (mV/cm²) = µA/cm², the unit of every other term of the current balance.

The method of lines, the sealed ends, the state layout ([V, m, h, n] in blocks of nx nodes: the
stiff axial term's Jacobian is tridiagonal, solved by LAPACK's gtsv; node by node, the block-Thomas
solve was 47× slower for the IMEX stages at nx 401) and how the stimulus is spread over the first
`stim_extent_cm` are every cable's: neurocli/models/cable.py. The stimulus time course I(t) is the
config's `stimulus:` section, in µA/cm² of membrane.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models.cable import AbstractCable, segment_weights  # noqa: F401 (segment_weights: re-exported)
from neurocli.models.hh_membrane import SQUID
from neurocli.models.hodgkin_huxley import HodgkinHuxley
from neurocli.models.reaction_diffusion import laplacian

CM_PER_UM = 1e-4
"""1 µm = 1e-4 cm."""
MS_PER_S = 1e3
"""1 S = 1e3 mS (siemens to millisiemens)."""


def axial_conductance_mS(diameter_um: Float[ArrayLike, ""], R_i_ohm_cm: Float[ArrayLike, ""]) -> Float[Array, ""]:
    """The cable coefficient d / (4 R_i) in mS.

    d [µm] · 1e-4 [cm/µm] / (4 R_i [Ω·cm]) is in 1/Ω = S; × 1e3 gives mS. So d/(4 R_i) [mS]
    = d_µm / (40 R_i). With V in mV and x in cm, ∂²V/∂x² is in mV/cm², and
    mS · mV/cm² = µA/cm²: the membrane current density. Squid axon (476 µm, 35.4 Ω·cm): 0.336 mS.
    """
    return jnp.asarray(diameter_um) * CM_PER_UM / (4.0 * jnp.asarray(R_i_ohm_cm)) * MS_PER_S


class HHCable(AbstractCable):
    """Parameters: the membrane of `HodgkinHuxley` (C_m µF/cm², g_* mS/cm², E_* mV,
    temperature_C °C) plus diameter_um (µm), R_i_ohm_cm (Ω·cm), length_cm (cm),
    stim_extent_cm (cm) and the number of grid nodes nx (static)."""

    diameter_um: Float[ArrayLike, ""] = 476.0
    R_i_ohm_cm: Float[ArrayLike, ""] = 35.4
    length_cm: Float[ArrayLike, ""] = 6.0
    stim_extent_cm: Float[ArrayLike, ""] = 0.1
    C_m: Float[ArrayLike, ""] = SQUID.C_m
    g_Na: Float[ArrayLike, ""] = SQUID.g_Na
    g_K: Float[ArrayLike, ""] = SQUID.g_K
    g_L: Float[ArrayLike, ""] = SQUID.g_L
    E_Na: Float[ArrayLike, ""] = SQUID.E_Na
    E_K: Float[ArrayLike, ""] = SQUID.E_K
    E_L: Float[ArrayLike, ""] = SQUID.E_L
    temperature_C: Float[ArrayLike, ""] = 18.5
    nx: int = eqx.field(static=True, default=401)

    state_names: ClassVar[tuple[str, ...]] = ("V", "m", "h", "n")
    velocity_scale: ClassVar[float] = 10.0  # cm/ms -> m/s

    def membrane(self) -> HodgkinHuxley:
        """The point neuron at every node: the same parameters, no axial current."""
        return HodgkinHuxley(
            C_m=self.C_m, g_Na=self.g_Na, g_K=self.g_K, g_L=self.g_L, E_Na=self.E_Na,
            E_K=self.E_K, E_L=self.E_L, temperature_C=self.temperature_C,
        )

    def line_length(self):
        return self.length_cm

    def stimulated_extent(self):
        return self.stim_extent_cm

    def axial_current(self, V: Float[Array, " nx"]) -> Float[Array, " nx"]:
        """(d / (4 R_i)) ∂²V/∂x² in µA/cm² (zero flux through the sealed ends)."""
        return axial_conductance_mS(self.diameter_um, self.R_i_ohm_cm) * laplacian(V, self.spacing(), "neumann")

    def axial_term(self, V: Float[Array, " nx"]) -> Float[Array, " nx"]:
        return self.axial_current(V) / self.C_m

    def diffusion(self) -> Float[Array, ""]:
        """d / (4 R_i C_m) in cm²/ms."""
        return axial_conductance_mS(self.diameter_um, self.R_i_ohm_cm) / self.C_m
