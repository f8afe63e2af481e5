"""Which dotted paths a command may sweep, what limits them, and where each value goes.

A `Parameter` ties one sweepable path (`model.g_Na`, `pde.k`, `runtime.seed`) to the schema field
that states its bounds, unit and what it moves (pydantic metadata: `Field(gt=0)`,
`config.base.Unit`, `config.base.Moves`: a stimulus timing moves the jump times, a length the
grid, a final time the clock), and to
where a member's value lives: a chain of attributes in the command's pytree (set with
`eqx.tree_at`), or nowhere (`target=None`: the command sets it on the member's config). A
`Binding` is one command's parameters; `Binding.validate` is the one sweep validator of every
command, `Binding.table` builds the `MemberTable`, and `set_values` puts a member's row into a pytree.

Adding a sweepable parameter is one `Parameter` in the command's binding (its config module).
No JAX here: configs are checked before anything imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from neurocli.config.base import KeyedError, Limits, field_moves, field_unit
from neurocli.members.table import MemberTable


@dataclasses.dataclass(frozen=True)
class Parameter:
    path: str  # the dotted config path, members.csv's column
    section: type | None = None  # the schema class whose field bounds it (and may give its unit)
    field: str = ""  # that field's name (default: the path's last part)
    target: tuple[str, ...] | None = None  # attributes from the command's pytree to the value
    unit: str | None = None  # overrides the field's declared unit
    limits: Limits | None = None  # overrides the field's bounds
    integer: bool = False  # whole numbers only (seeds)
    owner: object | None = None  # the config section instance holding it: swept values must pass its checks too

    @property
    def name(self) -> str:
        return self.field or self.path.rsplit(".", 1)[-1]

    def bounds(self) -> Limits:
        if self.limits is not None:
            return self.limits
        return Limits.of(self.section, self.name) if self.section is not None else Limits()

    def moves(self) -> set[str]:
        """What the value moves (the field's `Moves` metadata): edges (a stimulus timing: the
        solver's jump times), grid (a length: the spacing), time (a final time: the clock)."""
        return field_moves(self.section, self.name) if self.section is not None else set()

    def declared_unit(self) -> str | None:
        if self.unit is not None:
            return self.unit
        return field_unit(self.section, self.name) if self.section is not None else None


@dataclasses.dataclass(frozen=True)
class Binding:
    command: str  # for messages: "simulate", "train-pinn", "train-ude"
    parameters: tuple[Parameter, ...]

    def __post_init__(self):
        object.__setattr__(self, "parameters", tuple(self.parameters))

    def __getitem__(self, path: str) -> Parameter:
        return next(p for p in self.parameters if p.path == path)

    def __contains__(self, path: str) -> bool:
        return any(p.path == path for p in self.parameters)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.parameters]

    # -- the one sweep validator ------------------------------------------------------------------
    def validate(self, sweep, max_members: int | None = None) -> None:
        """Every swept path is one of this command's parameters and every value obeys its field's
        bounds (and is whole where it must be). Raises KeyedError naming the sweep's key; the table
        is not built for ranges (a 10⁷-member linspace is checked by its ends)."""
        if sweep is None:
            return
        if max_members is not None and sweep.member_count > max_members:
            raise KeyedError("sweep", f"has {sweep.member_count} members; at most {max_members} for {self.command}")
        single = sweep.parameter is not None
        axes = [sweep] if single else sweep.parameters
        for i, (path, axis) in enumerate(zip(sweep.names, axes)):
            where = "sweep." if single else f"sweep.parameters[{i}]."
            if path not in self:
                raise KeyedError(where + "parameter", f"{path!r} cannot be swept in {self.command}; expected one of "
                                 + ", ".join(self.paths))
            _check_axis(self[path], axis, where)

    # -- members ---------------------------------------------------------------------------------
    def table(self, sweep) -> MemberTable:
        """The run's members: the sweep's table (one row, no columns without a sweep)."""
        if sweep is None:
            return MemberTable.single()
        params = [self[p] for p in sweep.names]
        return MemberTable(tuple(sweep.names), sweep.table(), tuple(p.declared_unit() for p in params),
                           frozenset(p.path for p in params if p.integer))

    def where(self, names: Sequence[str], kind: str) -> list[int]:
        """Columns whose parameter moves stimulus edges (`kind="edges"`), a grid (`"grid"`) or the
        final time (`"time"`)."""
        return [j for j, n in enumerate(names) if kind in self[n].moves()]


