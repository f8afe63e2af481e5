"""Config sections shared by several commands: runtime, solver, time grid, stimulus, sweep."""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section, ignored_unless

EXPLICIT_SOLVERS = ("euler", "heun", "bosh3", "tsit5", "dopri5", "dopri8")
IMPLICIT_SOLVERS = ("kvaerno3", "kvaerno4", "kvaerno5")
IMEX_SOLVERS = ("kencarp3", "kencarp4", "kencarp5")
SolverName = Literal[EXPLICIT_SOLVERS + IMPLICIT_SOLVERS + IMEX_SOLVERS]  # type: ignore[valid-type]


MAX_SAVED_SAMPLES = 1_000_000
"""Saved samples per member: a million rows of trajectory.csv is past what anyone reads or plots."""


class TrackingConfig(Section):
    """Optional mirrors of the run (`pip install 'neurocli[tracking]'`, neurocli/tracking/); the run
    directory stays the record, and a tracking failure is a warning, never a failed run."""

    tensorboard: bool = Field(default=False, description="event files in <run>/tensorboard/ as the run goes")
    mlflow: bool | str = Field(default=False, description="true: the store sqlite:///<output-root>/mlflow.db; "
                               "or a tracking URI (sqlite:///FILE.db, http://HOST:PORT)")
    experiment: str | None = Field(default=None, description="MLflow experiment (None: the command's name)")

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.mlflow, str) and not self.mlflow.strip():
            raise KeyedError("mlflow", "is empty; expected true or a tracking URI such as sqlite:///mlflow.db")
        if self.experiment is not None and not self.experiment.strip():
            raise KeyedError("experiment", "is empty; expected a name (or leave it out: the command's name)")
        ignored_unless(self, "experiment", self.mlflow is not False, "MLflow is off (mlflow: false)")
        return self


class RuntimeConfig(Section):
    """How JAX runs: precision, the persistent compilation cache, the random seed, and the memory a
    run may plan to use (checked before compiling: neurocli.memory)."""

    precision: Literal["float32", "float64"] = "float64"
    compilation_cache: bool = True
    seed: int = Field(default=0, ge=0, lt=2**32)
    memory_budget_gb: PositiveFloat | None = Field(
        default=None, description="GiB a run may plan to use; sweeps size their chunks from it (None: half the physical memory)"
    )
    chunk_size: PositiveInt | None = Field(
        default=None, description="sweeps: members per chunk (None: as many as the memory budget allows)"
    )
    cpu_devices: Annotated[int, Field(ge=1, le=1024)] | None = Field(
        default=None, description="CPU devices JAX makes, each running its share of a sweep's members on its own "
        "core (None: one per core for simulate's chunked sweeps, else 1); no effect on GPU or TPU runs"
    )
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="TensorBoard and MLflow (off)")


class SolverConfig(Section):
    """A diffrax solver and its adaptive step-size control."""

    name: SolverName = "tsit5"
    rtol: PositiveFloat = 1e-8
    atol: PositiveFloat = 1e-8
    dt0: PositiveFloat | None = None  # None: diffrax picks the first step
    dtmax: PositiveFloat | None = None  # adaptive: the largest step (None: unbounded)
    adaptive: bool = True
    max_steps: Annotated[int, Field(ge=1, le=10**9)] = 1_000_000

    @model_validator(mode="after")
    def _check(self):
        if not self.adaptive and self.dt0 is None:
            raise KeyedError("dt0", "a fixed-step solve (adaptive: false) needs dt0")
        if self.adaptive and self.name == "euler":
            raise KeyedError("name", "euler has no error estimate: set adaptive: false and dt0")
        ignored_unless(self, "dtmax", self.adaptive, "a fixed-step solve (adaptive: false) takes steps of dt0")
        return self


