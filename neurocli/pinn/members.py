"""The members of a train-pinn run: each member's PDE parameters (a, k), and which of them are swept.

A run's members are the rows of the config's member table (`TrainPinnConfig.member_table()`: a
list `pde.a`, or the `sweep:` section over `pde.a` and `pde.k`). Every member carries its own
(a, k); a parameter that is not swept takes its scalar value from `pde`. Inside the vmapped step a
member's (a, k) is a `PdeParams` (stacked over members outside it), so one compiled step serves
every member whatever its constants.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from neurocli.config.pinn import TrainPinnConfig
from neurocli.plotting.style import member_label


class PdeParams(eqx.Module):
    """A member's threshold a, steepness k and ramp offset θ (a leading member axis outside the
    vmap; the offset is NaN, and unused, for a sigmoid H_k)."""

    a: Float[Array, "..."]
    k: Float[Array, "..."]
    offset: Float[Array, "..."] | None = None


@dataclasses.dataclass(frozen=True)
class Members:
    names: tuple[str, ...]  # the swept parameters' dotted paths (pde.a, pde.k)
    table: np.ndarray  # (members, len(names)) float64, the swept values in member order
    a: np.ndarray  # (members,) every member's a, float64
    k: np.ndarray  # (members,) every member's k, float64
    offset: np.ndarray | None = None  # (members,) every member's ramp offset (None: 0, the paper's)

    @property
    def n(self) -> int:
        return int(self.a.size)

    @property
    def k_swept(self) -> bool:
        return "pde.k" in self.names

    def params(self, dtype) -> PdeParams:
        """(a, k) of every member in the training precision."""
        offset = np.zeros_like(self.a) if self.offset is None else self.offset
        return PdeParams(jnp.asarray(self.a, dtype), jnp.asarray(self.k, dtype), jnp.asarray(offset, dtype))

    def label(self, i: int, sep: str = ", ") -> str:
        """Member i by its swept values: 'a = 0.1, k = 5'."""
        return member_label(self.names, self.table[i], sep)


def members_of(cfg: TrainPinnConfig) -> Members:
    """The members of the config: its member table, with the parameters it does not sweep filled in."""
    names, table = tuple(cfg.swept), np.asarray(cfg.member_table(), dtype=np.float64)
    n = table.shape[0]
    scalar = {"pde.a": cfg.pde.a if not isinstance(cfg.pde.a, list) else np.nan, "pde.k": cfg.pde.k,
              "pde.heaviside.offset": getattr(cfg.pde.heaviside, "offset", np.nan)}
    column = {p: table[:, names.index(p)] if p in names else np.full(n, float(scalar[p])) for p in scalar}
    return Members(names, table, column["pde.a"], column["pde.k"], column["pde.heaviside.offset"])


def a_members(a_values, k: float) -> Members:
    """The one-parameter form: members over a, all with the same k."""
    a = np.asarray(a_values, dtype=np.float64).reshape(-1)
    return Members(("pde.a",), a[:, None], a, np.full(a.size, float(k)))
