"""The UDE's part of training: its state, its step per phase, what a step's numbers mean.

One `eqx.filter_jit` per phase wraps a whole step: the solve, its gradient and the optimiser
update. A step whose solve fails or whose loss or gradient is not finite is *rejected*: training
returns to the last parameters (and optimiser state) whose solve succeeded and retries from there
with the update halved, down to 1/1024 of it (for Adam-type phases; L-BFGS has its own line
search, and Levenberg–Marquardt only takes steps it has checked). Rejected steps are logged and
counted, and `max_consecutive_failures` of them in a row stop the run with an error.

Each phase starts from the best parameters seen so far, with its own objective (multiple shooting
ends at a phase boundary). While a curriculum fits a partial window, or multiple shooting fits
segments, losses are not comparable with the whole record's: "best" is then the latest accepted
parameters, and the best loss is tracked from the first whole-record iteration on.

The loop, checkpoints, signals and resume are `neurocli.training.engine`'s; `UdeTask` is what it
runs. The history's `lr` column holds Levenberg–Marquardt's damping λ in its phases.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, PyTree

from neurocli.config.optim import PhaseConfig
from neurocli.numerics.program_cache import cached_jit, compile_cached_step, signature
from neurocli.training.optim import Hyper, hyper, is_lbfgs, learning_rate, make_optimizer, structure
from neurocli.training.levenberg_marquardt import LevenbergMarquardt
from neurocli.ude.objective import TrajectoryLoss
from neurocli.training.engine import Cursor, Record, Settings
from neurocli.training.history import History

LOSS_COLUMNS = ("step", "phase", "optimizer", "loss", "grad_norm", "lr", "wall_s", "rejected")
HISTORY_COLUMNS = tuple(c for c in LOSS_COLUMNS if c != "optimizer")  # `optimizer` follows from `phase`


MIN_DAMPING = 2.0**-10  # the smallest update multiplier rejections halve down to


class TrainState(eqx.Module):
    """Parameters and optimiser state, and the last accepted ones to fall back to."""

    params: PyTree
    opt_state: PyTree
    prev_params: PyTree
    prev_opt_state: PyTree
    prev_grads: PyTree
    prev_loss: Float[Array, ""]
    count: Int[Array, ""]  # accepted updates in this phase (indexes the learning-rate schedule)
    prev_count: Int[Array, ""]
    damping: Float[Array, ""]  # update multiplier: halved on each rejection, doubled back on success


class StepStats(eqx.Module):
    loss: Float[Array, ""]  # at the parameters the step started from (+inf: solve failed)
    grad_norm: Float[Array, ""]
    lr: Float[Array, ""]  # step size (schedule × damping; L-BFGS: its line search's; LM: its damping λ)
    accepted: Bool[Array, ""]


def _strong(tree: PyTree) -> PyTree:
    """Drop weak types (optax inits some scalars weakly typed; a step returns them strong, and the
    difference would retrace the step)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype) if eqx.is_array(x) else x, tree)


@cached_jit
def init_state(params: PyTree, opt: optax.GradientTransformation) -> TrainState:
    """A phase's fresh state at `params`: one program, read from the program cache in a warm
    process (op by op, each distinct operation would cost a fresh process a compile-cache read)."""
    opt_state = _strong(opt.init(params))
    zeros = jax.tree.map(jnp.zeros_like, params)
    count = jnp.zeros((), jnp.int32)
    inf, one = jnp.full((), jnp.inf, float), jnp.ones((), float)  # not weakly typed: no retrace
    return TrainState(params, opt_state, params, opt_state, zeros, inf, count, count, one)


def optimizer(phase: PhaseConfig):
    """The phase's optimiser: optax's, or Levenberg–Marquardt (same `init`). Built from the phase's
    structure: its `init` (the state's layout) does not depend on the learning-rate numbers, which
    a step takes as `hyper(phase)`, so phases that differ only in them share the cached programs."""
    if phase.optimizer == "levenberg_marquardt":
        return LevenbergMarquardt(phase.lm_damping)
    return make_optimizer(structure(phase))


