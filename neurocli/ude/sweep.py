"""A train-ude sweep's members (a `MemberTable`): the swept values of each, its config and its
training data.

The `sweep` table (config/common.py `SweepConfig`, checked by `TrainUDEConfig.binding()`) has one
row per member and one column per swept path: `runtime.seed` (the network's initialisation), `data.seed` (the noise draw) and
`data.noise.<state>` (a state's noise standard deviation). Member i trains exactly what the
config with that row's values (and no sweep) trains alone, except that the network's input
centring and scaling, when not configured, come from the config's own data (its data.seed and
data.noise), shared by every member: a network's settings are the same for all members of one
vmapped step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from neurocli.config.ude import NOISE, TrainUDEConfig
from neurocli.members import MemberTable
from neurocli.ude.data import Recording, with_noise

def members_of(cfg: TrainUDEConfig) -> MemberTable:
    """The sweep's members (the one member table; `TrainUDEConfig.binding()` names the columns)."""
    return cfg.binding().table(cfg.sweep)


def data_swept(members: MemberTable) -> bool:
    return any(n.startswith("data.") for n in members.names)


def noise_swept(members: MemberTable) -> list[str]:
    return [n for n in members.names if n.startswith(NOISE)]


def seeds(members: MemberTable, cfg: TrainUDEConfig) -> list[int]:
    """Each member's network seed (runtime.seed)."""
    return [int(v) for v in members.column("runtime.seed", cfg.runtime.seed)]


def member_config(members: MemberTable, cfg: TrainUDEConfig, i: int) -> TrainUDEConfig:
    """The config member i trains alone: the swept values set, no sweep. (The binding's
    parameters are config-level: seeds and noise levels, which no model pytree holds.)"""
    values = members.row(i)
    runtime = cfg.runtime.model_copy(update={"seed": values.get("runtime.seed", cfg.runtime.seed)})
    data = cfg.data
    if data_swept(members):
        noise = {**data.noise, **{n[len(NOISE):]: values[n] for n in noise_swept(members)}}
        data = data.model_copy(update={"seed": values.get("data.seed", data.seed), "noise": noise})
    return cfg.model_copy(update={"runtime": runtime, "data": data, "sweep": None})


def recordings(members: MemberTable, cfg: TrainUDEConfig, base: Recording) -> list[Recording]:
    """Each member's data: the config's own (`base`) unless data.* is swept, then base's clean
    trajectory with the member's noise."""
    if not data_swept(members):
        return [base] * len(members)
    return [with_noise(base, member_config(members, cfg, i).data.noise, member_config(members, cfg, i).data.seed)
            for i in range(len(members))]


def stack(trees: list[PyTree]) -> PyTree:
    """Members' pytrees stacked on a leading member axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def member(tree: PyTree, i: int) -> PyTree:
    """Member i of a pytree stacked on axis 0."""
    return jax.tree.map(lambda x: x[i], tree)
