"""The UDE training loop: optimisation phases, step rejection, checkpoints, SIGINT and resume.

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

Every `checkpoint_every` iterations, at the end, on SIGINT and before a failure error,
`checkpoints/latest.eqx` (train state, optimiser state, best parameters, loss history),
`checkpoints/best.eqx` (the best network) and `loss.csv` are written. Resuming from latest.eqx
replays nothing and continues bit-for-bit (CPU).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, PyTree

from neurocli import checkpoint
from neurocli.config.optim import PhaseConfig
from neurocli.optim import is_lbfgs, learning_rate, make_optimizer
from neurocli.progress import progress
from neurocli.run_dir import RunDirectory
from neurocli.train.levenberg_marquardt import LevenbergMarquardt
from neurocli.train.ude_objective import TrajectoryLoss

FORMAT = "neurocli-ude-train/1"
LATEST = "checkpoints/latest.eqx"
BEST = "checkpoints/best.eqx"
LOSS_COLUMNS = ("step", "phase", "optimizer", "loss", "grad_norm", "lr", "wall_s", "rejected")
_HISTORY_COLUMNS = 7  # LOSS_COLUMNS without `optimizer` (derived from the phase)


MIN_DAMPING = 2.0**-10  # the smallest update multiplier rejections halve down to


class TrainingFailed(RuntimeError):
    """Too many rejected steps in a row."""


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


def init_state(params: PyTree, opt: optax.GradientTransformation) -> TrainState:
    opt_state = _strong(opt.init(params))
    zeros = jax.tree.map(jnp.zeros_like, params)
    count = jnp.zeros((), jnp.int32)
    inf, one = jnp.full((), jnp.inf, float), jnp.ones((), float)  # not weakly typed: no retrace
    return TrainState(params, opt_state, params, opt_state, zeros, inf, count, count, one)


def optimizer(phase: PhaseConfig):
    """The phase's optimiser: optax's, or Levenberg–Marquardt (same `init`)."""
    if phase.optimizer == "levenberg_marquardt":
        return LevenbergMarquardt(phase.lm_damping)
    return make_optimizer(phase)


def _lm_step(lm: LevenbergMarquardt):
    def step(state: TrainState, loss_fn: TrajectoryLoss, iteration: Int[Array, ""]):
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


def make_step(phase: PhaseConfig, max_traces: int | None = 1) -> Callable:
    """step(state, loss_fn, iteration) -> (state, stats): one jitted call, traced once per phase."""
    if phase.optimizer == "levenberg_marquardt":
        step = _lm_step(optimizer(phase))
    else:
        step = _gradient_step(phase)
    if max_traces is not None:
        step = eqx.debug.assert_max_traces(step, max_traces=max_traces)
    return eqx.filter_jit(step)


def _gradient_step(phase: PhaseConfig):
    """A step of an optax optimiser, rejected (back to the last good state) if not finite."""
    opt = make_optimizer(phase)
    lbfgs = is_lbfgs(phase)
    schedule = None if lbfgs else learning_rate(phase)

    def step(state: TrainState, loss_fn: TrajectoryLoss, iteration: Int[Array, ""]):
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


_STEPS: dict = {}


def cached_step(phase: PhaseConfig, loss_fn) -> Callable:
    """`make_step(phase)`, shared by every Trainer in this process whose objective has the same
    structure (shapes, dtypes, static settings): a resumed run in the same process, or tests, do
    not trace and compile the step again. Still at most one trace per function."""
    leaves, treedef = jax.tree.flatten(loss_fn)
    signature = tuple((x.shape, str(x.dtype)) if eqx.is_array(x) else x for x in leaves)
    try:
        key = (phase, treedef, signature)
        hash(key)
    except TypeError:
        return make_step(phase)
    if key not in _STEPS:
        _STEPS[key] = make_step(phase)
    return _STEPS[key]


@dataclasses.dataclass
class TrainSettings:
    phases: list[PhaseConfig]
    max_consecutive_failures: int = 20
    checkpoint_every: int = 100

    @property
    def iterations(self) -> int:
        return sum(p.iterations for p in self.phases)


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where training stands; replaced as a whole after each iteration (so it is never torn)."""

    phase: int
    phase_step: int  # iterations done in `phase`
    iteration: int  # iterations done in all
    state: TrainState
    best_params: PyTree
    best_loss: float
    best_iteration: int
    failed: int
    consecutive: int


