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
    """Each bound parameter's value where it is not swept: the config's scalar (NaN where the
    config has none: a list pde.a, the offset of a sigmoid H_k)."""
    return {p.path: _value_at(cfg, p.path) for p in cfg.binding().parameters}


def _value_at(cfg: TrainPinnConfig, path: str) -> float:
    node = cfg
    for part in path.split("."):
        node = getattr(node, part, None)
    return float(node) if isinstance(node, (int, float)) else np.nan


def column(cfg: TrainPinnConfig, values: np.ndarray, path: str) -> np.ndarray:
    """Every member's value of `path` from `constants(cfg, members)`."""
    return values[:, cfg.binding().paths.index(path)]


def constants(cfg: TrainPinnConfig, members: MemberTable) -> np.ndarray:
    """(members, bound parameters) float64: every member's value of every bound parameter, in the
    binding's order (its `targets`)."""
    fill = defaults(cfg)
    return np.stack([members.column(p, fill[p]) for p in cfg.binding().paths], axis=1)


def targets(cfg: TrainPinnConfig) -> tuple[tuple[str, ...] | None, ...]:
    """Where each column of `constants` goes in the model (static: part of the compiled step);
    None for the final time, which no model field holds, and for a value the config's model
    lacks (the offset of a sigmoid H_k)."""
    return tuple(p.target if np.isfinite(v) or p.path in cfg.member_sweep.names else None
                 for p, v in zip(cfg.binding().parameters, defaults(cfg).values()))


def clock(cfg: TrainPinnConfig) -> int | None:
    """The column of `constants` that holds each member's final time, when pde.T is swept (each
    member then trains on its own clock s = t · pde.T / T_i); None otherwise."""
    binding = cfg.binding()
    swept = cfg.member_sweep.names
    return next((j for j, p in enumerate(binding.parameters) if "time" in p.moves() and p.path in swept), None)
