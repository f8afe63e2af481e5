"""What every cable model shares: a point neuron at each node of a sealed 1-D line, coupled by
the diffusion of its first state (the membrane potential), a stimulus into one end.

    ∂y/∂t = f(y, i_ext · w(x)) + e₀ · (axial term of y₀),   x ∈ (0, length),   ∂y₀/∂x = 0 at both ends

f is the point neuron's vector field (`membrane()`); the axial term is the model's
(`axial_term`: (d / (4 R_i C_m)) V_xx for Hodgkin–Huxley, D v_xx for FitzHugh–Nagumo).

Method of lines: nx nodes x_i = i · length / (nx − 1), second-order central differences with
mirrored ghost nodes at the sealed ends. State layout: one block of nx nodes per state
([V (nx), m (nx), …]), so the stiff part of the IMEX split (the axial term, linear in V) has a
tridiagonal Jacobian. The stimulus flows into the first `extent` of the line: each node gets
i_ext(t) times the fraction of its control volume [x_i − Δx/2, x_i + Δx/2] ∩ [0, length] inside
[0, extent], so the injected charge does not depend on nx.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from neurocli.models.base import AbstractNeuronModel, AbstractPDEModel


def segment_weights(x: Float[Array, " nx"], extent: Float[ArrayLike, ""]) -> Float[Array, " nx"]:
    """Fraction of each node's control volume (clipped to the line) inside [0, extent]."""
    h = x[1] - x[0]
    lo = jnp.maximum(x - h / 2, x[0])
    hi = jnp.minimum(x + h / 2, x[-1])
    covered = jnp.clip(jnp.minimum(hi, extent) - lo, 0.0, None)
    return covered / (hi - lo)


class AbstractCable(AbstractPDEModel):
    """A cable: `nx` (static), the line's length and stimulated extent, the membrane at each node."""

    state_names: ClassVar[tuple[str, ...]]
    split_jacobian_block_size: ClassVar[int | None] = 1
    split_linear: ClassVar[bool] = True
    velocity_scale: ClassVar[float] = 1.0
    """Reported velocity per (length unit / time unit): 10 for cm/ms -> m/s, 1 when dimensionless."""

    @abc.abstractmethod
    def membrane(self) -> AbstractNeuronModel:
        """The point neuron at every node: the same parameters, no axial current."""

    @abc.abstractmethod
    def line_length(self) -> Float[ArrayLike, ""]:
        """The length of the line (cm, or dimensionless)."""

    @abc.abstractmethod
    def stimulated_extent(self) -> Float[ArrayLike, ""]:
        """The stimulus flows into [0, stimulated_extent()]."""

    @abc.abstractmethod
    def axial_term(self, V: Float[Array, " nx"]) -> Float[Array, " nx"]:
        """The coupling's contribution to ∂V/∂t at every node (sealed ends)."""

    @abc.abstractmethod
    def diffusion(self) -> Float[Array, ""]:
        """The coefficient c of ∂V/∂t = c ∂²V/∂x² + … (what `axial_term` discretises)."""

    def grid(self) -> Float[Array, " nx"]:
        return jnp.linspace(0.0, 1.0, self.nx) * self.line_length()

    def spacing(self) -> Float[Array, ""]:
        return self.line_length() / (self.nx - 1)

    def nodes(self, y: Float[Array, "... state"]) -> Float[Array, "... states nx"]:
        """The flat state as one row of nx nodes per state."""
        return y.reshape(y.shape[:-1] + (len(self.state_names), self.nx))

    def full_field(self, y):
        """V on every node (the first block of the state; sealed ends keep every node)."""
        return y[..., : self.nx]

    def stimulus_profile(self) -> Float[Array, " nx"]:
        return segment_weights(self.grid(), self.stimulated_extent())

    def membrane_field(self, t, y: Float[Array, " state"], i_ext) -> Float[Array, " state"]:
        """Every node's point-neuron vector field under its share of the stimulus i_ext(t)."""
        field = jax.vmap(self.membrane().vector_field, in_axes=(None, 1, 0), out_axes=0)(
            t, self.nodes(y), i_ext * self.stimulus_profile()
        )
        return field.T.reshape(-1)

    def split_vector_field(self, t, y, i_ext):
        """(membrane, gating and stimulus: non-stiff; the axial term: stiff and linear)."""
        V = y[: self.nx]
        rest = jnp.zeros((len(self.state_names) - 1) * self.nx, y.dtype)
        return self.membrane_field(t, y, i_ext), jnp.concatenate([self.axial_term(V), rest])

    def vector_field(self, t, y, i_ext):
        nonstiff, stiff = self.split_vector_field(t, y, i_ext)
        return nonstiff + stiff

    def initial_state(self):
        """The uniform resting state (an exact equilibrium of the sealed, unstimulated line)."""
        return jnp.repeat(self.membrane().initial_state(), self.nx)
