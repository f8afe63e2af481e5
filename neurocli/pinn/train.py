"""Training every sweep member at once: one vmapped, jitted step (steps.py) over stacked networks.

Members differ in their PDE constants (a, k; members.py, passed into the step as an array per
member) and in their key (`member_keys`: fold_in(seed key, member index)), so a member trains
exactly as it would alone with the same key and constants. The member axis of every array is
sharded across devices when there are several (padded to a multiple of the device count).

`Trainer` is the train-pinn task of `neurocli.training.Engine` (the loop, log, best, checkpoints,
signals and resume are the engine's). Each optimisation phase compiles one step ahead of time;
the engine calls it once per step (no retracing). First-order phases draw a batch every step; an
L-BFGS phase works on one fixed set of points. Best parameters are tracked per member. A loss that
is not finite ends the run (exit 1) naming the members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray, PyTree

from neurocli.config.optim import PhaseConfig
from neurocli.training.optim import hyper, is_lbfgs, make_optimizer, structure
from neurocli.pinn import collocation
from neurocli.members import MemberTable
from neurocli.pinn.members import a_members, column, constants, members_of
from neurocli.pinn.setup import PinnSetup
from neurocli.pinn.steps import INIT, LBFGS, POOL, TrainState, make_first_order_step, make_lbfgs_step
from neurocli.numerics.program_cache import cached_jit, compile_cached_step, signature
from neurocli.members.placement import Placement
from neurocli.training.engine import Cursor, Record, Settings
from neurocli.training.history import History


def identity(cfg) -> dict:
    """What a checkpoint must match to be resumed by this config: every member's a, and with a
    sweep section the member table (swept paths and values), so another sweep is refused."""
    dump = cfg.model_dump(mode="json")
    members = members_of(cfg)
    table = {} if cfg.sweep is None else {"members": {"swept": list(members.names), "table": members.values.tolist()}}
    return {"command": "train-pinn", "a": column(cfg, constants(cfg, members), "pde.a").tolist(), **table,
            **{key: dump[key] for key in ("network", "conditions", "collocation", "phases")}}


def member_keys(seed: int, n: int) -> PRNGKeyArray:
    """Member i's key: fold_in(PRNGKey(seed), i), whatever the number of members."""
    return _fold_ins(jax.random.PRNGKey(seed), n)


@cached_jit
def _fold_ins(base: PRNGKeyArray, n: int) -> PRNGKeyArray:
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n))


