"""A train-ude sweep's members: the swept values of each, its config and its training data.

The `sweep` table (config/common.py `SweepConfig`) has one row per member and one column per
swept path: `runtime.seed` (the network's initialisation), `data.seed` (the noise draw) and
`data.noise.<state>` (a state's noise standard deviation). Member i trains exactly what the
config with that row's values (and no sweep) trains alone, except that the network's input
centring and scaling, when not configured, come from the config's own data (its data.seed and
data.noise), shared by every member: a network's settings are the same for all members of one
vmapped step.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from neurocli.config.ude import NOISE, TrainUDEConfig
from neurocli.ude.data import Recording, with_noise

@dataclasses.dataclass(frozen=True)
class Members:
    names: tuple[str, ...]  # swept paths, the table's columns
    table: np.ndarray  # (members, paths)

    @classmethod
    def of(cls, cfg: TrainUDEConfig) -> Members:
        return cls(tuple(cfg.sweep.names), np.asarray(cfg.sweep.table(), dtype=float))

    def __len__(self) -> int:
        return self.table.shape[0]

    @property
    def data_swept(self) -> bool:
        return any(n.startswith("data.") for n in self.names)

    @property
    def noise_swept(self) -> list[str]:
        return [n for n in self.names if n.startswith(NOISE)]

    def is_integer(self, name: str) -> bool:
        return name.endswith("seed")

    def values(self, i: int) -> dict[str, float | int]:
        """Member i's swept values by path (seeds as int)."""
        return {n: int(v) if self.is_integer(n) else float(v) for n, v in zip(self.names, self.table[i])}

    def column(self, name: str) -> np.ndarray:
        return self.table[:, self.names.index(name)]

    def identity(self) -> dict:
        """The member table as a checkpoint must match it (another sweep is refused)."""
        return {"names": list(self.names), "table": self.table.tolist()}

    def seeds(self, cfg: TrainUDEConfig) -> list[int]:
        """Each member's network seed (runtime.seed)."""
        if "runtime.seed" in self.names:
            return [int(v) for v in self.column("runtime.seed")]
        return [cfg.runtime.seed] * len(self)

    def config(self, cfg: TrainUDEConfig, i: int) -> TrainUDEConfig:
        """The config member i trains alone: the swept values set, no sweep."""
        values = self.values(i)
        runtime = cfg.runtime.model_copy(update={"seed": values.get("runtime.seed", cfg.runtime.seed)})
        data = cfg.data
        if self.data_swept:
            noise = {**data.noise, **{n[len(NOISE):]: values[n] for n in self.noise_swept}}
            data = data.model_copy(update={"seed": values.get("data.seed", data.seed), "noise": noise})
        return cfg.model_copy(update={"runtime": runtime, "data": data, "sweep": None})

    def recordings(self, cfg: TrainUDEConfig, base: Recording) -> list[Recording]:
        """Each member's data: the config's own (`base`) unless data.* is swept, then base's clean
        trajectory with the member's noise."""
        if not self.data_swept:
            return [base] * len(self)
        out = []
        for i in range(len(self)):
            data = self.config(cfg, i).data
            out.append(with_noise(base, data.noise, data.seed))
        return out


def stack(trees: list[PyTree]) -> PyTree:
    """Members' pytrees stacked on a leading member axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def member(tree: PyTree, i: int) -> PyTree:
    """Member i of a pytree stacked on axis 0."""
    return jax.tree.map(lambda x: x[i], tree)
