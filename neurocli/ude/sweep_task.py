"""A train-ude sweep's training task: every member trained at once by one vmapped, jitted step.

The state is `task.TrainState` with a leading member axis on every leaf (parameters, optimiser
state, the fall-back copies, the per-member damping and counters). A phase's step is
`jax.vmap` of the one-member step (`task.raw_step`) over that axis, and over the members' data
when the data are swept (noise); it is compiled ahead of time once per phase, so it cannot
retrace. Rejection is the one-member logic under vmap: a member whose step is not finite returns
to its own last good state and halves its own update; the other members are untouched.

Per member: the loss, acceptance, best parameters and best loss (the engine's `Record` and
`select`), the final loss, the count of rejected steps in a row: the run stops (exit 1) when one
member's reaches `max_consecutive_failures`. The log has one row per member and step (a `member` column).

Every phase kind vmaps: Adam-type steps, L-BFGS (its zoom line search is a while loop: under vmap
it runs until every member's search is done, each member keeping its own result) and
Levenberg–Marquardt (likewise its trial steps). Without a sweep train-ude uses `task.UdeTask`
unchanged (the one-member path). With several devices (`runtime.cpu_devices`, GPUs) the member
axis is padded and sharded over them (`neurocli.members.placement`), each device stepping its own
members; checkpoints, logs and best.eqx hold the real members only.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from neurocli.training.engine import Cursor, Record
from neurocli.ude.data import Recording
from neurocli.ude.objective import TrajectoryLoss
from neurocli.members import MemberTable
from neurocli.members.placement import Placement
from neurocli.ude.sweep import data_swept
from neurocli.numerics.program_cache import compile_cached_step, signature
from neurocli.training.optim import hyper
from neurocli.ude.task import LOSS_COLUMNS, StepStats, TrainState, UdeTask, _iteration, init_state, optimizer, raw_step

SWEEP_LOSS_COLUMNS = ("step", "member", *LOSS_COLUMNS[1:])
SWEEP_HISTORY_COLUMNS = tuple(c for c in SWEEP_LOSS_COLUMNS if c != "optimizer")


def member_state(params: PyTree, phase_cfg) -> TrainState:
    """The initial train state of every member (params stacked on axis 0) for a phase."""
    opt = optimizer(phase_cfg)
    return jax.vmap(lambda p: init_state(p, opt))(params)


def sweep_skeleton(params: PyTree, phases, phase: int) -> tuple[TrainState, PyTree]:
    """(state, best) as a sweep's checkpoint taken in `phase` holds them."""
    return member_state(params, phases[phase]), params


class UdeSweepTask(UdeTask):
    """The `members` of a sweep trained at once. `params`: their network parameters stacked on
    axis 0; `recordings`: each member's data (stacked into a batched argument of the step when the
    data are swept; otherwise every member trains on `loss_fn.data`)."""

    columns = SWEEP_HISTORY_COLUMNS
    loss_columns = SWEEP_LOSS_COLUMNS

    def __init__(self, loss_fn: TrajectoryLoss, params: PyTree, members: MemberTable, recordings: list[Recording],
                 phases, max_consecutive_failures: int = 20, checkpoint_every: int = 100,
                 identity: dict | None = None):
        super().__init__(loss_fn, params, phases, max_consecutive_failures, checkpoint_every, identity)
        self.sweep = members
        self.recordings = list(recordings)
        self.members = len(members)
        # the member axis padded to fill every device and sharded over them (one device: as is)
        self.placement = Placement(self.members)
        data = self.member_data(members, self.recordings)
        self.data = None if data is None else self.placement.place(data)

    @staticmethod
    def member_data(members: MemberTable, recordings) -> PyTree | None:
        """What differs between members' objectives, stacked on a member axis (None: nothing; every
        member trains on `loss_fn`'s own): here the data samples, when data.* is swept."""
        return jnp.stack([jnp.asarray(r.y) for r in recordings]) if data_swept(members) else None

    @staticmethod
    def with_member_data(objective, d):
        """The objective of one member: `objective` with that member's slice of `member_data`."""
        return eqx.tree_at(lambda o: o.data, objective, d)

    def describe(self, m: int) -> str:
        return f"member {m} (" + ", ".join(f"{k} = {v:g}" for k, v in self.sweep.row(m).items()) + ")"

    def phase_state(self, params: PyTree, phase: int) -> TrainState:
        return member_state(params, self.phases[phase])

    def compile(self, phase: int, state: TrainState) -> Callable:
        key = (phase, signature(state))
        if key not in self._compiled:
            objective, data, h = self.objectives[phase], self.data, hyper(self.phases[phase])
            one = raw_step(self.phases[phase])
            axis = None if data is None else 0
            with_data = self.with_member_data

            def batched(state, objective, data, iteration, h):
                def step(st, d):
                    obj = objective if d is None else with_data(objective, d)
                    return one(st, obj, iteration, h)

                return jax.vmap(step, in_axes=(0, axis))(state, data)

            if self.placement.sharded:  # the program follows the sharded member axis (traced here, once)
                compiled = eqx.filter_jit(batched)
            else:  # one device: through the program cache (a warm run does not trace)
                compiled = compile_cached_step(batched, state, objective, data, _iteration(0), h,
                                               stats=lambda leaves: StepStats(*leaves))
            self._compiled[key] = lambda st, i: compiled(st, objective, data, _iteration(i), h)
        return self._compiled[key]

    def record(self, step: int, phase: int, stats, wall_s: float) -> Record:
        stats = self.placement.unpad(stats)
        loss, gnorm, lr = (np.asarray(x, float) for x in (stats.loss, stats.grad_norm, stats.lr))
        ok = np.asarray(stats.accepted, bool)
        rows = [{"step": step, "member": m, "phase": phase, "loss": loss[m], "grad_norm": gnorm[m], "lr": lr[m],
                 "wall_s": wall_s, "rejected": 0 if ok[m] else 1} for m in range(self.members)]
        return Record(rows, loss, ok, comparable=step >= self.loss_fn.full_window_from)

    def select(self, mask, params, best):
        keep = jnp.asarray(self.placement.mask(mask))
        return jax.tree.map(lambda p, b: jnp.where(keep.reshape((-1,) + (1,) * (p.ndim - 1)), p, b), params, best)

    def failure(self, cur: Cursor, rec: Record) -> str:
        p = cur.phase
        bad = [self.describe(int(m)) for m in np.flatnonzero(~np.asarray(rec.accepted, bool))]
        return (f"{int(cur.consecutive.max())} steps in a row rejected for a member (solve failed or loss not finite) at "
                f"iteration {cur.step} (phase {p}, {self.phases[p].optimizer}); rejected now: {', '.join(bad)}. "
                "Lower the learning rate, clip gradients, or check the network's input/output scaling and "
                "the solver's max_steps.")

    def best_artefact(self, cur: Cursor):
        """best.eqx of a sweep: every member's best network, stacked on axis 0."""
        header = {"best_loss": cur.best_loss.tolist(), "best_iteration": cur.best_step.tolist(),
                  "members": self.members}
        return header, self.loss_fn.network(self.placement.unpad(cur.best))

    def final_loss(self, cur: Cursor) -> np.ndarray:
        """Each member's loss at its final parameters: one more (discarded) step of the last phase."""
        _, stats = self.compile(cur.phase, cur.state)(cur.state, cur.step)
        return np.asarray(self.placement.unpad(stats.loss), float).reshape(-1)

    def to_host(self, tree):
        return self.placement.unpad(tree)

    def to_device(self, tree):
        return self.placement.place(tree)
