"""A recording fit (neurocli/ude/recording_fit.py) with a `sweep` of seeds: every member trained at
once by one vmapped step (`UdeSweepTask`'s), for identifiability.

The members are the one member table (`TrainUDEConfig.binding()`, checked by `Binding.validate`):
`runtime.seed` seeds the network's initialisation and the start of the fitted parameters
(`fit.init_jitter`); `data.seed` and `data.noise.<state>` draw each member's noise: on simulated
data's clean trajectory, or added to a recording file's samples (`data.noise`, a synthetic
experiment). Member i trains what the config with that row's values and no sweep trains alone (its own
`recording_run.setup`), except that the network's input centring and scaling, when not configured,
come from the config's own data (shared: one network shape and settings per vmapped step).

What differs between members' objectives (their data, and what is derived from it: each sweep's
starting V, the first samples, multiple shooting's start states) is stacked on a member axis
(`member_data`) and put into the objective inside the vmapped step (`with_member_data`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from neurocli.config.ude import TrainUDEConfig
from neurocli.members import MemberTable
from neurocli.training.engine import Cursor
from neurocli.ude import recording_fit as rf
from neurocli.ude import setup as ude_setup
from neurocli.ude.objective import split_network
from neurocli.ude.sweep import data_swept, member_config, members_of, recordings, stack
from neurocli.ude.sweep_task import UdeSweepTask

# the objective's fields that follow from a member's data (start_states only with multiple shooting)
MEMBER_FIELDS = ("data", "v0", "observed_y0", "start_states")


def member_sweep_sets(cfg: TrainUDEConfig, members: MemberTable, base: rf.SweepSet, prep) -> list[rf.SweepSet]:
    """Each member's sweeps: the config's own (`base`) unless data.* is swept; then a recording
    file's samples (as read) with the member's noise added, or simulated data's clean trajectory with
    the member's noise (as `ude.sweep.recordings` draws it)."""
    if not data_swept(members):
        return [base] * len(members)
    if prep.sweeps is not None:
        return [rf.with_noise(prep.sweeps, c.data.noise, c.data.seed)
                for c in (member_config(members, cfg, i) for i in range(len(members)))]
    from neurocli.ude import data as ude_data

    simulated = ude_data.simulate(cfg, prep.truth, prep.stimulus)
    return [rf.from_simulated(r, cfg.state_names) for r in recordings(members, cfg, simulated)]


def member_params(cfg: TrainUDEConfig, members: MemberTable, fit: rf.Fit, desc: dict) -> PyTree:
    """Every member's starting parameters stacked on axis 0: its network (seeded by its
    runtime.seed) and its fitted parameters' start (`rf.start_values`, the same seed)."""
    rows = []
    for i in range(len(members)):
        seed = member_config(members, cfg, i).runtime.seed
        net, _ = split_network(ude_setup.build_network(desc, seed))
        start = rf.start_values(fit.specs, cfg.fit.init_jitter if cfg.fit is not None else 0.0, seed)
        rows.append(rf.initial_params(net, fit.specs, len(fit.train), fit.fit_v0, start))
    return stack(rows)


def member_losses(cfg: TrainUDEConfig, members: MemberTable, fits: list[rf.Fit], ude, static, stimulus,
                  heldout: bool = False) -> list[rf.MultiSweepLoss]:
    """Each member's objective over its training sweeps (or its held-out ones)."""
    return [rf.make_multi_loss(member_config(members, cfg, i), f, ude, static, stimulus,
                               f.heldout if heldout else f.train, use_v0=not heldout) for i, f in enumerate(fits)]


def stacked_fields(losses: list[rf.MultiSweepLoss]) -> dict:
    """The member-dependent fields of these objectives, stacked on a member axis."""
    return {k: jnp.stack([getattr(loss, k) for loss in losses]) for k in MEMBER_FIELDS
            if getattr(losses[0], k) is not None}


def with_fields(objective: rf.MultiSweepLoss, d: dict) -> rf.MultiSweepLoss:
    """`objective` with one member's fields (a slice of `stacked_fields`)."""
    names = list(d)
    return eqx.tree_at(lambda o: [getattr(o, k) for k in names], objective, [d[k] for k in names])


class RecordingSweepTask(UdeSweepTask):
    """`UdeSweepTask` over a `MultiSweepLoss`: `recordings` are the members' own objectives, whose
    data-dependent fields the step swaps in per member when data.* is swept. best.eqx holds every
    member's network (stacked) and its header every member's fitted parameter values."""

    @staticmethod
    def member_data(members: MemberTable, recordings) -> PyTree | None:
        return stacked_fields(recordings) if data_swept(members) else None

    @staticmethod
    def with_member_data(objective, d):
        return with_fields(objective, d)

    def best_artefact(self, cur: Cursor):
        header, network = super().best_artefact(cur)
        best = self.placement.unpad(cur.best)
        values = rf.physical_values(self.loss_fn.specs, best)
        header["fitted_parameters"] = {k: [float(x) for x in np.asarray(v)] for k, v in values.items()}
        return header, network


def setup(cfg: TrainUDEConfig, prep, sweeps: rf.SweepSet, desc: dict | None):
    """(the config's fit, the task) of a recording sweep; `task.fits` holds each member's fit.
    `desc`: the network a checkpoint describes (None: from the config's data)."""
    members = members_of(cfg)
    fit = rf.make_fit(cfg, sweeps, "config")
    if desc is None:
        desc = rf.network_description(cfg, fit, ude_setup.network_shape(cfg))
    network = ude_setup.build_network(desc, cfg.runtime.seed)
    _, static = split_network(network)
    ude = ude_setup.build_ude(cfg, prep.truth, network)
    fits = [rf.make_fit(member_config(members, cfg, i), s, "config")
            for i, s in enumerate(member_sweep_sets(cfg, members, sweeps, prep))]
    losses = member_losses(cfg, members, fits, ude, static, prep.stimulus)
    params = member_params(cfg, members, fit, desc)
    t = cfg.train
    identity = {**ude_setup.identity(cfg, desc), **rf.fit_identity(fit)}  # as recording_run's, with the members
    task = RecordingSweepTask(losses[0], params, members, losses, t.phases, t.max_consecutive_failures,
                              t.checkpoint_every, identity)
    task.fits = fits
    return fit, task


def per_member(fn, objective: rf.MultiSweepLoss, params: PyTree, fields: dict | None):
    """fn(objective_i, params_i) for every member in one jitted, vmapped call (`fields`: the members'
    own data-dependent fields, None when they share `objective`'s)."""
    axis = None if fields is None else 0

    def one(p, d):
        return fn(objective if d is None else with_fields(objective, d), p)

    return eqx.filter_jit(jax.vmap(one, in_axes=(0, axis)))(params, fields)
