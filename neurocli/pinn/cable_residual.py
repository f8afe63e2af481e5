"""The PINN of a cable model (FitzHugh–Nagumo or Hodgkin–Huxley): every state y_i(t, x) of the
line, the membrane potential diffusing, the point neuron's equations at every x.

    ∂y/∂t = e₀ D ∂²y₀/∂x² + f(t, y, I(t) · 1[x ≤ extent]),   ∂y/∂x = 0 at x = 0 and x = L

f is simulate's point-neuron vector field (`AbstractCable.membrane()`), D its `diffusion()`,
I(t) the config's stimulus: the same model, parameters and units as `simulate`'s cable.

Time marching: the run's [0, T] is cut into windows of Δ = T / windows. In window w,

    y(t, x) = b(x) + ((t − t_w) / Δ) · s ⊙ N(t − t_w, ξ(x))

b is the state at t_w (the resting line for the first window; then the previous window's end
state as a cosine series, cosine_series.py), s the fields' scales (the network works on O(1)
numbers), ξ(x) = flat_ends(x) so ∂y/∂x = 0 at both ends: initial and boundary conditions hold
exactly and the loss is the residual alone, each field's scaled by Δ / s_i.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurocli.models.cable import AbstractCable
from neurocli.models.stimulus import AbstractStimulus
from neurocli.pinn.ansatz import flat_ends
from neurocli.pinn.cosine_series import CosineSeries
from neurocli.pinn.networks import PinnNetwork


class CableFields(eqx.Module):
    """What the residual needs of the problem: the model (its membrane and D), the stimulus, the
    fields' scales, the window length, the line's length and stimulated extent."""

    model: AbstractCable
    stimulus: AbstractStimulus
    scales: Float[Array, " fields"]
    window: float = eqx.field(static=True)
    length: float = eqx.field(static=True)
    extent: float = eqx.field(static=True)

    def state(self, net: PinnNetwork, base: CosineSeries, start, t, x) -> Float[Array, " fields"]:
        """y(t, x) in window [start, start + window]."""
        s = t - start
        return base(x) + (s / self.window) * self.scales * net(s, flat_ends(x, self.length))

    def residual(self, net: PinnNetwork, base: CosineSeries, start, t, x) -> Float[Array, " fields"]:
        """(∂y/∂t − e₀ D ∂²y₀/∂x² − f) · Δ / s at one point."""
        y, y_t = jax.jvp(lambda tt: self.state(net, base, start, tt, x), (t,), (jnp.ones_like(t),))

        def learned_v(xx):
            s = t - start
            return (s / self.window) * self.scales[0] * net(s, flat_ends(xx, self.length))[0]

        v_xx = jax.jvp(lambda xx: jax.jvp(learned_v, (xx,), (jnp.ones_like(xx),))[1], (x,), (jnp.ones_like(x),))[1]
        v_xx = v_xx + base.second_derivative(x)[0]
        current = self.stimulus(t) * (x <= self.extent).astype(t.dtype)
        f = self.model.membrane().vector_field(t, y, current)
        diffusion = jnp.zeros_like(y).at[0].set(self.model.diffusion() * v_xx)
        return (y_t - diffusion - f) * (self.window / self.scales)


def mean_square(fields: CableFields, net: PinnNetwork, base: CosineSeries, start, t: Array, x: Array) -> Array:
    """Per field: the mean squared scaled residual over the points (fields,)."""
    r = jax.vmap(lambda tt, xx: fields.residual(net, base, start, tt, xx))(t, x)
    return jnp.mean(r * r, axis=0)