def set_values(tree, targets: Sequence[tuple[str, ...] | str | None], row):
    """`tree` with the value at each target (a chain of attributes, or a dotted path) replaced by
    row[j], with `eqx.tree_at`: the one way a member's value is put into a model pytree."""
    import equinox as eqx

    for j, target in enumerate(targets):
        if target is None:  # a value no model field holds (a final time: the member's clock)
            continue
        tree = eqx.tree_at(lambda t, target=target: value_at(t, target), tree, row[j])
    return tree


def value_at(tree, target: tuple[str, ...] | str):
    """What `tree` holds at a target (a chain of attributes, or a dotted path)."""
    for attr in tuple(target.split(".")) if isinstance(target, str) else tuple(target):
        tree = getattr(tree, attr)
    return tree


def _check_axis(param: Parameter, axis, where: str) -> None:
    _check_bounds(param, axis, where)
    if param.owner is not None:  # the section's own rules that involve other fields (start < stop)
        for key, value in _swept_ends(axis):
            _check_owner(param, value, where + key)


def _swept_ends(axis) -> list[tuple[str, float]]:
    """(key, value) of the values an axis sweeps: every listed value, the ends of a range."""
    if axis.values is not None:
        return [(f"values[{j}]", v) for j, v in enumerate(axis.values)]
    for key in ("linspace", "logspace"):
        spec = getattr(axis, key, None)
        if spec is not None:
            return [(key, v) for v in ((spec.start,) if spec.num == 1 else (spec.start, spec.stop))]
    rng = getattr(axis, "uniform", None) or getattr(axis, "log_uniform", None)
    return [] if rng is None else [("uniform" if axis.uniform is not None else "log_uniform", rng[0])]


def _check_owner(param: Parameter, value: float, key: str) -> None:
    from pydantic import ValidationError

    owner = param.owner
    try:
        type(owner).model_validate({**owner.model_dump(), param.name: value})
    except (ValidationError, ValueError) as exc:
        errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else []
        cause = errors[0].get("ctx", {}).get("error") if errors else None
        why = str(cause) if cause is not None else (errors[0]["msg"] if errors else str(exc))
        raise KeyedError(key, f"gives {param.path} = {value:g}: {why.removeprefix('Value error, ')}") from None


def _check_bounds(param: Parameter, axis, where: str) -> None:
    bounds, path = param.bounds(), param.path
    why = bounds.describe()
    if axis.values is not None:
        values = np.asarray(axis.values, dtype=float)
        bad = np.nonzero(~bounds.holds(values))[0]
        if bad.size:
            raise KeyedError(f"{where}values[{bad[0]}]", f"{path} {why} (got {values[bad[0]]:g})")
        if param.integer:
            frac = np.nonzero(values != np.round(values))[0]
            if frac.size:
                raise KeyedError(f"{where}values[{frac[0]}]", f"{path} takes whole numbers (got {values[frac[0]]!r})")
        return
    for key in ("linspace", "logspace"):
        spec = getattr(axis, key, None)
        if spec is None:
            continue
        ends = (spec.start,) if spec.num == 1 else (spec.start, spec.stop)  # monotone: the ends decide
        bad = [v for v in ends if not bounds.holds(v)]
        if bad:
            raise KeyedError(where + key, f"gives {path} = {bad[0]:g}; {path} {why}")
        if param.integer:
            step = 0.0 if spec.num == 1 else (spec.stop - spec.start) / (spec.num - 1)
            if key == "logspace" or not (float(spec.start).is_integer() and float(step).is_integer()):
                raise KeyedError(where + key, f"{path} takes whole numbers: give values, or a linspace with a "
                                              "whole start and step")
    for key in ("uniform", "log_uniform"):
        rng = getattr(axis, key, None)
        if rng is None:
            continue
        if param.integer:
            raise KeyedError(where + key, f"{path} takes whole numbers; a {key} range draws fractions")
        low_ok = bool(bounds.holds(rng[0]))
        high_ok = bool(bounds.holds(rng[1])) or (bounds.high_open and rng[1] == bounds.high)  # never drawn
        if not (low_ok and high_ok):
            raise KeyedError(where + key, f"{path} {why} (got the range {list(rng)})")