def _lm_step(lm: LevenbergMarquardt):
    def step(state: TrainState, loss_fn: TrajectoryLoss, iteration: Int[Array, ""], h: Hyper):
        del h  # the damping λ is the state's
        def residuals(p):
            return loss_fn.residuals(p, iteration)[0]

        params, lm_state, loss, grad_norm = lm.iterate(residuals, state.params, state.opt_state)
        ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        loss = jnp.where(ok, loss, jnp.inf)
        # every iterate was checked (finite and lower) before it was taken: a failure stays put
        new = TrainState(params, lm_state, state.params, state.opt_state, state.prev_grads, loss,
                         state.count + 1, state.count, state.damping)
        return new, StepStats(loss, grad_norm, state.opt_state.damping, ok)

    return step


def raw_step(phase: PhaseConfig) -> Callable:
    """step(state, loss_fn, iteration, hyper(phase)) -> (state, stats), not jitted (a sweep vmaps
    it); traced from the phase's structure, its learning-rate numbers the `Hyper` argument."""
    phase = structure(phase)
    if phase.optimizer == "levenberg_marquardt":
        return _lm_step(optimizer(phase))
    return _gradient_step(phase)


def make_step(phase: PhaseConfig, max_traces: int | None = 1) -> Callable:
    """step(state, loss_fn, iteration) -> (state, stats): one jitted call, traced once per phase."""
    raw, h = raw_step(phase), hyper(phase)

    def step(state, loss_fn, iteration):
        return raw(state, loss_fn, iteration, h)

    if max_traces is not None:
        step = eqx.debug.assert_max_traces(step, max_traces=max_traces)
    return eqx.filter_jit(step)


def _gradient_step(phase: PhaseConfig):
    """A step of an optax optimiser, rejected (back to the last good state) if not finite."""
    lbfgs = is_lbfgs(phase)

    def step(state: TrainState, loss_fn: TrajectoryLoss, iteration: Int[Array, ""], h: Hyper):
        opt = make_optimizer(phase, h)
        schedule = None if lbfgs else learning_rate(h)

        def value(p):
            return loss_fn(p, iteration)[0]

        if lbfgs:  # the line search already evaluated value and gradient at these parameters
            loss, grads = optax.value_and_grad_from_state(value)(state.params, state=state.opt_state)
        else:
            loss, grads = jax.value_and_grad(value)(state.params)
        grad_norm = optax.tree.norm(grads)
        ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)

        def pick(a, b):
            return jax.tree.map(lambda x, y: jnp.where(ok, x, y), a, b)

        params = pick(state.params, state.prev_params)
        opt_state = pick(state.opt_state, state.prev_opt_state)
        base_grads = pick(grads, state.prev_grads)
        base_loss = jnp.where(ok, loss, state.prev_loss)
        count = jnp.where(ok, state.count, state.prev_count)
        if lbfgs:
            damping = state.damping
            updates, new_opt_state = opt.update(
                base_grads, opt_state, params, value=base_loss, grad=base_grads, value_fn=value
            )
            lr = optax.tree.get(new_opt_state, "learning_rate")
        else:
            halved = jnp.maximum(MIN_DAMPING, 0.5 * state.damping)
            damping = jnp.where(ok, jnp.minimum(1.0, 2.0 * state.damping), halved)
            updates, new_opt_state = opt.update(base_grads, opt_state, params)
            updates = jax.tree.map(lambda u: damping * u, updates)
            lr = schedule(count) * damping
        new = TrainState(optax.apply_updates(params, updates), new_opt_state, params, opt_state, base_grads,
                         base_loss, count + 1, count, damping)
        return new, StepStats(loss, grad_norm, jnp.asarray(lr, float), ok)

    return step


def skeleton(params: PyTree, phases, phase: int) -> tuple[TrainState, PyTree]:
    """(state, best) as a checkpoint taken in `phase` holds them: what its leaves are read into."""
    return init_state(params, optimizer(phases[phase])), params


def _iteration(i: int):
    return jnp.asarray(i, dtype=jnp.int64 if jax.config.jax_enable_x64 else jnp.int32)


