"""The PDE residual and the condition terms, with every physical constant taken from the model.

    r = u_t − u_xx + u − H_k(u − a),     model: neurocli.models.ReactionDiffusion (a, k, H_k, length, φ)

u = b + w (ansatz.py): the linear operator L[u] = u_t − u_xx + u is L[w] by autodiff plus L[b] in
closed form, so the stiff known part never goes through the network's derivatives.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurocli.models.reaction_diffusion import ReactionDiffusion
from neurocli.pinn.ansatz import Ansatz
from neurocli.pinn.derivatives import value_and_derivatives, value_and_slope
from neurocli.pinn.networks import PinnNetwork

Batch = Float[Array, " batch"]


def reaction(model: ReactionDiffusion, u: Batch) -> Batch:
    """The nonlinear source H_k(u − a) (the model's regularisation: the paper's ramp by default)."""
    return model.heaviside(u - model.a, model.k)


def inclusion_target(model: ReactionDiffusion, u: Batch, linear: Batch, band: float) -> Batch:
    """The point of the set H(u − a) nearest to L[u] = u_t − u_xx + u: 0 below a − band, 1 above
    a + band, L[u] clipped to [0, 1] within the band (where H is the whole interval)."""
    s = u - model.a
    return jnp.where(s > band, 1.0, jnp.where(s < -band, 0.0, jnp.clip(linear, 0.0, 1.0))).astype(linear.dtype)


def residual(model: ReactionDiffusion, ansatz: Ansatz, net: PinnNetwork, t: Batch, x: Batch, mode: str,
             scale=None, band: float | None = None) -> Batch:
    """r at every point of the batch; `mode` is how derivatives are taken (derivatives.py).
    `scale`: t is the member's clock s and its time is scale · s (a swept pde.T), so u_t = u_s / scale.
    `band` (pde.residual: inclusion): r is L[u] less the nearest point of H(u − a) (`inclusion_target`),
    its distance to the set; H_k is not used."""
    w, w_t, w_xx = value_and_derivatives(lambda tt, xx: ansatz.learned(net, tt, xx), t, x, mode)
    if scale is None:
        b = jax.vmap(ansatz.base)(t, x)
        linear = (w_t - w_xx + w) + jax.vmap(ansatz.base_operator)(t, x)
    else:
        b = jax.vmap(lambda s, xx: ansatz.base(scale * s, xx))(t, x)
        linear = (w_t / scale - w_xx + w) + jax.vmap(lambda s, xx: ansatz.base_operator(scale * s, xx))(t, x)
    if band is not None:
        return linear - inclusion_target(model, b + w, linear, band)
    return linear - reaction(model, b + w)


def initial_term(model: ReactionDiffusion, ansatz: Ansatz, net: PinnNetwork, x: Batch) -> Float[Array, ""]:
    """mean (u(0, x) − φ(x))² (soft conditions)."""
    u0 = jax.vmap(lambda xx: ansatz(net, jnp.zeros_like(xx), xx))(x)
    return jnp.mean((u0 - model.initial(x)) ** 2)


def boundary_term(ansatz: Ansatz, net: PinnNetwork, t: Batch, boundary: str, scale=None) -> Float[Array, ""]:
    """dirichlet: mean u² at both ends; neumann: mean u_x² at both ends (soft conditions)."""
    f = lambda tt, xx: ansatz(net, tt, xx, scale)  # noqa: E731
    ends = (jnp.zeros_like(t), jnp.full_like(t, ansatz.length))
    if boundary == "dirichlet":
        return sum(jnp.mean(jax.vmap(f)(t, e) ** 2) for e in ends) / 2
    if boundary == "neumann":
        return sum(jnp.mean(value_and_slope(f, t, e)[1] ** 2) for e in ends) / 2
    return jnp.zeros((), t.dtype)
