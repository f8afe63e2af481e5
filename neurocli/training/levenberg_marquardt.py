"""Levenberg–Marquardt for a least-squares objective: a UDE phase for small networks.

A trajectory fit is a nonlinear least-squares problem with few parameters (about 100) and about a
thousand residuals, where first-order methods crawl through narrow valleys: on the seed's problem,
2000 L-BFGS iterations stall between 5e-5 and 2e-3 depending on round-off. Gauss–Newton curvature
(JᵀJ) gets there in a few hundred iterations.

One iteration, all in one jitted call: the residuals r and their Jacobian J at the current
parameters (forward mode through the solve, one tangent per parameter), then a damped
Gauss–Newton step δ = −(JᵀJ + λ D)⁻¹ Jᵀr with Marquardt's scaling D = diag(JᵀJ). The step is kept
if the loss Σr² goes down (λ then shrinks ×1/3); otherwise λ grows ×4 and the step is tried again,
up to `MAX_TRIES` times, like a line search. The iteration never raises the loss.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PyTree

MAX_TRIES = 12
SHRINK, GROW = 1.0 / 3.0, 4.0
MIN_DAMPING, MAX_DAMPING = 1e-12, 1e12


class LMState(eqx.Module):
    damping: Float[Array, ""]  # λ


class LevenbergMarquardt(eqx.Module):
    """`init(params)` like an optax optimiser; `iterate` does one LM iteration."""

    initial_damping: float

    def init(self, params: PyTree) -> LMState:
        return LMState(jnp.asarray(self.initial_damping, dtype=float))

    def iterate(self, residuals: Callable[[PyTree], Float[Array, " n"]], params: PyTree, state: LMState):
        """(new params, new state, loss at params, gradient norm of the loss at params)."""
        flat, unravel = ravel_pytree(params)

        def res(x):
            return residuals(unravel(x))

        # forward mode, one tangent per parameter (the primal comes with each; all lanes agree)
        rs, jac = jax.vmap(lambda v: jax.jvp(res, (flat,), (v,)), out_axes=(0, 1))(jnp.eye(flat.size, dtype=flat.dtype))
        r = rs[0]
        loss = jnp.sum(r**2)
        hess, grad = jac.T @ jac, jac.T @ r  # half the loss's Hessian (Gauss–Newton) and gradient
        scale = jnp.full_like(flat, jnp.mean(jnp.diag(hess)) + jnp.finfo(flat.dtype).tiny)

        def trial(lam):
            step = jnp.linalg.solve(hess + lam * jnp.diag(scale), -grad)
            candidate = flat + step
            value = jnp.sum(res(candidate) ** 2)
            return candidate, jnp.where(jnp.isfinite(value), value, jnp.inf)

        def keep_trying(carry):
            lam, _, value, tries = carry
            return (value >= loss) & (tries < MAX_TRIES)

        def again(carry):
            lam, _, _, tries = carry
            lam = jnp.minimum(lam * GROW, MAX_DAMPING)
            candidate, value = trial(lam)
            return lam, candidate, value, tries + 1

        lam0 = state.damping
        candidate, value = trial(lam0)
        lam, candidate, value, _ = jax.lax.while_loop(keep_trying, again, (lam0, candidate, value, 1))
        better = value < loss
        new_flat = jnp.where(better, candidate, flat)
        new_lam = jnp.where(better, jnp.maximum(lam * SHRINK, MIN_DAMPING), jnp.minimum(lam * GROW, MAX_DAMPING))
        return unravel(new_flat), LMState(new_lam), loss, 2.0 * jnp.linalg.norm(grad)
