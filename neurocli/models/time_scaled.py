"""A PDE model on a member's own clock: the solve runs in s ∈ [0, reference] while the model's time
is t = s · horizon / reference, so u_s = (horizon / reference) · f(u).

train-pinn sweeps over the final time pde.T this way: every member trains and is checked on one
grid in s (its own t grid, linspace(0, T_i, nt), in the member's units), and the reference solve
of every member is one vmapped solve to s = reference, whatever its T_i.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
from jaxtyping import ArrayLike, Float

from neurocli.models.base import AbstractPDEModel
from neurocli.models.reaction_diffusion import ReactionDiffusion


class TimeScaled(AbstractPDEModel):
    inner: ReactionDiffusion
    horizon: Float[ArrayLike, ""]  # the member's final time T_i (swept)
    reference: float = eqx.field(static=True)  # the clock's final time s = reference ↔ t = T_i

    jacobian_block_size: ClassVar[int | None] = ReactionDiffusion.jacobian_block_size
    split_jacobian_block_size: ClassVar[int | None] = ReactionDiffusion.split_jacobian_block_size
    split_linear: ClassVar[bool] = ReactionDiffusion.split_linear

    def scale(self):
        return self.horizon / self.reference

    def grid(self):
        return self.inner.grid()

    def spacing(self):
        return self.inner.spacing()

    def full_field(self, y):
        return self.inner.full_field(y)

    def initial_state(self):
        return self.inner.initial_state()

    def split_vector_field(self, t, y, i_ext):
        explicit, stiff = self.inner.split_vector_field(t * self.scale(), y, i_ext)
        return self.scale() * explicit, self.scale() * stiff

    def vector_field(self, t, y, i_ext):
        return self.scale() * self.inner.vector_field(t * self.scale(), y, i_ext)
