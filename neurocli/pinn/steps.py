"""One training step for every member at once: `jax.vmap` of a member's step over the stacked
state. First-order phases (adam, adamw, sgd) draw a batch every step (fresh, from a fixed pool, or
partly from an adaptive pool); an L-BFGS phase works on one fixed set of points per member."""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from neurocli.config.optim import PhaseConfig
from neurocli.pinn import collocation
from neurocli.pinn.loss import member_residual, member_terms, weighted
from neurocli.pinn.setup import Numerics
from neurocli.pinn.weighting import balanced_weights
from neurocli.training.optim import Hyper, make_optimizer, structure

INIT, DATA, POOL, LBFGS = 0, 1, 2, 3  # sub-keys of a member key


class TrainState(eqx.Module):
    """Stacked over members (leading axis): parameters, optimiser state, pool, term weights."""

    params: PyTree
    opt_state: PyTree
    pool_t: Float[Array, "members pool"]
    pool_x: Float[Array, "members pool"]
    weights: Float[Array, "members terms"]


def _batch(setup: Numerics, key, pool):
    col = setup.collocation
    fresh = lambda k, n: collocation.uniform(k, n, setup.T, setup.length, col.time_power, setup.dtype)  # noqa: E731
    k_pool, k_fresh = jax.random.split(key)
    if col.kind == "fixed":
        return collocation.take(k_pool, pool, col.batch)
    if col.adaptive is None:
        return fresh(k_fresh, col.batch)
    n_pool = max(1, min(col.batch, round(col.adaptive.fraction * col.batch)))
    drawn = collocation.take(k_pool, pool, n_pool)
    return drawn if n_pool == col.batch else collocation.concat(drawn, fresh(k_fresh, col.batch - n_pool))


def _refresh_pool(setup: Numerics, static, params, pde, key, pool, step):
    """RAD: every `adaptive.every` steps (not at step 0), redraw the pool by residual."""
    col = setup.collocation
    ad = col.adaptive
    if ad is None:
        return pool

    def redraw(_):
        k_cand, k_pick = jax.random.split(key)
        cand = collocation.uniform(k_cand, ad.candidates, setup.T, setup.length, col.time_power, setup.dtype)
        return collocation.resample_by_residual(
            k_pick, member_residual(setup, static, params, pde), cand, col.points, ad.exponent
        )

    due = jnp.logical_and(step > 0, step % ad.every == 0)
    return jax.lax.cond(due, redraw, lambda _: pool, None)


def make_first_order_step(setup: Numerics, static, phase: PhaseConfig) -> Callable:
    """step(state, pde, keys, step, hyper(phase)) -> (state, losses (members, 1 + terms)) for adam /
    adamw / sgd; `pde`: every member's (a, k) (members.PdeParams, stacked). Traced from the phase's
    structure: its learning-rate numbers are the `Hyper` argument (neurocli.training.optim)."""
    phase = structure(phase)
    gradnorm = setup.weighting.kind == "gradnorm"
    alpha = setup.weighting.alpha

    def member(opt, params, opt_state, pool_t, pool_x, weights, pde, key, step):
        k_step = jax.random.fold_in(jax.random.fold_in(key, DATA), step)
        k_refresh, k_batch = jax.random.split(k_step)
        pool = _refresh_pool(setup, static, params, pde, k_refresh, (pool_t, pool_x), step)
        t, x = _batch(setup, k_batch, pool)
        if gradnorm:
            terms, vjp = jax.vjp(lambda p: member_terms(setup, static, p, pde, t, x), params)
            eye = jnp.eye(terms.shape[0], dtype=terms.dtype)
            grads = [vjp(eye[i])[0] for i in range(terms.shape[0])]
            weights = balanced_weights(grads, weights, alpha)
            grad = jax.tree_util.tree_map(lambda *g: sum(w * gi for w, gi in zip(weights, g)), *grads)
            total = jnp.dot(weights, terms)
        else:
            (total, terms), grad = jax.value_and_grad(
                lambda p: weighted(setup, static, p, pde, t, x, weights), has_aux=True
            )(params)
        updates, opt_state = opt.update(grad, opt_state, params)
        params = eqx.apply_updates(params, updates)
        return params, opt_state, pool[0], pool[1], weights, jnp.concatenate([total[None], terms])

    def step_fn(state: TrainState, pde, keys, step, h: Hyper):
        out = jax.vmap(functools.partial(member, make_optimizer(phase, h)), in_axes=(0, 0, 0, 0, 0, 0, 0, None))(
            state.params, state.opt_state, state.pool_t, state.pool_x, state.weights, pde, keys, step
        )
        return TrainState(*out[:5]), out[5]

    return step_fn


def make_lbfgs_step(setup: Numerics, static, opt) -> Callable:
    """step(state, pde, points_t, points_x) -> (state, losses) for L-BFGS on fixed points per member."""

    def member(params, opt_state, weights, pde, t, x):
        value_fn = lambda p: weighted(setup, static, p, pde, t, x, weights)[0]  # noqa: E731
        (total, terms), grad = jax.value_and_grad(
            lambda p: weighted(setup, static, p, pde, t, x, weights), has_aux=True
        )(params)
        updates, opt_state = opt.update(grad, opt_state, params, value=total, grad=grad, value_fn=value_fn)
        params = eqx.apply_updates(params, updates)
        return params, opt_state, jnp.concatenate([total[None], terms])

    def step_fn(state: TrainState, pde, points_t, points_x):
        params, opt_state, losses = jax.vmap(member)(state.params, state.opt_state, state.weights, pde, points_t, points_x)
        return TrainState(params, opt_state, state.pool_t, state.pool_x, state.weights), losses

    return step_fn
