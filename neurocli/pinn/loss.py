"""The loss of one member: its terms (residual, and for soft conditions initial and boundary),
weighted. The residual term is the mean square, or causally weighted (weighting.py)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from neurocli.models.heaviside import RampHeaviside
from neurocli.pinn.members import PdeParams
from neurocli.pinn.residual import boundary_term, initial_term, residual
from neurocli.pinn.setup import Numerics
from neurocli.pinn.weighting import causal_residual


def _member(setup: Numerics, static, params, pde: PdeParams):
    """A member's model (its threshold a, steepness k and, for a ramp H_k, offset) and network."""
    model = eqx.tree_at(lambda m: (m.a, m.k), setup.model, (pde.a, pde.k))
    if pde.offset is not None and isinstance(model.heaviside, RampHeaviside):
        model = eqx.tree_at(lambda m: m.heaviside.offset, model, pde.offset)
    return model, eqx.combine(params, static)


def member_terms(setup: Numerics, static, params, pde: PdeParams, t, x):
    """The loss terms of one member on the points (t, x), in `setup.terms` order."""
    model, net = _member(setup, static, params, pde)
    r = residual(model, setup.ansatz, net, t, x, setup.derivatives, setup.band)
    if setup.weighting.kind == "causal":
        w = setup.weighting
        res = causal_residual(r * r, t, setup.T, w.chunks, w.epsilon)
    else:
        res = jnp.mean(r * r)
    terms = [res]
    if "initial" in setup.terms:
        terms.append(initial_term(model, setup.ansatz, net, x))
    if "boundary" in setup.terms:
        terms.append(boundary_term(setup.ansatz, net, t, setup.boundary))
    return jnp.stack(terms)


def weighted(setup, static, params, pde: PdeParams, t, x, weights):
    terms = member_terms(setup, static, params, pde, t, x)
    return jnp.dot(weights, terms), terms


def member_residual(setup: Numerics, static, params, pde: PdeParams):
    """(t, x) -> the member's PDE residual at those points."""
    model, net = _member(setup, static, params, pde)

    def fn(t, x):
        return residual(model, setup.ansatz, net, t, x, setup.derivatives, setup.band)

    return fn