class UdeTask:
    """The UDE training task for `neurocli.training.Engine`: one member, logged every iteration.

    Each phase starts from the best parameters so far, with its own objective (multiple shooting
    ends at a phase boundary; Levenberg–Marquardt differentiates in forward mode). Its step is
    compiled ahead of time once per task and phase (an executable cannot retrace)."""

    members = 1
    prefetch = True  # `compile` reads only the state's shapes: later phases compile while one trains
    columns = HISTORY_COLUMNS
    loss_columns = LOSS_COLUMNS

    def __init__(self, loss_fn: TrajectoryLoss, params: PyTree, phases, max_consecutive_failures: int = 20,
                 checkpoint_every: int = 100, identity: dict | None = None):
        self.loss_fn = loss_fn
        self.params0 = params
        self.phases: tuple[PhaseConfig, ...] = tuple(phases)
        self.settings = Settings(tuple(p.iterations for p in self.phases), checkpoint_every, 1,
                                 max_consecutive_failures)
        self.identity = dict(identity or {})
        starts = self.settings.starts
        self.objectives = [loss_fn.for_phase(starts[p], forward_mode=ph.optimizer == "levenberg_marquardt")
                           for p, ph in enumerate(self.phases)]
        self._compiled: dict[tuple, Callable] = {}  # by (phase, signature of the state)

    def phase_state(self, params: PyTree, phase: int) -> TrainState:
        """The state a phase starts from at `params` (its optimiser's fresh state)."""
        return init_state(params, optimizer(self.phases[phase]))

    def initial_state(self) -> TrainState:
        return self.phase_state(self.params0, 0)

    def params(self, state: TrainState) -> PyTree:
        return state.params

    def enter_phase(self, phase: int, state: TrainState, best: PyTree) -> TrainState:
        return self.phase_state(best, phase)

    def compile(self, phase: int, state: TrainState) -> Callable:
        key = (phase, signature(state))  # a state of another layout (never, but checked) gets its own
        if key not in self._compiled:
            objective, h = self.objectives[phase], hyper(self.phases[phase])
            compiled = compile_cached_step(raw_step(self.phases[phase]), state, objective, _iteration(0), h,
                                           stats=lambda leaves: StepStats(*leaves))
            self._compiled[key] = lambda st, i: compiled(st, objective, _iteration(i), h)
        return self._compiled[key]

    def record(self, step: int, phase: int, stats: StepStats, wall_s: float) -> Record:
        loss, gnorm, lr, ok = float(stats.loss), float(stats.grad_norm), float(stats.lr), bool(stats.accepted)
        row = {"step": step, "phase": phase, "loss": loss, "grad_norm": gnorm, "lr": lr, "wall_s": wall_s,
               "rejected": 0 if ok else 1}
        return Record([row], np.array([loss]), np.array([ok]), comparable=step >= self.loss_fn.full_window_from)

    def select(self, mask, params, best):
        return params if bool(mask[0]) else best

    def final_loss(self, cur: Cursor) -> np.ndarray:
        """The loss at the final parameters: one more (discarded) step of the last phase."""
        _, stats = self.compile(cur.phase, cur.state)(cur.state, cur.step)
        return np.asarray(stats.loss, float).reshape(-1)  # one per member

    def failure(self, cur: Cursor, rec: Record) -> str:
        p = cur.phase
        return (f"{int(cur.consecutive[0])} steps in a row rejected (solve failed or loss not finite) at iteration "
                f"{cur.step} (phase {p}, {self.phases[p].optimizer}); best loss so far {cur.best_loss[0]:.6g}. "
                "Lower the learning rate, clip gradients, or check the network's input/output scaling and "
                "the solver's max_steps.")

    def to_host(self, tree):
        return tree

    def to_device(self, tree):
        return tree

    def skeleton(self, phase: int):
        return self.phase_state(self.params0, phase), self.params0

    def best_artefact(self, cur: Cursor):
        header = {"best_loss": float(cur.best_loss[0]), "best_iteration": int(cur.best_step[0])}
        return header, self.loss_fn.network(cur.best)

    def loss_csv(self, history: History):
        formats = {"step": lambda r: int(r["step"]), "member": lambda r: int(r["member"]),
                   "phase": lambda r: int(r["phase"]),
                   "optimizer": lambda r: self.phases[int(r["phase"])].optimizer,
                   "wall_s": lambda r: f"{r['wall_s']:.4f}", "rejected": lambda r: int(r["rejected"])}
        return history.csv(formats, self.loss_columns)