class Trainer:
    """Trains `members` (a `MemberTable`, or a list of a values that share pde.k) with keys `keys`
    (one per member) under `setup`."""

    prefetch = True  # `compile` reads only the state's shapes: later phases compile while one trains

    def __init__(self, setup: PinnSetup, members: MemberTable | Sequence[float], keys: PRNGKeyArray):
        self.setup = setup
        if not isinstance(members, MemberTable):
            members = a_members(members)
        self.member_table = members
        self.n = members.n
        self.placement = Placement(self.n)
        self.sharding = self.placement.sharding() if self.placement.sharded else None
        self.padded = self.placement.width
        self.constants = constants(setup.cfg, members)  # (members, [a, k]) float64
        self.pde = self.place(jnp.asarray(self.constants, setup.dtype))
        self.keys = self.place(keys)
        nets = setup.make_network(keys, fold=INIT)
        self.params0, self.static = eqx.partition(nets, eqx.is_inexact_array)
        self.phase_starts = setup.cfg.phase_starts
        self._compiled: dict[tuple, Callable] = {}  # by (phase, signature of the state)
        self.members = self.n
        self.parameter_columns = ("a", *(("k",) if members.swept("pde.k") else ()),
                                  *(("T",) if members.swept("pde.T") else ()))
        self.columns = ("step", "member", *self.parameter_columns, *setup.loss_columns)
        self._logged = {c: column(setup.cfg, self.constants, f"pde.{c}") for c in self.parameter_columns}
        out = setup.cfg.output
        self.settings = Settings(tuple(p.iterations for p in setup.cfg.phases), out.checkpoint_every, out.log_every, 1)
        self.identity = identity(setup.cfg)

    # -- placement --------------------------------------------------------------------------
    def place(self, tree):
        """Pad the member axis to the device count and shard it (one device: as is)."""
        return self.placement.place(tree)

    def _shard(self, tree):
        return self.placement.put(tree)

    def unpadded(self, tree):
        return self.placement.unpad(tree)

    # -- state --------------------------------------------------------------------------------
    def optimizer(self, phase: int):
        """The phase's optimiser for its state (`init`); a step takes its learning rate as `hyper`."""
        return make_optimizer(structure(self.setup.cfg.phases[phase]))

    def initial_state(self, phase: int = 0) -> TrainState:
        """The state at step 0, unplaced (its optimiser state for `phase`: a checkpoint's skeleton)."""
        s, col, pde = self.setup, self.setup.cfg.collocation, self.setup.cfg.pde
        params = self.params0  # built from the unpadded keys
        opt = self.optimizer(phase)
        pool_size = col.points if (col.kind == "fixed" or col.adaptive is not None) else 0

        initial_weights, n, dtype = s.initial_weights(), self.n, s.dtype

        def pool(key):
            k = jax.random.fold_in(key, POOL)
            return collocation.uniform(k, pool_size, pde.T, pde.length, col.time_power, dtype)

        def start(keys, params):  # one program
            weights = jnp.broadcast_to(jnp.asarray(initial_weights, dtype), (n, len(initial_weights)))
            return TrainState(params, jax.vmap(opt.init)(params), *jax.vmap(pool)(keys), weights)

        return cached_jit(start)(self.unpadded(self.keys), params)

    def with_phase(self, state: TrainState, phase: int) -> TrainState:
        """The same state with a fresh optimiser state for `phase`."""
        opt = self.optimizer(phase)
        return eqx.tree_at(lambda s: s.opt_state, state, cached_jit(lambda p: jax.vmap(opt.init)(p))(state.params))

    def lbfgs_points(self, state: TrainState, phase: int):
        """The fixed set of an L-BFGS phase: the pool (fixed collocation) or fresh points."""
        col, pde, dtype = self.setup.cfg.collocation, self.setup.cfg.pde, self.setup.dtype
        if col.kind == "fixed":
            return state.pool_t, state.pool_x

        def draw(key):
            k = jax.random.fold_in(jax.random.fold_in(key, LBFGS), phase)
            return collocation.uniform(k, col.lbfgs_points, pde.T, pde.length, col.time_power, dtype)

        return self._shard(cached_jit(lambda keys: jax.vmap(draw)(keys))(self.keys))

    # -- the engine's task ------------------------------------------------------------------------
    def compile(self, phase: int, state: TrainState) -> Callable:
        """The phase's step, compiled ahead of time for the placed state (once per trainer, phase
        and state layout; an executable cannot retrace): call(state, step) -> (state, losses).
        Only the state's shapes are read (`prefetch`): an L-BFGS phase's fixed points are taken at
        its first call, from the state that call starts from."""
        key = (phase, signature(state))
        if key in self._compiled:
            return self._compiled[key]
        phase_cfg: PhaseConfig = self.setup.cfg.phases[phase]
        shard = self.sharding
        out_shardings = None if shard is None else (jax.tree_util.tree_map(lambda _: shard, state), shard)
        def compile_step(fn, *args):
            if shard is None:  # one device: through the program cache (a warm run does not trace)
                return compile_cached_step(fn, *args, stats=lambda leaves: leaves[0])
            return jax.jit(fn, out_shardings=out_shardings).lower(*args).compile()

        if is_lbfgs(phase_cfg):
            fn = make_lbfgs_step(self.setup.numerics, self.static, self.optimizer(phase))
            compiled = compile_step(fn, state, self.pde, *self.lbfgs_points(state, phase))
            points: list = []  # the phase's fixed points, from the state its first step starts from

            def call(st, step):
                if not points:
                    points.extend(self.lbfgs_points(st, phase))
                return compiled(st, self.pde, *points)
        else:
            fn, h = make_first_order_step(self.setup.numerics, self.static, phase_cfg), hyper(phase_cfg)
            compiled = compile_step(fn, state, self.pde, self.keys, jnp.asarray(0, jnp.int32), h)
            call = lambda st, step: compiled(st, self.pde, self.keys, jnp.asarray(step, jnp.int32), h)  # noqa: E731
        self._compiled[key] = call
        return call

    def params(self, state: TrainState) -> PyTree:
        return state.params

    def enter_phase(self, phase: int, state: TrainState, best) -> TrainState:
        """The same state (parameters go on) with a fresh optimiser state for `phase`."""
        return self._shard(self.with_phase(state, phase))

    def record(self, step: int, phase: int, losses, wall_s: float) -> Record:
        """Rows (step = steps done) per member; the loss is at the parameters the step started from."""
        host = np.asarray(self.unpadded(losses), dtype=np.float64)
        values = self._logged  # each member's a (k, T when swept): loss.csv's parameter columns
        rows = [{"step": step + 1, "member": m, **{c: values[c][m] for c in self.parameter_columns},
                 **dict(zip(self.setup.loss_columns, host[m]))} for m in range(self.n)]
        return Record(rows, host[:, 0], np.isfinite(host).all(axis=1))

    def select(self, mask: np.ndarray, params, best):
        return _select(jnp.asarray(self.placement.mask(mask)), params, best)

    def final_loss(self, cur: Cursor) -> np.ndarray:
        """Each member's last logged loss (every phase logs its last step)."""
        h = cur.history
        last = h.where(h["step"] == h["step"].max())
        return last["loss"][np.argsort(last["member"])]

    def failure(self, cur: Cursor, rec: Record) -> str:
        bad = [f"member {m} ({self.member_table.label(m)})" for m in np.flatnonzero(~np.asarray(rec.accepted))]
        return (f"loss not finite at step {cur.step} (phase {cur.phase}, {self.setup.cfg.phases[cur.phase].optimizer}) "
                f"for {', '.join(bad)}. Lower the learning rate or k, or clip gradients (phases[].clip_norm).")

    def to_host(self, tree):
        return self.unpadded(tree)

    def to_device(self, tree):
        return self.place(tree)

    def skeleton(self, phase: int):
        state = self.initial_state(phase)
        return state, state.params

    def best_artefact(self, cur: Cursor):
        return {"best_loss": cur.best_loss.tolist(), "step": cur.step}, self.unpadded(cur.best)

    def loss_csv(self, history: History):
        return history.csv({"step": lambda r: int(r["step"]), "member": lambda r: int(r["member"])}, history.columns)

    # -- evaluation ---------------------------------------------------------------------------------
    def predict(self, params, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """u on the grid t × x for every member: (members, nt, nx), float64 on the host. With pde.T
        swept, t is the members' clock s ∈ [0, pde.T]: member i's times are s · T_i / pde.T."""
        tt, xx = np.meshgrid(t, x, indexing="ij")
        tq = jnp.asarray(tt.ravel(), self.setup.dtype)
        xq = jnp.asarray(xx.ravel(), self.setup.dtype)
        ansatz, static, numerics = self.setup.ansatz, self.static, self.setup.numerics
        clock = numerics.clock

        def fn(params, pde, tq, xq):
            def member(p, row):
                scale = None if clock is None else row[clock] / numerics.T
                return jax.vmap(lambda a, b: ansatz(eqx.combine(p, static), a, b, scale))(tq, xq)

            return jax.vmap(member)(params, pde)

        u = np.asarray(cached_jit(fn)(params, self.unpadded(self.pde), tq, xq), dtype=np.float64)
        return u.reshape(-1, t.size, x.size)


@cached_jit
def _select(mask, params, best):
    """Each member's leaves from `params` where `mask`, else from `best`: one program."""
    return jax.tree_util.tree_map(lambda b, c: jnp.where(mask.reshape((-1,) + (1,) * (c.ndim - 1)), c, b),
                                  best, params)