class TimeConfig(Section):
    """The time span and the output grid (ms for neuron models, dimensionless for PDEs)."""

    t0: float = 0.0
    t1: float
    save_every: PositiveFloat

    @model_validator(mode="after")
    def _check(self):
        if not self.t1 > self.t0:
            raise KeyedError("t1", f"must be greater than t0 (got t0={self.t0}, t1={self.t1})")
        if self.save_every > self.t1 - self.t0:
            raise KeyedError("save_every", "must not exceed t1 - t0")
        if (self.t1 - self.t0) / self.save_every >= MAX_SAVED_SAMPLES:
            raise KeyedError(
                "save_every",
                f"{self.save_every:g} over t1 - t0 = {self.t1 - self.t0:g} saves "
                f"{(self.t1 - self.t0) / self.save_every:.3g} samples; at most {MAX_SAVED_SAMPLES} "
                "(raise time.save_every or shorten time.t1 - time.t0)",
            )
        return self

    @property
    def num_samples(self) -> int:
        return int(math.floor((self.t1 - self.t0) / self.save_every + 1e-9)) + 1

    @property
    def grid(self) -> np.ndarray:
        """The output times t0, t0 + save_every, … (t1 included when it falls on the grid).

        Clipped to t1: t0 + save_every · n can round past t1 (1e-5 · 5000000 = 50.00000000000001),
        and a solver returns no value after its end.
        """
        return np.minimum(self.t0 + self.save_every * np.arange(self.num_samples), self.t1)


class NoStimulus(Section):
    kind: Literal["none"] = "none"


class PulseStimulus(Section):
    """A rectangular current pulse: `amplitude` µA/cm² for start <= t < start + duration (ms)."""

    kind: Literal["pulse"]
    start: float
    duration: PositiveFloat
    amplitude: float


class StepStimulus(Section):
    """A constant current switched on at `start` (ms) and held."""

    kind: Literal["step"]
    start: float = 0.0
    amplitude: float


class PulseTrainStimulus(Section):
    """`count` pulses of `duration` ms every `period` ms from `start`."""

    kind: Literal["pulse_train"]
    start: float
    period: PositiveFloat
    duration: PositiveFloat
    amplitude: float
    count: Annotated[int, Field(ge=1, le=100_000)]

    @model_validator(mode="after")
    def _check(self):
        if self.duration >= self.period:
            raise KeyedError("duration", "must be shorter than period")
        return self


StimulusConfig = Annotated[
    Union[NoStimulus, PulseStimulus, StepStimulus, PulseTrainStimulus], Field(discriminator="kind")
]


class Linspace(Section):
    """`num` evenly spaced values from `start` to `stop` (both included)."""

    start: float
    stop: float
    num: PositiveInt

    def values(self) -> np.ndarray:
        if self.num == 1:
            return np.array([self.start])
        step = (self.stop - self.start) / (self.num - 1)
        return self.start + step * np.arange(self.num)


class Logspace(Section):
    """`num` values from `start` to `stop` (both > 0, both included), evenly spaced in log."""

    start: PositiveFloat
    stop: PositiveFloat
    num: PositiveInt

    def values(self) -> np.ndarray:
        if self.num == 1:
            return np.array([self.start])
        values = np.geomspace(self.start, self.stop, self.num)
        return np.array([float(f"{v:.12g}") for v in values])  # 238, not 237.99999999999994


class SweepAxis(Section):
    """One swept parameter: `values`, a `linspace` or a `logspace`; for `samples`, a range to draw
    from: `uniform: [low, high]` or `log_uniform: [low, high]` (low > 0)."""

    parameter: str = Field(description="dotted path, e.g. stimulus.amplitude or model.g_Na")
    values: list[float] | None = None
    linspace: Linspace | None = None
    logspace: Logspace | None = None
    uniform: tuple[float, float] | None = None
    log_uniform: tuple[PositiveFloat, PositiveFloat] | None = None

    @model_validator(mode="after")
    def _check(self):
        given = [k for k in ("values", "linspace", "logspace", "uniform", "log_uniform") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of values, linspace, logspace (or, with samples, uniform or log_uniform)"
                + (f"; got {', '.join(given)}" if given else "")
            )
        if self.values is not None and len(self.values) == 0:
            raise KeyedError("values", "is empty: a sweep needs at least one value")
        for key in ("uniform", "log_uniform"):
            rng = getattr(self, key)
            if rng is not None and not rng[1] > rng[0]:
                raise KeyedError(key, f"expected [low, high] with high > low (got {list(rng)})")
        return self

    @property
    def sampled(self) -> bool:
        return self.uniform is not None or self.log_uniform is not None

    def grid_values(self) -> np.ndarray:
        if self.values is not None:
            return np.asarray(self.values, dtype=float)
        return (self.linspace or self.logspace).values()


