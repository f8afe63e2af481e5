"""`MemberTable`: the members of a run, one row each, one column per swept parameter.

Every command builds its members this way (`Binding.table`); a run without a sweep is one row
and no columns. The table carries what members.csv, figures and checkpoints need to name a
member: the columns' dotted paths, their units, which are whole numbers, and an identity that a
checkpoint must match to be resumed.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class MemberTable:
    names: tuple[str, ...]  # swept dotted paths, the columns
    values: np.ndarray  # (members, len(names)) float64, in member order
    units: tuple[str | None, ...] = ()  # per column: the unit ("" dimensionless; None unknown)
    integers: frozenset[str] = frozenset()  # columns that hold whole numbers (seeds)

    def __post_init__(self):
        names = tuple(self.names)
        values = np.asarray(self.values, dtype=np.float64)
        values = values.reshape(values.shape[0] if values.ndim else 1, len(names))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)
        if not self.units:
            object.__setattr__(self, "units", (None,) * len(names))

    @classmethod
    def single(cls) -> MemberTable:
        """A run without a sweep: one member, nothing swept."""
        return cls((), np.zeros((1, 0)))

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    def swept(self, name: str) -> bool:
        return name in self.names

    def column(self, name: str, default: float | None = None) -> np.ndarray:
        """Every member's value of `name`: its column, or `default` for all when it is not swept."""
        if name in self.names:
            return self.values[:, self.names.index(name)]
        if default is None:
            raise KeyError(f"{name} is not swept")
        return np.full(len(self), float(default))

    def row(self, i: int) -> dict[str, float | int]:
        """Member i's swept values by path (whole-number columns as int)."""
        return {n: int(v) if n in self.integers else float(v) for n, v in zip(self.names, self.values[i])}

    def label(self, i: int, sep: str = ", ") -> str:
        """Member i by its swept values and their units: 'amplitude = 10 µA/cm², g_Na = 120 mS/cm²'."""
        parts = []
        for name, unit, value in zip(self.names, self.units, self.values[i]):
            field = name.split(".")[-1]
            unit = "" if unit in (None, "", "dimensionless") else f" {unit}"
            parts.append(f"{field} = {value:.4g}{unit}")
        return sep.join(parts)

    def unit(self, name: str) -> str | None:
        return self.units[self.names.index(name)]

    def identity(self) -> dict:
        """The table as a checkpoint or progress record must match it (another sweep is refused)."""
        return {"names": list(self.names), "table": self.values.tolist()}
