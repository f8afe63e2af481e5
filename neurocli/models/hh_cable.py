"""The Hodgkin–Huxley cable: the propagating action potential of the squid giant axon.

    C_m ∂V/∂t = (d / (4 R_i)) ∂²V/∂x² − I_ion(V, m, h, n) + I_stim(x, t),   x ∈ (0, length_cm)
    dx/dt = φ(T) (α_x(V) (1 − x) − β_x(V) x),   x ∈ {m, h, n}, at every point of the axon

with sealed (zero-flux) ends ∂V/∂x = 0. The membrane at each node is exactly the point model
`HodgkinHuxley` (same fields, same currents and gating); the cable adds the axial current.

Units: x in cm, t in ms, V in mV, currents µA/cm² of membrane, d in µm, R_i in Ω·cm.
The axial conductance d/(4 R_i) is converted to mS (see `axial_conductance_mS`), so that
(mS) · (mV/cm²) = µA/cm², the unit of every other term of the current balance.

Method of lines: nx nodes x_i = i · length_cm / (nx − 1), second-order central differences,
mirrored ghost nodes at the sealed ends (as `reaction_diffusion` with neumann ends).
State layout: [V (nx), m (nx), h (nx), n (nx)] — blocks, not node by node. The stiff part of the
IMEX split (the axial current) then has a tridiagonal Jacobian (`split_jacobian_block_size = 1`:
three Jacobian-vector products and LAPACK's gtsv per step) and is linear (`split_linear`: one
chord step per stage). Node by node (4×4 block-tridiagonal Jacobian) would also let fully
implicit solvers avoid a dense LU, but the block-Thomas solve was 47× slower than gtsv for the
IMEX stages (nx 401: 16.9 s against 0.36 s), and IMEX is what this model is solved with.

Stimulus: the config's `stimulus:` section gives the time course I(t) in µA/cm²; it is injected
into the membrane of the first `stim_extent_cm` of the axon (x ∈ [0, stim_extent_cm]). Each node
receives I(t) times the fraction of its control volume [x_i − Δx/2, x_i + Δx/2] ∩ [0, length]
that lies inside that segment, so the injected charge does not depend on nx.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models.base import AbstractPDEModel
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


def segment_weights(x: Float[Array, " nx"], extent: Float[ArrayLike, ""]) -> Float[Array, " nx"]:
    """Fraction of each node's control volume (clipped to the axon) inside [0, extent]."""
    h = x[1] - x[0]
    lo = jnp.maximum(x - h / 2, x[0])
    hi = jnp.minimum(x + h / 2, x[-1])
    covered = jnp.clip(jnp.minimum(hi, extent) - lo, 0.0, None)
    return covered / (hi - lo)


class HHCable(AbstractPDEModel):
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
    split_jacobian_block_size: ClassVar[int | None] = 1
    split_linear: ClassVar[bool] = True

    def membrane(self) -> HodgkinHuxley:
        """The point neuron at every node: the same parameters, no axial current."""
        return HodgkinHuxley(
            C_m=self.C_m, g_Na=self.g_Na, g_K=self.g_K, g_L=self.g_L, E_Na=self.E_Na,
            E_K=self.E_K, E_L=self.E_L, temperature_C=self.temperature_C,
        )

    def grid(self) -> Float[Array, " nx"]:
        return jnp.linspace(0.0, 1.0, self.nx) * self.length_cm

    def spacing(self) -> Float[Array, ""]:
        return self.length_cm / (self.nx - 1)

    def nodes(self, y: Float[Array, "... 4*nx"]) -> Float[Array, "... 4 nx"]:
        """The flat state as (V, m, h, n) rows of nx nodes each."""
        return y.reshape(y.shape[:-1] + (4, self.nx))

    def full_field(self, y):
        """V on every node (the first block of the state; sealed ends keep every node)."""
        return y[..., : self.nx]

    def stimulus_profile(self) -> Float[Array, " nx"]:
        return segment_weights(self.grid(), self.stim_extent_cm)

    def axial_current(self, V: Float[Array, " nx"]) -> Float[Array, " nx"]:
        """(d / (4 R_i)) ∂²V/∂x² in µA/cm² (zero flux through the sealed ends)."""
        return axial_conductance_mS(self.diameter_um, self.R_i_ohm_cm) * laplacian(V, self.spacing(), "neumann")

    def membrane_field(self, t, y: Float[Array, " state"], i_ext) -> Float[Array, " state"]:
        """Every node's `HodgkinHuxley` vector field under its share of the stimulus i_ext(t)."""
        field = jax.vmap(self.membrane().vector_field, in_axes=(None, 1, 0), out_axes=0)(
            t, self.nodes(y), i_ext * self.stimulus_profile()
        )
        return field.T.reshape(-1)

    def split_vector_field(self, t, y, i_ext):
        """(membrane currents, gating and stimulus: non-stiff; axial current: stiff and linear)."""
        V = y[: self.nx]
        diffusion = jnp.concatenate([self.axial_current(V) / self.C_m, jnp.zeros(3 * self.nx, y.dtype)])
        return self.membrane_field(t, y, i_ext), diffusion

    def vector_field(self, t, y, i_ext):
        nonstiff, stiff = self.split_vector_field(t, y, i_ext)
        return nonstiff + stiff

    def initial_state(self):
        """The uniform resting state (an exact equilibrium of the sealed, unstimulated axon)."""
        rest = self.membrane().initial_state()
        return jnp.repeat(rest, self.nx)
