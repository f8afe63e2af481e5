"""The FitzHugh–Nagumo cable: a dimensionless propagating pulse (FitzHugh 1961; Nagumo et al. 1962).

    ∂v/∂t = D ∂²v/∂x² + v − v³/3 − w + I + i_ext(t) · 1[x ≤ stim_extent],   ∂w/∂t = (v + a − b w) / tau

on x ∈ (0, length) with sealed ends (∂v/∂x = 0). The point model at every node is exactly
`FitzHughNagumo` (same fields); the cable adds D v_xx (neurocli/models/cable.py has the grid, the
state layout [v (nx), w (nx)] and the stimulus spreading). The speed of the pulse scales as √D:
x → x / √D maps one D onto another.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float

from neurocli.models.cable import AbstractCable
from neurocli.models.fitzhugh_nagumo import FitzHughNagumo
from neurocli.models.reaction_diffusion import laplacian


class FitzHughNagumoCable(AbstractCable):
    a: Float[ArrayLike, ""] = 0.7
    b: Float[ArrayLike, ""] = 0.8
    tau: Float[ArrayLike, ""] = 12.5
    I: Float[ArrayLike, ""] = 0.0
    D: Float[ArrayLike, ""] = 1.0
    length: Float[ArrayLike, ""] = 60.0
    stim_extent: Float[ArrayLike, ""] = 2.0
    nx: int = eqx.field(static=True, default=601)

    state_names: ClassVar[tuple[str, ...]] = ("v", "w")

    def membrane(self) -> FitzHughNagumo:
        return FitzHughNagumo(a=self.a, b=self.b, tau=self.tau, I=self.I)

    def line_length(self):
        return self.length

    def stimulated_extent(self):
        return self.stim_extent

    def axial_term(self, V: Float[Array, " nx"]) -> Float[Array, " nx"]:
        return self.D * laplacian(V, self.spacing(), "neumann")

    def diffusion(self) -> Float[Array, ""]:
        return self.D
