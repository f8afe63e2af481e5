"""The members of a train-pinn run, as the one member table (`neurocli.members.MemberTable`).

A run's members are the rows of its sweep: the `sweep:` section over the binding's parameters
(`TrainPinnConfig.binding()`: pde.a, pde.k), or a list `pde.a`, which is the one-parameter sweep
over pde.a (`TrainPinnConfig.member_sweep`); a scalar pde.a without a sweep is one member. Inside
the vmapped step a member's constants are one row of every bound parameter's value (`constants`:
swept or not), set on the model by the binding's targets; one compiled step serves every member.
"""

from __future__ import annotations

import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.members import MemberTable


def members_of(cfg: TrainPinnConfig) -> MemberTable:
    """The config's members: its sweep's table (or pde.a's list as a sweep)."""
    return cfg.binding().table(cfg.member_sweep)


def a_members(a_values) -> MemberTable:
    """The one-parameter form: members over pde.a (the rest from the config)."""
    a = np.asarray(a_values, dtype=np.float64).reshape(-1, 1)
    return MemberTable(("pde.a",), a, ("",))


def defaults(cfg: TrainPinnConfig) -> dict[str, float]:
    """Each bound parameter's value where it is not swept: the config's scalar."""
    return {p.path: float(getattr(cfg.pde, p.name)) if not isinstance(getattr(cfg.pde, p.name), list) else np.nan
            for p in cfg.binding().parameters}


def constants(cfg: TrainPinnConfig, members: MemberTable) -> np.ndarray:
    """(members, bound parameters) float64: every member's value of every bound parameter, in the
    binding's order (its `targets`)."""
    fill = defaults(cfg)
    return np.stack([members.column(p, fill[p]) for p in cfg.binding().paths], axis=1)


def targets(cfg: TrainPinnConfig) -> tuple[tuple[str, ...] | None, ...]:
    """Where each column of `constants` goes in the model (static: part of the compiled step);
    None for the final time, which no model field holds."""
    return tuple(p.target for p in cfg.binding().parameters)


def clock(cfg: TrainPinnConfig) -> int | None:
    """The column of `constants` that holds each member's final time, when pde.T is swept (each
    member then trains on its own clock s = t · pde.T / T_i); None otherwise."""
    binding = cfg.binding()
    swept = cfg.member_sweep.names
    return next((j for j, p in enumerate(binding.parameters) if "time" in p.moves() and p.path in swept), None)
