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


class RuntimeConfig(Section):
    """How JAX runs: precision, the persistent compilation cache, the random seed, and the memory a
    run may plan to use (checked before compiling: neurocli.memory)."""

    precision: Literal["float32", "float64"] = "float64"
    compilation_cache: bool = True
    seed: int = Field(default=0, ge=0, lt=2**32)
    memory_budget_gb: PositiveFloat | None = Field(
        default=None, description="GiB a run may plan to use (None: half the machine's physical memory)"
    )


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
    start: float
    stop: float
    num: PositiveInt


class SweepConfig(Section):
    """Vary one scalar parameter over `values` or a `linspace`; all members run in one solve."""

    parameter: str = Field(description="dotted path, e.g. stimulus.amplitude or model.g_Na")
    values: list[float] | None = None
    linspace: Linspace | None = None

    @model_validator(mode="after")
    def _check(self):
        if (self.values is None) == (self.linspace is None):
            raise ValueError("give exactly one of values or linspace")
        if self.values is not None and len(self.values) == 0:
            raise KeyedError("values", "is empty: a sweep needs at least one value")
        return self

    def member_values(self) -> list[float]:
        if self.values is not None:
            return list(self.values)
        ls = self.linspace
        if ls.num == 1:
            return [ls.start]
        step = (ls.stop - ls.start) / (ls.num - 1)
        return [ls.start + i * step for i in range(ls.num)]


def check_sweep_path(sweep: SweepConfig | None, sections: dict[str, Section]) -> None:
    """The swept parameter must be a float field of one of `sections`."""
    if sweep is None:
        return
    root, _, field = sweep.parameter.partition(".")
    if root not in sections or not field or "." in field:
        raise KeyedError(
            "sweep.parameter",
            f"{sweep.parameter!r}: expected one of "
            + ", ".join(f"{r}.<field>" for r in sections)
        )
    section = sections[root]
    info = type(section).model_fields.get(field)
    if info is None or not isinstance(getattr(section, field), float):
        floats = [k for k, f in type(section).model_fields.items() if isinstance(getattr(section, k), float)]
        raise KeyedError(
            "sweep.parameter",
            f"{sweep.parameter!r} is not a scalar parameter of {root}; "
            f"expected one of {', '.join(root + '.' + k for k in floats)}"
        )
