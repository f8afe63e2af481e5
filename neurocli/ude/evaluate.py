"""How good is a trained UDE: its fit to the data, its learned current against the true one, and a
held-out protocol.

- fit: the UDE solved on the data's time grid (the training solve), against the data (and the
  clean trajectory for simulated data), as sums of squared errors over all states and samples.
- current: the network against the known model's version of the replaced current, at the inputs
  the data visit: on a uniform grid over the recorded voltage range when the network sees V only,
  else at the recorded states themselves. RMSE and max error in µA/cm².
- validation: the UDE and the true model under `validation.stimulus` from the same initial state,
  same time grid, tight tolerance; the sum of squared errors over all states and samples.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.common import SolverConfig
from neurocli.models.hh_membrane import AbstractHHMembrane
from neurocli.models.stimulus import AbstractStimulus
from neurocli.ude.model import AbstractUDE, TrueCurrent
from neurocli.numerics.program_cache import cached_jit
from neurocli.numerics.solve import Problem, SolveFailed, SolveSpec, result_message, run_solve, solve_one
from neurocli.ude.data import Recording
from neurocli.ude.sweep import member

GRID_POINTS = 401


@dataclasses.dataclass
class CurrentComparison:
    inputs: np.ndarray  # (n, k): the network inputs compared at
    voltage: np.ndarray  # (n,) mV, sorted ascending
    learned: np.ndarray  # (n,) µA/cm²
    true: np.ndarray  # (n,) µA/cm²
    along: str  # "voltage grid" or "recorded states"

    @property
    def error(self) -> np.ndarray:
        return self.learned - self.true

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean(self.error**2)))

    @property
    def max_err(self) -> float:
        return float(np.max(np.abs(self.error)))


@dataclasses.dataclass
class Trajectories:
    t: np.ndarray  # (nt,)
    reference: np.ndarray  # (nt, state): data (fit) or the true model (validation)
    ude: np.ndarray  # (nt, state); NaN where the solve failed
    i_ext: np.ndarray  # (nt,)
    failed: str | None = None  # why the UDE solve failed, if it did

    @property
    def sse(self) -> float:
        return float(np.sum((self.ude - self.reference) ** 2)) if self.failed is None else float("inf")


def compare_current(ude: AbstractUDE, recording: Recording) -> CurrentComparison:
    states = recording.reference
    index = list(ude.input_index)
    if index == [0]:
        v = np.linspace(states[:, 0].min(), states[:, 0].max(), GRID_POINTS)
        inputs, along = v[:, None], "voltage grid"
    else:
        order = np.argsort(states[:, 0], kind="stable")
        inputs, along = states[order][:, index], "recorded states"
        v = states[order, 0]
    learned, true = _currents(ude, jnp.asarray(inputs))
    return CurrentComparison(inputs, v, np.asarray(learned), np.asarray(true), along)


@cached_jit
def _currents(ude: AbstractUDE, x):
    """The network's and the known model's current at the points x: one program."""
    return jax.vmap(ude.network)(x), jax.vmap(TrueCurrent(ude))(x)


def _spec(stimulus: AbstractStimulus, t: np.ndarray, solver: SolverConfig, declare_edges: bool) -> SolveSpec:
    """A solve over the grid t, the stimulus's edges declared to the controller unless told not to."""
    jumps = tuple(stimulus.jump_times()) if declare_edges else ()
    return SolveSpec(solver, float(t[0]), float(t[-1]), np.asarray(t), jumps)


def solve_on(model, stimulus: AbstractStimulus, y0: np.ndarray, t: np.ndarray, solver: SolverConfig,
             declare_edges: bool = True) -> tuple[np.ndarray, str | None]:
    """The model's trajectory from y0 on the grid t; (NaN, reason) if the solve fails."""
    problem = Problem(model, stimulus, jnp.asarray(y0), tuple(range(len(y0))))
    try:
        return run_solve(problem, _spec(stimulus, t, solver, declare_edges)).ys, None
    except SolveFailed as exc:
        return np.full((len(t), len(y0)), np.nan), str(exc)


def solve_members(model_of, params, stimulus: AbstractStimulus, y0: np.ndarray, t: np.ndarray,
                  solver: SolverConfig, declare_edges: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """`solve_on` for every member at once: member i's model is `model_of(params_i)` (`params`
    stacked on axis 0) and starts from y0[i]; one jitted, vmapped solve. Returns ys (members, nt,
    state), NaN for a member whose solve failed, and per member None or why it failed."""
    spec = _spec(stimulus, t, solver, declare_edges)
    states = tuple(range(np.shape(y0)[1]))

    def one(p, start):
        return solve_one(Problem(model_of(p), stimulus, start, states), spec)

    ys, _, _, result = jax.jit(jax.vmap(one))(params, jnp.asarray(y0))
    ys, result = np.array(ys), np.asarray(result)
    failed: list[str | None] = []
    for i, code in enumerate(result.tolist()):  # the report, per member; the solve was one
        why = f"solve failed: {result_message(code)}" if code else (None if np.isfinite(ys[i]).all() else "solve failed: values not finite")
        if why is not None:
            ys[i] = np.nan
        failed.append(why)
    return ys, failed


def compare_members(model_of, params, recording: Recording) -> list[CurrentComparison]:
    """`compare_current` for every member (`params` stacked on axis 0), on the points of
    `recording` (the same for all); one vmapped evaluation of the networks."""
    first = model_of(member(params, 0))
    one = compare_current(first, recording)
    x = jnp.asarray(one.inputs)
    learned = np.asarray(jax.jit(jax.vmap(lambda p: jax.vmap(model_of(p).network)(x)))(params))
    return [dataclasses.replace(one, learned=row) for row in learned]


def currents_of(stimulus: AbstractStimulus, t: np.ndarray) -> np.ndarray:
    return np.asarray(jax.vmap(stimulus)(jnp.asarray(t)))


def fit(ude: AbstractUDE, stimulus: AbstractStimulus, recording: Recording, solver: SolverConfig,
        declare_edges: bool) -> Trajectories:
    ys, failed = solve_on(ude, stimulus, recording.y0, recording.t, solver, declare_edges)
    return Trajectories(recording.t, recording.y, ys, currents_of(stimulus, recording.t), failed)


def validate(ude: AbstractUDE, truth: AbstractHHMembrane, stimulus: AbstractStimulus, recording: Recording,
             solver: SolverConfig) -> Trajectories:
    true, why = solve_on(truth, stimulus, recording.y0, recording.t, solver)
    if why is not None:
        raise SolveFailed(f"the true model under the validation stimulus: {why}")
    ys, failed = solve_on(ude, stimulus, recording.y0, recording.t, solver)
    return Trajectories(recording.t, true, ys, currents_of(stimulus, recording.t), failed)
