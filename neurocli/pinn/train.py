"""Training every sweep member at once: one vmapped, jitted step (steps.py) over stacked networks.

Members differ in `model.a` and in their key (`member_keys`: fold_in(seed key, member index)), so
a member trains exactly as it would alone with the same key. The member axis of every array is
sharded across devices when there are several (padded to a multiple of the device count).

Each optimisation phase (neurocli.config.optim.PhaseConfig) compiles one step ahead of time; the
loop calls it once per step (no retracing: the compiled executable is reused). First-order phases
draw a batch every step; an L-BFGS phase works on one fixed set of points.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray, PyTree

from neurocli.config.optim import PhaseConfig
from neurocli.optim import is_lbfgs, make_optimizer
from neurocli.pinn import collocation
from neurocli.pinn.setup import PinnSetup
from neurocli.pinn.steps import INIT, LBFGS, POOL, TrainState, make_first_order_step, make_lbfgs_step
from neurocli.solve import member_sharding, pad_members


def member_keys(seed: int, n: int) -> PRNGKeyArray:
    """Member i's key: fold_in(PRNGKey(seed), i), whatever the number of members."""
    base = jax.random.PRNGKey(seed)
    return jnp.stack([jax.random.fold_in(base, i) for i in range(n)])


@dataclasses.dataclass
class Snapshot:
    """Where training stands (unpadded, member axis first): what a checkpoint holds."""

    step: int
    phase: int  # the phase whose optimiser state `state` holds
    state: TrainState
    history: np.ndarray  # rows: step, member, a, loss, terms...
    best_params: PyTree
    best_loss: np.ndarray


@dataclasses.dataclass
class TrainResult:
    final: Snapshot
    compile_s: float
    train_s: float
    steps_run: int


# -- placement on devices ----------------------------------------------------------------------


def _unpad(tree, n: int):
    return jax.tree_util.tree_map(lambda v: v[:n], tree)


