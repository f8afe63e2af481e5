"""The recovered current, and its coefficients refitted through the ODE solve on the training data.

`RecoveredCurrent` stands where the network stood in the UDE (`neurocli.ude.model`): the chosen
library terms times coefficients. Its trainable arrays are `weights`, the coefficients in units of
their regression values (w = c / |c₀|, so every parameter starts at ±1), which keeps the
Gauss–Newton system well scaled.

The refit minimises the train-ude run's own objective (`neurocli.ude.objective.TrajectoryLoss`:
its data, weights, solver and stimulus; the whole record, no shooting or curriculum) by
Levenberg–Marquardt (`neurocli.training.levenberg_marquardt`), one jitted iteration, until the
loss stops falling. The coefficients' standard errors are the Gauss–Newton ones,
σ² (JᵀJ)⁻¹ with σ² = SSE / (residuals − parameters), J the residuals' Jacobian at the optimum.
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurocli.discover.library import Library
from neurocli.training.levenberg_marquardt import LevenbergMarquardt
from neurocli.ude.objective import TrajectoryLoss


class RecoveredCurrent(eqx.Module):
    """x -> Σ_j c_j φ_j(x), c = weights · unit (the library's columns φ)."""

    library: Library
    weights: Float[Array, " columns"]  # trained
    unit: Float[Array, " columns"]  # fixed (an array, not static: another member's values reuse the compiled solve)

    def __init__(self, library: Library, coefficients):
        coefficients = np.asarray(coefficients, float)
        unit = np.where(np.abs(coefficients) > 0, np.abs(coefficients), 1.0)
        self.library = library
        self.unit = jnp.asarray(unit)
        self.weights = jnp.asarray(coefficients / unit)

    @property
    def coefficients(self) -> np.ndarray:
        return np.asarray(self.weights) * np.asarray(self.unit)

    def __call__(self, x: Float[Array, " k"]) -> Float[Array, ""]:
        return self.library.features(x) @ (self.weights * self.unit)


@dataclasses.dataclass(frozen=True)
class Refit:
    current: RecoveredCurrent
    covariance: np.ndarray  # (s, s) of the coefficients
    loss_before: float  # SSE of the regression's coefficients
    loss: float  # after the refit
    iterations: int
    seconds: float


def objective_for(loss: TrajectoryLoss, current: RecoveredCurrent) -> tuple[TrajectoryLoss, object]:
    """(the trajectory loss with `current` in the UDE, whole record, forward-mode; its params)."""
    trained = eqx.tree_at(lambda c: c.weights, jax.tree.map(lambda _: False, current), True)
    params, static = eqx.partition(current, trained)
    ude = eqx.tree_at(lambda u: u.network, loss.ude, current)
    return dataclasses.replace(loss, ude=ude, net_static=static, shooting=None, curriculum=None,
                               adjoint="forward"), params


@eqx.filter_jit
def _iterate(lm: LevenbergMarquardt, loss: TrajectoryLoss, params, state):
    return lm.iterate(lambda p: loss.residuals(p, jnp.zeros((), jnp.int32))[0], params, state)


@eqx.filter_jit
def _jacobian(loss: TrajectoryLoss, params):
    def res(w):
        return loss.residuals(eqx.tree_at(lambda p: p.weights, params, w), jnp.zeros((), jnp.int32))[0]

    r = res(params.weights)
    return r, jax.jacfwd(res)(params.weights)


def refit(loss: TrajectoryLoss, current: RecoveredCurrent, iterations: int, tolerance: float,
          damping: float) -> Refit:
    """Levenberg–Marquardt on the coefficients from the regression's values (module doc)."""
    started = time.perf_counter()
    objective, params = objective_for(loss, current)
    lm = LevenbergMarquardt(damping)
    state = lm.init(params)
    first = last = None
    done = 0
    for done in range(1, iterations + 1):
        new, state, value, _ = _iterate(lm, objective, params, state)
        value = float(value)
        first = value if first is None else first
        if not np.isfinite(value):
            break
        stalled = last is not None and last - value <= tolerance * max(last, 1e-300)
        params, last = new, value
        if stalled or value == 0.0:
            break
    fitted = eqx.combine(params, objective.net_static)
    r, jac = _jacobian(objective, params)
    r, jac = np.asarray(r), np.asarray(jac)
    sse = float(np.sum(r**2))
    dof = max(r.size - jac.shape[1], 1)
    unit = np.asarray(fitted.unit)
    cov_w = sse / dof * np.linalg.pinv(jac.T @ jac)
    return Refit(fitted, cov_w * np.outer(unit, unit), float(first if first is not None else np.inf), sse, done,
                 time.perf_counter() - started)