class SweepConfig(Section):
    """Which members a run has: a table with one row per member and one column per parameter.

    One parameter (the original form): `{parameter, values | linspace | logspace}`.
    Several: `parameters: [{parameter, values | linspace | logspace}, ...]` with `combine: grid`
    (the Cartesian product; the first parameter varies slowest, the last fastest) or `zip`
    (member i takes the i-th value of every parameter; equal lengths).
    Random: `samples: N` members, each parameter drawn from `uniform` or `log_uniform` ranges with
    `seed`; `method: latin_hypercube` (one draw in each of N equal strata per parameter) or `random`.
    """

    parameter: str | None = Field(default=None, description="one-parameter form: the dotted path")
    values: list[float] | None = None
    linspace: Linspace | None = None
    logspace: Logspace | None = None
    parameters: list[SweepAxis] | None = None
    combine: Literal["grid", "zip"] = "grid"
    samples: PositiveInt | None = None
    seed: int = 0
    method: Literal["latin_hypercube", "random"] = "latin_hypercube"

    @model_validator(mode="after")
    def _check(self):
        single = self.parameter is not None
        if single == (self.parameters is not None):
            raise ValueError("give either parameter (with values, linspace or logspace) or a list of parameters")
        if single:
            given = [k for k in ("values", "linspace", "logspace") if getattr(self, k) is not None]
            if len(given) != 1:
                raise ValueError("give exactly one of values, linspace or logspace")
            if self.values is not None and len(self.values) == 0:
                raise KeyedError("values", "is empty: a sweep needs at least one value")
            if self.samples is not None:
                raise KeyedError("samples", "draws from ranges: list them under parameters with uniform or log_uniform")
            return self
        for key in ("values", "linspace", "logspace"):
            if getattr(self, key) is not None:
                raise KeyedError(key, "belongs to one parameter: put it in its entry under parameters")
        if not self.parameters:
            raise KeyedError("parameters", "is empty: a sweep needs at least one parameter")
        names = [a.parameter for a in self.parameters]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise KeyedError(f"parameters[{i}].parameter", f"{name!r} is swept twice")
        for i, axis in enumerate(self.parameters):
            if self.samples is None and axis.sampled:
                raise KeyedError(f"parameters[{i}]", "uniform and log_uniform ranges need samples: N")
            if self.samples is not None and not axis.sampled:
                raise KeyedError(f"parameters[{i}]", "with samples, give a range: uniform or log_uniform")
        if self.samples is None and self.combine == "zip":
            lengths = [len(a.grid_values()) for a in self.parameters]
            if len(set(lengths)) > 1:
                bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
                raise KeyedError(f"parameters[{bad}]", f"zip needs equal lengths (got {lengths})")
        return self

    @property
    def names(self) -> list[str]:
        """The swept parameters' dotted paths, in the table's column order."""
        return [self.parameter] if self.parameter is not None else [a.parameter for a in self.parameters]

    @property
    def axes(self) -> list[np.ndarray]:
        """The distinct values of each parameter along a grid (grid sweeps); the columns otherwise."""
        if self.parameter is not None:
            return [self.table()[:, 0]]
        if self.samples is None and self.combine == "grid":
            return [a.grid_values() for a in self.parameters]
        return list(self.table().T)

    @property
    def member_count(self) -> int:
        """How many members the sweep has, counted without building the table."""
        if self.parameter is not None:
            return len(self.values) if self.values is not None else (self.linspace or self.logspace).num
        if self.samples is not None:
            return self.samples
        lengths = [len(a.values) if a.values is not None else (a.linspace or a.logspace).num for a in self.parameters]
        return lengths[0] if self.combine == "zip" else int(np.prod(lengths, dtype=object))

    @property
    def is_grid(self) -> bool:
        return self.parameter is not None or (self.samples is None and self.combine == "grid")

    def table(self) -> np.ndarray:
        """(members, parameters): one row per member, in the order members run and are written."""
        if self.parameter is not None:
            if self.values is not None:
                return np.asarray(self.values, dtype=float)[:, None]
            return (self.linspace or self.logspace).values()[:, None]
        if self.samples is not None:
            return self._samples()
        columns = [a.grid_values() for a in self.parameters]
        if self.combine == "zip":
            return np.stack(columns, axis=1)
        mesh = np.meshgrid(*columns, indexing="ij")  # first parameter slowest
        return np.stack([m.ravel() for m in mesh], axis=1)

    def _samples(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n, d = self.samples, len(self.parameters)
        if self.method == "latin_hypercube":
            strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
            unit = (strata + rng.random((n, d))) / n
        else:
            unit = rng.random((n, d))
        out = np.empty((n, d))
        for j, axis in enumerate(self.parameters):
            if axis.uniform is not None:
                lo, hi = axis.uniform
                out[:, j] = lo + (hi - lo) * unit[:, j]
            else:
                lo, hi = np.log(axis.log_uniform[0]), np.log(axis.log_uniform[1])
                out[:, j] = np.exp(lo + (hi - lo) * unit[:, j])
        return out

    def member_values(self) -> list[float]:
        """One-parameter sweeps: the values, in member order."""
        if len(self.names) != 1:
            raise ValueError("member_values() is for one-parameter sweeps; use table()")
        return self.table()[:, 0].tolist()


def check_sweep_path(sweep: SweepConfig | None, sections: dict[str, Section]) -> None:
    """Every swept parameter must be a float field of one of `sections`, or of a section inside
    one (`model.heaviside.offset`); the values swept into such a nested field must pass its own
    checks (e.g. offset in [0, 1])."""
    if sweep is None:
        return
    for i, path in enumerate(sweep.names):
        key = "sweep.parameter" if sweep.parameter is not None else f"sweep.parameters[{i}].parameter"
        _check_path(path, key, sections)
        if path.count(".") >= 2:
            axis = sweep if sweep.parameter is not None else sweep.parameters[i]
            _check_nested_values(path, key.removesuffix("parameter"), axis, sections)


def _swept_ends(axis) -> list[tuple[str, float]]:
    """(key, value) of the values an axis sweeps: every listed value, the ends of a range."""
    if getattr(axis, "values", None) is not None:
        return [(f"values[{j}]", v) for j, v in enumerate(axis.values)]
    for key in ("linspace", "logspace"):
        spec = getattr(axis, key, None)
        if spec is not None:
            return [(key, v) for v in ((spec.start,) if spec.num == 1 else (spec.start, spec.stop))]
    for key in ("uniform", "log_uniform"):
        rng = getattr(axis, key, None)
        if rng is not None:
            return [(key, v) for v in rng]
    return []


def _check_nested_values(path: str, where: str, axis, sections: dict[str, Section]) -> None:
    from pydantic import ValidationError

    parts = path.split(".")
    owner = sections[parts[0]]
    for part in parts[1:-1]:
        owner = getattr(owner, part)
    for key, value in _swept_ends(axis):
        try:
            type(owner).model_validate({**owner.model_dump(), parts[-1]: value})
        except (ValidationError, ValueError) as exc:
            errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else []
            cause = errors[0].get("ctx", {}).get("error") if errors else None
            why = str(cause) if cause is not None else (errors[0]["msg"] if errors else str(exc))
            raise KeyedError(where + key, f"gives {path} = {value:g}: {why.removeprefix('Value error, ')}") from None


def scalar_paths(section: Section, prefix: str) -> list[str]:
    """The dotted paths of a section's float fields, those of the sections inside it included
    (`model.heaviside.offset`, `model.initial.height`)."""
    paths = []
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, float):
            paths.append(prefix + name)
        elif isinstance(value, Section):
            paths.extend(scalar_paths(value, prefix + name + "."))
    return paths


def _check_path(path: str, key: str, sections: dict[str, Section]) -> None:
    root, _, field = path.partition(".")
    if root not in sections or not field:
        raise KeyedError(key, f"{path!r}: expected one of " + ", ".join(f"{r}.<field>" for r in sections))
    section = sections[root]
    scalars = scalar_paths(section, root + ".")
    if path not in scalars:
        raise KeyedError(
            key,
            f"{path!r} is not a scalar parameter of {root}; "
            f"expected one of {', '.join(scalars)}"
        )
