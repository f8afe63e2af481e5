"""The UDE's training objective: solve the UDE on the data's time grid, weighted squared errors.

A solve that does not reach t1, or a non-finite sum, gives the loss +inf (never NaN): the training
loop rejects such steps. An optional curriculum fits a time window growing with the iteration.

Optional multiple shooting (for the first phases): the record is cut into segments of a few
samples, each integrated (all of them in one vmapped solve) from its *recorded* first state, as
DiffEqFlux's `multiple_shoot` does; the last segment is moved back to end on the last sample, and
the samples it shares with the one before are counted once. Every sample but the first is counted
once, so an exact model scores 0 in both objectives.
"""

from __future__ import annotations

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PyTree

from neurocli.config.common import SolverConfig
from neurocli.models.stimulus import AbstractStimulus
from neurocli.ude.model import AbstractUDE
from neurocli.numerics.solve import Problem, SolveSpec, solve_one

ADJOINTS = {
    "recursive_checkpoint": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
    "forward": diffrax.ForwardMode,  # Jacobians by forward mode (Levenberg–Marquardt phases)
}


def split_network(network) -> tuple[PyTree, PyTree]:
    """(trainable arrays, everything else) of a network."""
    return eqx.partition(network, eqx.is_inexact_array)


class ScheduledLoss(eqx.Module):
    """What every trajectory objective shares (one recorded trajectory: `TrajectoryLoss`; several
    sweeps of a recording: `ude/recording_fit.py MultiSweepLoss`): the curriculum's growing window,
    multiple shooting's segments, a phase's variant of the objective, and the loss as the sum of
    squared `residuals` (+inf where the solve failed). Subclasses declare the fields these read:
    ts, t0, t1, adjoint, curriculum, shooting."""

    @property
    def full_window_from(self) -> int:
        """The first iteration whose loss is the whole record's (earlier ones are not comparable)."""
        ends = [0] + [schedule[1] for schedule in (self.curriculum, self.shooting) if schedule is not None]
        return max(ends)

    def for_phase(self, first_iteration: int, forward_mode: bool = False) -> ScheduledLoss:
        """The objective of a phase starting at this iteration (multiple shooting ends at a phase
        boundary; a curriculum is a function of the iteration inside the objective), differentiated
        in forward mode if asked (a Jacobian of a few hundred parameters, for Levenberg–Marquardt)."""
        changes = {}
        if self.shooting is not None and first_iteration >= self.shooting[1]:
            changes["shooting"] = None
        if forward_mode:
            changes["adjoint"] = "forward"
        return dataclasses.replace(self, **changes) if changes else self

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample indices of each segment (S, L+1), which of them count (S, L+1))."""
        length, n = self.shooting[0], self.ts.shape[0]
        starts = np.minimum(np.arange(0, n - 1, length), n - 1 - length)
        index = starts[:, None] + np.arange(length + 1)[None, :]
        previous_end = np.concatenate([[0], starts[:-1] + length])
        return index, index > previous_end[:, None]

    def window_end(self, iteration: Int[Array, ""]) -> Float[Array, ""]:
        """The last time fitted at this iteration (the whole record without a curriculum)."""
        if self.curriculum is None:
            return jnp.asarray(self.t1)
        start_ms, iterations = self.curriculum
        frac = jnp.clip(iteration / iterations, 0.0, 1.0)
        return jnp.minimum(self.t0 + start_ms + frac * (self.t1 - self.t0 - start_ms), self.t1)

    def __call__(self, params, iteration: Int[Array, ""] | int = 0) -> tuple[Float[Array, ""], Int[Array, ""]]:
        resid, result = self.residuals(params, iteration)
        total = jnp.sum(resid**2)
        ok = (result == 0) & jnp.isfinite(total)
        return jnp.where(ok, total, jnp.inf), result


class TrajectoryLoss(ScheduledLoss):
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
    shooting: tuple[int, int] | None = eqx.field(static=True, default=None)  # (segment samples, iterations)

    def network(self, params):
        return eqx.combine(params, self.net_static)

    def model(self, params) -> AbstractUDE:
        return eqx.tree_at(lambda u: u.network, self.ude, self.network(params))

    def predict_segments(self, params, index: np.ndarray):
        """The UDE integrated over each segment from its recorded first state: (S, L+1, state)."""
        n = self.y0.shape[0]
        model = self.model(params)

        def one(y0, ts):
            problem = Problem(model, self.stimulus, y0, tuple(range(n)))
            spec = SolveSpec(self.solver, ts[0], ts[-1], ts, self.jump_ts)
            ys, _, _, result = solve_one(problem, spec, ADJOINTS[self.adjoint]())
            return ys, result

        ys, results = jax.vmap(one)(self.data[index[:, 0]], self.ts[index])
        return ys, jnp.max(jnp.abs(results))

    def predict(self, params):
        n = self.y0.shape[0]
        problem = Problem(self.model(params), self.stimulus, self.y0, tuple(range(n)))
        spec = SolveSpec(self.solver, self.t0, self.t1, self.ts, self.jump_ts)
        ys, _, _, result = solve_one(problem, spec, ADJOINTS[self.adjoint]())
        return ys, result

    def residuals(self, params, iteration: Int[Array, ""]) -> tuple[Float[Array, " n"], Int[Array, ""]]:
        """(r, solver result code) with Σ r² the loss: weighted, masked errors of every sample and state."""
        if self.shooting is not None:
            index, counted = self.segments()
            ys, result = self.predict_segments(params, index)
            inside, data = jnp.asarray(counted)[..., None], self.data[index]
        else:
            ys, result = self.predict(params)
            inside, data = (self.ts <= self.window_end(iteration))[:, None], self.data
        resid = jnp.where(inside, ys - data, 0.0) * jnp.sqrt(self.weights)
        if self.mean:
            resid = resid / jnp.sqrt(jnp.sum(inside) * jnp.sum(self.weights > 0))
        return resid.ravel(), result