class Trainer:
    """Trains the members `a_values` with keys `keys` (one per member) under `setup`."""

    def __init__(self, setup: PinnSetup, a_values, keys: PRNGKeyArray):
        self.setup = setup
        self.n = len(a_values)
        self.sharding, self.padded = member_sharding(self.n)
        self.a_values = np.asarray(a_values, dtype=np.float64)
        self.a = self.place(jnp.asarray(self.a_values, setup.dtype))
        self.keys = self.place(keys)
        init_keys = jax.vmap(lambda k: jax.random.fold_in(k, INIT))(keys)
        nets = setup.make_network(init_keys)
        self.params, self.static = eqx.partition(nets, eqx.is_inexact_array)
        self.phase_starts = setup.cfg.phase_starts
        self._compiled: dict[int, Callable] = {}

    # -- placement --------------------------------------------------------------------------
    def place(self, tree):
        """Pad the member axis to the device count and shard it (one device: as is)."""
        return self._shard(pad_members(tree, self.n, self.padded))

    def _shard(self, tree):
        return tree if self.sharding is None else jax.device_put(tree, self.sharding)

    def unpadded(self, tree):
        return _unpad(tree, self.n)

    # -- state --------------------------------------------------------------------------------
    def optimizer(self, phase: int):
        return make_optimizer(self.setup.cfg.phases[phase])

    def initial_state(self, phase: int = 0) -> TrainState:
        """The state at step 0 (its optimiser state for `phase`: the skeleton a checkpoint loads into)."""
        s, col, pde = self.setup, self.setup.cfg.collocation, self.setup.cfg.pde
        params = self.params  # built from the unpadded keys
        opt = self.optimizer(phase)
        pool_size = col.points if (col.kind == "fixed" or col.adaptive is not None) else 0

        def pool(key):
            k = jax.random.fold_in(key, POOL)
            return collocation.uniform(k, pool_size, pde.T, pde.length, col.time_power, s.dtype)

        pool_t, pool_x = jax.jit(jax.vmap(pool))(self.unpadded(self.keys))
        weights = jnp.broadcast_to(jnp.asarray(s.initial_weights(), s.dtype), (self.n, len(s.terms)))
        return TrainState(params, jax.jit(jax.vmap(opt.init))(params), pool_t, pool_x, weights)

    def with_phase(self, state: TrainState, phase: int) -> TrainState:
        """The same state with a fresh optimiser state for `phase`."""
        opt = self.optimizer(phase)
        return eqx.tree_at(lambda s: s.opt_state, state, jax.jit(jax.vmap(opt.init))(state.params))

    def lbfgs_points(self, state: TrainState, phase: int):
        """The fixed set of an L-BFGS phase: the pool (fixed collocation) or fresh points."""
        col, pde = self.setup.cfg.collocation, self.setup.cfg.pde
        if col.kind == "fixed":
            return state.pool_t, state.pool_x

        def draw(key):
            k = jax.random.fold_in(jax.random.fold_in(key, LBFGS), phase)
            return collocation.uniform(k, col.lbfgs_points, pde.T, pde.length, col.time_power, self.setup.dtype)

        return self._shard(jax.vmap(draw)(self.keys))

    # -- compilation ----------------------------------------------------------------------------
    def compile(self, state: TrainState, phase: int, points=None):
        """The phase's step, compiled ahead of time for the placed state (once per trainer and
        phase; an executable cannot retrace). Returns (call(state, step, points) -> (state, losses),
        seconds spent compiling); `points` is the L-BFGS phase's fixed set (`lbfgs_points`, drawn
        here if not given), ignored by other phases."""
        if phase in self._compiled:
            return self._compiled[phase], 0.0
        phase_cfg: PhaseConfig = self.setup.cfg.phases[phase]
        opt = self.optimizer(phase)
        shard = self.sharding
        out_shardings = None if shard is None else (jax.tree_util.tree_map(lambda _: shard, state), shard)
        start = time.perf_counter()
        if is_lbfgs(phase_cfg):
            fn = make_lbfgs_step(self.setup, self.static, opt)
            pts = self.lbfgs_points(state, phase) if points is None else points
            compiled = jax.jit(fn, out_shardings=out_shardings).lower(state, self.a, *pts).compile()
            call = lambda st, step, pts: compiled(st, self.a, *pts)  # noqa: E731
        else:
            fn = make_first_order_step(self.setup, self.static, opt)
            step0 = jnp.asarray(0, jnp.int32)
            compiled = jax.jit(fn, out_shardings=out_shardings).lower(state, self.a, self.keys, step0).compile()
            call = lambda st, step, pts: compiled(st, self.a, self.keys, jnp.asarray(step, jnp.int32))  # noqa: E731
        self._compiled[phase] = call
        return call, time.perf_counter() - start

    # -- the loop -----------------------------------------------------------------------------------
    def run(
        self,
        resume: Snapshot | None = None,
        *,
        on_log: Callable[[int, np.ndarray], None] | None = None,
        on_checkpoint: Callable[[Snapshot], None] | None = None,
    ) -> TrainResult:
        """Train from the start, or from `resume`, to the end of the last phase.

        on_log(step, losses (members, columns)) after every logged step; on_checkpoint(snapshot)
        every `checkpoint_every` steps, at the end, and on KeyboardInterrupt (which is re-raised).
        """
        cfg = self.setup.cfg
        total = int(self.phase_starts[-1])
        a_host = self.a_values
        if resume is None:
            rows, state_phase, step = [], 0, 0
            state = self.place(self.initial_state())
            best_params, best_loss = state.params, np.full(self.n, np.inf)
        else:
            rows = [resume.history] if len(resume.history) else []
            state_phase, step = resume.phase, resume.step
            state = self.place(resume.state)
            best_params, best_loss = self.place(resume.best_params), np.asarray(resume.best_loss, float).copy()
        compile_s, train_s, steps_run = 0.0, 0.0, 0

        def snapshot():
            hist = np.concatenate(rows) if rows else np.zeros((0, 3 + len(self.setup.loss_columns)))
            return Snapshot(step, state_phase, self.unpadded(state), hist, self.unpadded(best_params), best_loss.copy())

        try:
            for phase in range(len(cfg.phases)):
                end = int(self.phase_starts[phase + 1])
                if step >= end:
                    continue
                if phase != state_phase:
                    state, state_phase = self._shard(self.with_phase(state, phase)), phase
                points = self.lbfgs_points(state, phase) if is_lbfgs(cfg.phases[phase]) else None
                call, seconds = self.compile(state, phase, points)
                compile_s += seconds
                started = time.perf_counter()
                while step < end:
                    previous = state
                    state, losses = call(state, step, points)
                    step, steps_run = step + 1, steps_run + 1
                    if step % cfg.output.log_every == 0 or step == end:
                        host = np.asarray(self.unpadded(losses), dtype=np.float64)
                        rows.append(np.column_stack([np.full(self.n, step), np.arange(self.n), a_host, host]))
                        better = host[:, 0] < best_loss  # the losses of `previous`, before the update
                        if better.any():
                            best_loss = np.where(better, host[:, 0], best_loss)
                            mask = jnp.asarray(np.concatenate([better, np.zeros(self.padded - self.n, bool)]))
                            best_params = jax.tree_util.tree_map(
                                lambda b, c: jnp.where(mask.reshape((-1,) + (1,) * (c.ndim - 1)), c, b),
                                best_params, previous.params,
                            )
                        if on_log is not None:
                            on_log(step, host)
                    if on_checkpoint is not None and step % cfg.output.checkpoint_every == 0 and step < total:
                        on_checkpoint(snapshot())
                jax.block_until_ready(state)
                train_s += time.perf_counter() - started
        except KeyboardInterrupt:
            if on_checkpoint is not None:
                on_checkpoint(snapshot())
            raise
        final = snapshot()
        if on_checkpoint is not None:
            on_checkpoint(final)
        return TrainResult(final, compile_s, train_s, steps_run)

    # -- evaluation ---------------------------------------------------------------------------------
    def predict(self, params, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """u on the grid t × x for every member: (members, nt, nx), float64 on the host."""
        tt, xx = np.meshgrid(t, x, indexing="ij")
        tq = jnp.asarray(tt.ravel(), self.setup.dtype)
        xq = jnp.asarray(xx.ravel(), self.setup.dtype)
        ansatz, static = self.setup.ansatz, self.static

        @jax.jit
        def fn(params):
            return jax.vmap(lambda p: jax.vmap(lambda a, b: ansatz(eqx.combine(p, static), a, b))(tq, xq))(params)

        u = np.asarray(fn(params), dtype=np.float64)
        return u.reshape(-1, t.size, x.size)
