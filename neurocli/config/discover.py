"""The `neurocli discover` config: from a trained UDE's network to an equation.

Sections: `run` (the completed train-ude run directory; the command line's RUN_DIR), the term
`library`, where the network is `sample`d, the sparse `regression`, the `refit` through the ODE
solve, and the `runtime`. Every key has a default: `neurocli discover RUN_DIR` needs no file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from neurocli.config.base import KeyedError, Section, ignored_unless
from neurocli.config.common import RuntimeConfig

GATES = ("m", "h", "n")


class LibraryConfig(Section):
    """Candidate terms: conductances g·Π x^p·(V − E) over `gates` (products of up to `max_gates`
    distinct gates, powers 1..`max_power`), and monomials of total degree 0..`polynomial_degree`
    in the network's scaled inputs (null: none)."""

    gates: list[Literal["m", "h", "n"]] = Field(default_factory=lambda: list(GATES))
    max_power: Annotated[int, Field(ge=1, le=4)] = 4
    max_gates: Annotated[int, Field(ge=1, le=3)] = 2
    gate_states: bool = Field(
        default=True, description="a gate the network sees as an input is that state (the hidden gating "
        "variable); otherwise every gate is its steady state x∞(V)")
    polynomial_degree: Annotated[int, Field(ge=0, le=6)] | None = 3

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.gates)) != len(self.gates):
            raise KeyedError("gates", "names a gate twice")
        if not self.gates and self.polynomial_degree is None:
            raise KeyedError("gates", "the library is empty: give gates, or a polynomial_degree")
        return self


class SampleConfig(Section):
    """Where the network's current is sampled (see neurocli/discover/samples.py)."""

    along: Literal["auto", "voltage_grid", "recorded_states"] = "auto"
    points: Annotated[int, Field(ge=10, le=1_000_000)] = 401

    @model_validator(mode="after")
    def _check(self):
        ignored_unless(self, "points", self.along != "recorded_states",
                       "recorded_states uses every recorded sample")
        return self


class RegressionConfig(Section):
    """STLSQ over a path of `thresholds` (fractions of the current's RMS, 1 down to 1e-4), every
    candidate scored by `folds`-fold cross-validation; the simplest within
    max(standard error, `complexity_tolerance` × RMS of the current) of the best is chosen, among
    the candidates of at most `max_terms` term groups (a conductance form or a monomial each)."""

    folds: Annotated[int, Field(ge=2, le=100)] = 5
    thresholds: Annotated[int, Field(ge=1, le=200)] = 20
    ridge: NonNegativeFloat = Field(default=1e-6, description="ridge per sample on unit-RMS columns (STLSQ and CV)")
    complexity_tolerance: NonNegativeFloat = 0.01
    max_iterations: Annotated[int, Field(ge=1, le=1000)] = 10
    max_terms: Annotated[int, Field(ge=1, le=1000)] = 3


class RefitConfig(Section):
    """Levenberg–Marquardt on the chosen coefficients through the train-ude objective."""

    enabled: bool = True
    iterations: Annotated[int, Field(ge=1, le=10_000)] = 50
    tolerance: NonNegativeFloat = Field(default=1e-10, description="stop when the loss falls by less than this fraction")
    damping: PositiveFloat = 1e-3

    @model_validator(mode="after")
    def _check(self):
        for key in ("iterations", "tolerance", "damping"):
            ignored_unless(self, key, self.enabled, "the refit is disabled (enabled: false)")
        return self


class DiscoverConfig(Section):
    run: str = Field(description="the completed train-ude run directory (the command line's RUN_DIR)")
    library: LibraryConfig = LibraryConfig()
    sample: SampleConfig = SampleConfig()
    regression: RegressionConfig = RegressionConfig()
    refit: RefitConfig = RefitConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _check(self):
        if not self.run.strip():
            raise KeyedError("run", "is empty; expected a train-ude run directory")
        return self