@dataclasses.dataclass
class TrainResult:
    best_params: PyTree
    final_params: PyTree
    best_loss: float
    best_iteration: int
    final_loss: float
    iterations: int
    failed_solves: int
    history: np.ndarray  # (iterations, 7): LOSS_COLUMNS without `optimizer`
    compile_s: float
    train_s: float
    s_per_iter: float
    phase_s_per_iter: list[float]


@contextlib.contextmanager
def deferred_sigint():
    """Turn the first SIGINT into a flag checked between iterations (a second one interrupts now)."""
    flag = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["hit"]:
            raise KeyboardInterrupt
        flag["hit"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def loss_rows(history: np.ndarray, phases: list[PhaseConfig]) -> list[list]:
    rows = []
    for step, phase, loss, gnorm, lr, wall, rejected in history.tolist():
        rows.append([int(step), int(phase), phases[int(phase)].optimizer, repr(loss), repr(gnorm), repr(lr),
                     f"{wall:.4f}", int(rejected)])
    return rows


class Trainer:
    """Runs the phases on one objective, writing into `run` (None: keep nothing, for tests)."""

    def __init__(self, loss_fn: TrajectoryLoss, settings: TrainSettings, run: RunDirectory | None = None,
                 header: dict | None = None, description: str = "train-ude",
                 on_iteration: Callable[[int], None] | None = None):
        self.loss_fn = loss_fn
        self.settings = settings
        self.run = run
        self.header = dict(header or {})
        self.description = description
        self.on_iteration = on_iteration
        self.history: list[tuple] = []

    # -- checkpoints -------------------------------------------------------------------------
    def _skeleton(self, params, phase: int, rows: int):
        state = init_state(params, optimizer(self.settings.phases[phase]))
        return {"state": state, "best_params": params, "history": np.zeros((rows, _HISTORY_COLUMNS))}

    def save(self, cur: Cursor, elapsed_s: float) -> None:
        if self.run is None:
            return
        history = np.asarray(self.history[: cur.iteration], dtype=float).reshape(-1, _HISTORY_COLUMNS)
        header = {
            **self.header,
            "format": FORMAT,
            "phase": cur.phase,
            "phase_step": cur.phase_step,
            "iteration": cur.iteration,
            "best_loss": cur.best_loss,
            "best_iteration": cur.best_iteration,
            "failed_solves": cur.failed,
            "consecutive_failures": cur.consecutive,
            "elapsed_s": elapsed_s,
            "history_rows": int(history.shape[0]),
        }
        tree = {"state": cur.state, "best_params": cur.best_params, "history": history}
        checkpoint.save(self.run.file(LATEST), header, tree)
        best_header = {**self.header, "format": FORMAT, "best_loss": cur.best_loss,
                       "best_iteration": cur.best_iteration}
        checkpoint.save(self.run.file(BEST), best_header, self.loss_fn.network(cur.best_params))
        self.run.write_csv("loss.csv", LOSS_COLUMNS, loss_rows(history, self.settings.phases))

    def load(self, params) -> tuple[Cursor, float]:
        """The cursor saved in latest.eqx (its header must match this run's `header` keys)."""
        path = self.run.file(LATEST)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to resume from")
        head = checkpoint.load_header(path)
        expect = {"format": FORMAT, **self.header}
        phase, rows = int(head.get("phase", 0)), int(head.get("history_rows", 0))
        if not 0 <= phase < len(self.settings.phases):
            raise checkpoint.CheckpointMismatch(f"{path}: phase {phase} is not a phase of this config")
        head, tree = checkpoint.load(path, self._skeleton(params, phase, rows), expect=expect)
        self.history = [tuple(r) for r in np.asarray(tree["history"]).tolist()]
        cur = Cursor(phase, int(head["phase_step"]), int(head["iteration"]), tree["state"], tree["best_params"],
                     float(head["best_loss"]), int(head["best_iteration"]), int(head["failed_solves"]),
                     int(head["consecutive_failures"]))
        return cur, float(head["elapsed_s"])

    # -- the loop ----------------------------------------------------------------------------
    def fit(self, params: PyTree, resume: bool = False) -> TrainResult:
        phases = self.settings.phases
        if resume:
            cur, elapsed = self.load(params)
        else:
            self.history = []
            cur = Cursor(0, 0, 0, init_state(params, optimizer(phases[0])), params, math.inf, -1, 0, 0)
            elapsed = 0.0
        start = time.perf_counter() - elapsed
        step_times: dict[int, list[float]] = {}  # phase -> seconds of each call (the first compiles)
        iteration_arg = lambda i: jnp.asarray(i, dtype=jnp.int64 if jax.config.jax_enable_x64 else jnp.int32)  # noqa: E731
        objectives = [self.loss_fn.for_phase(sum(q.iterations for q in phases[:p]),
                                             forward_mode=phases[p].optimizer == "levenberg_marquardt")
                      for p in range(len(phases))]

        def step_fn(p):
            return cached_step(phases[p], objectives[p])

        with deferred_sigint() as sigint, progress(self.settings.iterations, self.description,
                                                   start=cur.iteration) as update:
            try:
                while True:
                    p = cur.phase
                    if cur.phase_step >= phases[p].iterations:
                        if p + 1 >= len(phases):
                            break
                        opt = optimizer(phases[p + 1])
                        cur = dataclasses.replace(cur, phase=p + 1, phase_step=0,
                                                  state=init_state(cur.best_params, opt))
                        continue
                    if sigint["hit"]:
                        raise KeyboardInterrupt
                    step = step_fn(p)
                    t_call = time.perf_counter()
                    new_state, stats = step(cur.state, objectives[p], iteration_arg(cur.iteration))
                    loss, gnorm, lr, ok = (float(x) for x in jax.device_get(
                        (stats.loss, stats.grad_norm, stats.lr, stats.accepted)))
                    step_times.setdefault(p, []).append(time.perf_counter() - t_call)
                    ok = bool(ok)
                    windowed = cur.iteration < self.loss_fn.full_window_from
                    better = ok and (windowed or loss < cur.best_loss)
                    self.history[cur.iteration:] = [(cur.iteration, p, loss, gnorm, lr, time.perf_counter() - start,
                                                     0 if ok else 1)]
                    cur = Cursor(
                        phase=p,
                        phase_step=cur.phase_step + 1,
                        iteration=cur.iteration + 1,
                        state=new_state,
                        best_params=cur.state.params if better else cur.best_params,
                        best_loss=(math.inf if windowed else loss) if better else cur.best_loss,
                        best_iteration=cur.iteration if better else cur.best_iteration,
                        failed=cur.failed + (0 if ok else 1),
                        consecutive=0 if ok else cur.consecutive + 1,
                    )
                    update(cur.iteration, loss=loss, best=cur.best_loss)
                    if cur.consecutive >= self.settings.max_consecutive_failures:
                        self.save(cur, time.perf_counter() - start)
                        raise TrainingFailed(
                            f"{cur.consecutive} steps in a row rejected (solve failed or loss not finite) at "
                            f"iteration {cur.iteration} (phase {p}, {phases[p].optimizer}); best loss so far "
                            f"{cur.best_loss:.6g}. Lower the learning rate, clip gradients, or check the "
                            "network's input/output scaling and the solver's max_steps."
                        )
                    if cur.iteration % self.settings.checkpoint_every == 0:
                        self.save(cur, time.perf_counter() - start)
                    if self.on_iteration is not None:
                        self.on_iteration(cur.iteration)
                # the loss at the final parameters: one more (discarded) step of the last phase
                _, stats = step_fn(cur.phase)(cur.state, objectives[cur.phase], iteration_arg(cur.iteration))
                final_loss = float(stats.loss)
                if final_loss < cur.best_loss:
                    cur = dataclasses.replace(cur, best_params=cur.state.params, best_loss=final_loss,
                                              best_iteration=cur.iteration)
                self.save(cur, time.perf_counter() - start)
            except KeyboardInterrupt:
                self.save(cur, time.perf_counter() - start)
                raise
        train_s = time.perf_counter() - start
        return self._result(cur, final_loss, train_s, step_times)

    def _result(self, cur: Cursor, final_loss, train_s, step_times) -> TrainResult:
        # a phase's first call compiles: compile time is what it took beyond a typical call
        compile_s = sum(max(0.0, times[0] - (float(np.median(times[1:])) if len(times) > 1 else 0.0))
                        for times in step_times.values())
        phase_s = []
        for p in range(len(self.settings.phases)):
            times = step_times.get(p, [])[1:]
            phase_s.append(float(np.mean(times)) if times else float("nan"))
        all_times = [t for times in step_times.values() for t in times[1:]]
        history = np.asarray(self.history[: cur.iteration], dtype=float).reshape(-1, _HISTORY_COLUMNS)
        return TrainResult(
            best_params=cur.best_params,
            final_params=cur.state.params,
            best_loss=cur.best_loss,
            best_iteration=cur.best_iteration,
            final_loss=final_loss,
            iterations=cur.iteration,
            failed_solves=cur.failed,
            history=history,
            compile_s=compile_s,
            train_s=train_s,
            s_per_iter=float(np.mean(all_times)) if all_times else float("nan"),
            phase_s_per_iter=phase_s,
        )
