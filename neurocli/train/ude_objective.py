"""The UDE's training objective: solve the UDE on the data's time grid, weighted squared errors.

A solve that does not reach t1, or a non-finite sum, gives the loss +inf (never NaN): the training
loop rejects such steps. An optional curriculum fits a time window growing with the iteration.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from neurocli.config.common import SolverConfig
from neurocli.models.stimulus import AbstractStimulus
from neurocli.models.ude import AbstractUDE
from neurocli.solve import Problem, SolveSpec, solve_one

ADJOINTS = {
    "recursive_checkpoint": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
}


def split_network(network) -> tuple[PyTree, PyTree]:
    """(trainable arrays, everything else) of a network."""
    return eqx.partition(network, eqx.is_inexact_array)


class TrajectoryLoss(eqx.Module):
    """loss(params, iteration) -> (loss, solver result code) for one recorded trajectory."""

    ude: AbstractUDE  # its network's arrays are replaced by `params` at each call
    net_static: PyTree  # the network's non-array part (activations, settings)
    stimulus: AbstractStimulus
    y0: Float[Array, " state"]
    ts: Float[Array, " time"]
    data: Float[Array, "time state"]
    weights: Float[Array, " state"]
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    solver: SolverConfig = eqx.field(static=True)
    adjoint: str = eqx.field(static=True)
    jump_ts: tuple[float, ...] = eqx.field(static=True)
    mean: bool = eqx.field(static=True)
    curriculum: tuple[float, int] | None = eqx.field(static=True)  # (start_ms, iterations)

    def network(self, params):
        return eqx.combine(params, self.net_static)

    def model(self, params) -> AbstractUDE:
        return eqx.tree_at(lambda u: u.network, self.ude, self.network(params))

    @property
    def full_window_from(self) -> int:
        """The first iteration whose loss covers the whole record (earlier ones are not comparable)."""
        return 0 if self.curriculum is None else self.curriculum[1]

    def window_end(self, iteration: Int[Array, ""]) -> Float[Array, ""]:
        """The last time fitted at this iteration (the whole record without a curriculum)."""
        if self.curriculum is None:
            return jnp.asarray(self.t1)
        start_ms, iterations = self.curriculum
        frac = jnp.clip(iteration / iterations, 0.0, 1.0)
        return jnp.minimum(self.t0 + start_ms + frac * (self.t1 - self.t0 - start_ms), self.t1)

    def predict(self, params):
        n = self.y0.shape[0]
        problem = Problem(self.model(params), self.stimulus, self.y0, tuple(range(n)))
        spec = SolveSpec(self.solver, self.t0, self.t1, self.ts, self.jump_ts)
        ys, _, _, result = solve_one(problem, spec, ADJOINTS[self.adjoint]())
        return ys, result

    def __call__(self, params, iteration: Int[Array, ""]) -> tuple[Float[Array, ""], Int[Array, ""]]:
        ys, result = self.predict(params)
        inside = (self.ts <= self.window_end(iteration))[:, None]
        resid = jnp.where(inside, ys - self.data, 0.0)
        total = jnp.sum(self.weights * resid**2)
        if self.mean:
            total = total / (jnp.sum(inside) * jnp.sum(self.weights > 0))
        ok = (result == 0) & jnp.isfinite(total)
        return jnp.where(ok, total, jnp.inf), result
