"""The loss of one member: its terms (residual, and for soft conditions initial and boundary),
weighted. The residual term is the mean square, or causally weighted (weighting.py)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurocli.members.binding import set_values
from neurocli.pinn.residual import boundary_term, initial_term, residual
from neurocli.pinn.setup import Numerics
from neurocli.pinn.weighting import causal_residual


PdeParams = Float[Array, " parameters"]
"""A member's constants: its value of each bound parameter (pinn/members.py `constants`)."""


def _member(setup: Numerics, static, params, pde: PdeParams):
    """A member's model (its constants set where the binding puts them), network, and clock scale
    (T_i / pde.T when pde.T is swept, else None: no scaling at all)."""
    scale = None if setup.clock is None else pde[setup.clock] / setup.T
    return set_values(setup.model, setup.targets, pde), eqx.combine(params, static), scale


def member_terms(setup: Numerics, static, params, pde: PdeParams, t, x):
    """The loss terms of one member on the points (t, x), in `setup.terms` order."""
    model, net, scale = _member(setup, static, params, pde)
    r = residual(model, setup.ansatz, net, t, x, setup.derivatives, scale, setup.band)
    if setup.weighting.kind == "causal":
        w = setup.weighting
        res = causal_residual(r * r, t, setup.T, w.chunks, w.epsilon)
    else:
        res = jnp.mean(r * r)
    terms = [res]
    if "initial" in setup.terms:
        terms.append(initial_term(model, setup.ansatz, net, x))
    if "boundary" in setup.terms:
        terms.append(boundary_term(setup.ansatz, net, t, setup.boundary, scale))
    return jnp.stack(terms)


def weighted(setup, static, params, pde: PdeParams, t, x, weights):
    terms = member_terms(setup, static, params, pde, t, x)
    return jnp.dot(weights, terms), terms


def member_residual(setup: Numerics, static, params, pde: PdeParams):
    """(t, x) -> the member's PDE residual at those points."""
    model, net, scale = _member(setup, static, params, pde)

    def fn(t, x):
        return residual(model, setup.ansatz, net, t, x, setup.derivatives, scale, setup.band)

    return fn
