"""FitzHugh–Nagumo: a dimensionless two-variable caricature of excitability."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import ArrayLike, Float

from neurocli.models.base import AbstractNeuronModel
from neurocli.models.rest import newton_root


class FitzHughNagumo(AbstractNeuronModel):
    """dv/dt = v − v³/3 − w + I + I_ext(t);  dw/dt = (v + a − b w) / tau."""

    a: Float[ArrayLike, ""] = 0.7
    b: Float[ArrayLike, ""] = 0.8
    tau: Float[ArrayLike, ""] = 12.5
    I: Float[ArrayLike, ""] = 0.0

    state_names: ClassVar[tuple[str, ...]] = ("v", "w")
    voltage_unit: ClassVar[str] = "dimensionless"
    time_unit: ClassVar[str] = "dimensionless"
    current_unit: ClassVar[str] = "dimensionless"

    def vector_field(self, t, y, i_ext):
        v, w = y[0], y[1]
        dv = v - v**3 / 3.0 - w + self.I + i_ext
        dw = (v + self.a - self.b * w) / self.tau
        return jnp.stack([dv, dw])

    def initial_state(self):
        # fixed point: w = (v + a) / b on the cubic nullcline
        v = newton_root(lambda v: v - v**3 / 3.0 - (v + self.a) / self.b + self.I, -1.2)
        return jnp.stack([v, (v + self.a) / self.b])
