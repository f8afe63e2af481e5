"""What every model offers the solver: named states, a vector field, a resting initial state."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float


class AbstractModel(eqx.Module):
    """A system of ODEs dy/dt = f(t, y, i_ext) on a flat state vector."""

    # s when the Jacobian is block tridiagonal with s×s blocks (state ordered node by node):
    # implicit solvers then use neurocli.numerics.block_tridiagonal instead of a dense LU
    jacobian_block_size: ClassVar[int | None] = None

    @abc.abstractmethod
    def vector_field(
        self, t: Float[ArrayLike, ""], y: Float[Array, " state"], i_ext: Float[ArrayLike, ""]
    ) -> Float[Array, " state"]:
        """dy/dt; i_ext is the injected current at time t (0 for models without a stimulus)."""

    @abc.abstractmethod
    def initial_state(self) -> Float[Array, " state"]:
        """The default initial state (the resting state for neuron models)."""


class AbstractNeuronModel(AbstractModel):
    """A point neuron: V (mV or dimensionless) is state 0."""

    state_names: ClassVar[tuple[str, ...]]
    voltage_unit: ClassVar[str] = "mV"
    time_unit: ClassVar[str] = "ms"
    current_unit: ClassVar[str] = "µA/cm²"


class AbstractPDEModel(AbstractModel):
    """A method-of-lines discretisation of u_t = ... on a 1-D grid."""

    # IMEX solvers see only the stiff part of split_vector_field. Its Jacobian's block size when
    # that differs from the full Jacobian's (None: use jacobian_block_size), and whether it is
    # affine in y (e.g. diffusion): then one chord step solves each stage (implicit_stages.py)
    split_jacobian_block_size: ClassVar[int | None] = None
    split_linear: ClassVar[bool] = False

    @abc.abstractmethod
    def grid(self) -> Float[Array, " nx"]:
        """The node positions, boundaries included."""

    @abc.abstractmethod
    def full_field(self, y: Float[Array, "... state"]) -> Float[Array, "... nx"]:
        """The field on every node of `grid()` from the solver state (adds boundary values)."""

    @abc.abstractmethod
    def split_vector_field(self, t, y, i_ext) -> tuple[Float[Array, " state"], Float[Array, " state"]]:
        """(non-stiff, stiff) parts of the vector field, for IMEX solvers."""
