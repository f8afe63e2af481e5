"""The `neurocli simulate` config."""

from __future__ import annotations

from pydantic import Field, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section
from neurocli.config.common import (
    IMEX_SOLVERS,
    IMPLICIT_SOLVERS,
    NoStimulus,
    RuntimeConfig,
    SolverConfig,
    StimulusConfig,
    SweepConfig,
    TimeConfig,
    check_sweep_path,
)
from neurocli.config.models import PDE_MODELS, ModelConfig


class AnalysisConfig(Section):
    """How spikes are found in V(t): upward crossings of a threshold."""

    spike_threshold_mV: float = 0.0
    rate_window_ms: float | None = Field(
        default=None, gt=0, description="firing rate over the last this many ms (None: whole run)"
    )


class OutputConfig(Section):
    trajectory_members: PositiveInt = Field(
        default=5, description="sweeps: how many members (evenly spaced) keep full traces"
    )


class SimulateConfig(Section):
    model: ModelConfig
    stimulus: StimulusConfig = NoStimulus()
    initial_state: dict[str, float] | None = Field(
        default=None, description="state name -> value; states left out start at rest"
    )
    time: TimeConfig
    solver: SolverConfig = SolverConfig()
    sweep: SweepConfig | None = None
    analysis: AnalysisConfig = AnalysisConfig()
    output: OutputConfig = OutputConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _check(self):
        is_pde = self.model.name in PDE_MODELS
        if is_pde and self.stimulus.kind != "none":
            raise KeyedError("stimulus.kind", f"model {self.model.name} takes no stimulus; expected none")
        if is_pde and self.initial_state is not None:
            raise KeyedError("initial_state", "PDE models take their initial state from model.initial")
        if is_pde and self.solver.name not in IMPLICIT_SOLVERS + IMEX_SOLVERS:
            raise KeyedError(
                "solver.name",
                f"{self.solver.name!r}: the method-of-lines PDE is stiff; expected an "
                f"implicit or IMEX solver ({', '.join(IMPLICIT_SOLVERS + IMEX_SOLVERS)})"
            )
        if not is_pde and self.solver.name in IMEX_SOLVERS:
            raise KeyedError(
                "solver.name", f"{self.solver.name!r}: IMEX solvers need a split model (PDE models)"
            )
        check_sweep_path(self.sweep, {"model": self.model, "stimulus": self.stimulus})
        return self
