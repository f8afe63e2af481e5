"""The `neurocli simulate` config."""

from __future__ import annotations

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section, field_moves, ignored_unless
from neurocli.config.common import (
    IMEX_SOLVERS,
    IMPLICIT_SOLVERS,
    NoStimulus,
    RuntimeConfig,
    SolverConfig,
    StimulusConfig,
    SweepConfig,
    TimeConfig,
)
from neurocli.config.models import ModelConfig, section_of
from neurocli.members.binding import Binding, Parameter


PDE_FRONT_POINTS = (0.7, 0.9)
"""Where a PDE run times its rightward front unless told: clear of the paper's pulse at the middle
(u(0) < 0.008 at 0.7 of the length) and short of the end."""
MAX_SOLUTION_MEMBERS = 400
"""analysis.solutions and k_convergence keep every member's field (solutions compares every pair)."""
PDE_KEPT_FIELDS = 12
"""A PDE sweep keeps this many members' fields unless told (neuron and cable sweeps: 5), so that a
small sweep (the paper's six values of a) keeps every field: u (members, nt, nx) as RUNS.md has it."""


class AnalysisConfig(Section):
    """How spikes are found in V(t): upward crossings of a threshold."""

    spike_threshold_mV: float = Field(
        default=0.0, description="spikes are upward crossings of this level: mV, or the model's own units for a "
        "dimensionless model (FitzHugh–Nagumo's v); the name keeps _mV for every model, as metrics.json's keys do")
    rate_window_ms: float | None = Field(
        default=None, gt=0, description="firing rate over the last this many ms (None: whole run)"
    )
    velocity_points: tuple[float, float] = Field(
        default=(1 / 3, 2 / 3),
        description="cable models: conduction velocity between these two points (fractions of the length); "
                    f"PDE models: the speed of the rightward front (where u crosses a), by default {PDE_FRONT_POINTS}",
    )
    max_spike_times: PositiveInt = Field(
        default=10, description="sweeps: spike times kept per member (the first ones) in members.csv and metrics.json"
    )
    recording_point: float = Field(
        default=0.5, ge=0, le=1,
        description="cable models: where spike peak, width and times are measured (fraction of the length)",
    )
    solutions: bool = Field(
        default=False, description="PDE sweeps: group the members' fields u(t, x) into distinct solutions by "
        "relative L2 distance (neurocli/analysis/solutions.py): members.csv's `solution`, metrics.json's "
        "`solutions`, figures/solutions.pdf"
    )
    k_convergence: bool = Field(
        default=False, description="PDE sweeps over model.k: ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ per group of the other "
        "swept values, a fitted power law (neurocli/analysis/k_limit.py): metrics.json's `k_convergence`, "
        "figures/k_convergence.pdf"
    )
    solution_threshold: float = Field(
        default=0.05, gt=0, lt=1, description="solutions: the relative L2 distance within which fields are one solution"
    )

    @model_validator(mode="after")
    def _check(self):
        a, b = self.velocity_points
        if not 0 < a < b < 1:
            raise KeyedError("velocity_points", f"expected two fractions 0 < a < b < 1 of the length (got {a}, {b})")
        return self


class OutputConfig(Section):
    trajectory_members: PositiveInt = Field(
        default=5, le=100, description="sweeps: how many members (evenly spaced) keep full traces (drawn one panel each)"
    )

    def kept_members(self, n: int) -> np.ndarray:
        """Indices of the (at most `trajectory_members`) evenly spaced members of n that keep traces."""
        return np.unique(np.round(np.linspace(0, n - 1, min(n, self.trajectory_members))).astype(int))


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

    @model_validator(mode="before")
    @classmethod
    def _front_points(cls, data):
        """PDE models time their front at PDE_FRONT_POINTS, and their sweeps keep PDE_KEPT_FIELDS
        fields, unless the config says otherwise (the resolved config spells both out)."""
        model = data.get("model") if isinstance(data, dict) else None
        section = section_of(model.get("name")) if isinstance(model, dict) else None
        if section is not None and section.geometry == "pde":
            analysis = data.get("analysis", {})
            if isinstance(analysis, dict) and "velocity_points" not in analysis:
                data = {**data, "analysis": {**analysis, "velocity_points": PDE_FRONT_POINTS}}
            output = data.get("output", {})
            if data.get("sweep") is not None and isinstance(output, dict) and "trajectory_members" not in output:
                data = {**data, "output": {**output, "trajectory_members": PDE_KEPT_FIELDS}}
        return data

    @model_validator(mode="after")
    def _check(self):
        is_pde = self.model.geometry == "pde"
        is_cable = self.model.geometry == "cable"
        if is_cable and self.initial_state is not None:
            raise KeyedError("initial_state", f"model {self.model.name} starts at rest along the whole axon; remove it")
        if is_cable and self.solver.name not in IMEX_SOLVERS:
            raise KeyedError(
                "solver.name",
                f"{self.solver.name!r}: the cable's axial current is stiff; expected an IMEX solver "
                f"({', '.join(IMEX_SOLVERS)}): the axial current implicit (a tridiagonal solve), the "
                "membrane explicit. Fully implicit solvers would need the dense Jacobian of all "
                "4·nx states (over 100× slower)"
            )
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
        if not (is_pde or is_cable) and self.solver.name in IMEX_SOLVERS:
            raise KeyedError(
                "solver.name", f"{self.solver.name!r}: IMEX solvers need a split model (PDE and cable models)"
            )
        self.binding().validate(self.sweep)
        if is_pde or is_cable:
            nodes = [round(p * (self.model.nx - 1)) for p in self.analysis.velocity_points]
            if nodes[0] == nodes[1]:
                raise KeyedError("analysis.velocity_points", f"both points fall on grid node {nodes[0]} of "
                                 f"model.nx = {self.model.nx}: move them apart or refine the grid")
        cable = f"only cable models measure along the axon (model {self.model.name})"
        along = f"only cable and PDE models measure a speed along x (model {self.model.name})"
        ignored_unless(self.analysis, "velocity_points", is_cable or is_pde, along, prefix="analysis.")
        ignored_unless(self.analysis, "recording_point", is_cable, cable, prefix="analysis.")
        no_spikes = f"model {self.model.name} has no membrane potential to find spikes in"
        ignored_unless(self.analysis, "spike_threshold_mV", not is_pde, no_spikes, prefix="analysis.")
        ignored_unless(self.analysis, "rate_window_ms", not is_pde, no_spikes, prefix="analysis.")
        ignored_unless(self.analysis, "max_spike_times", not is_pde, no_spikes, prefix="analysis.")
        ignored_unless(self.analysis, "solutions", is_pde and self.sweep is not None,
                       "solutions compares the fields of a PDE sweep's members", prefix="analysis.")
        ignored_unless(self.analysis, "k_convergence", is_pde and self.sweep is not None,
                       "k_convergence compares the fields of a PDE sweep's members", prefix="analysis.")
        if self.analysis.k_convergence and self.sweep is not None:
            if "model.k" not in self.sweep.names:
                raise KeyedError("analysis.k_convergence", "compares members over k: sweep model.k")
            if not self.sweep.is_grid:
                raise KeyedError("analysis.k_convergence", "needs a grid sweep (every k for every other value)")
            if len(set(self.sweep.axes[self.sweep.names.index("model.k")].tolist())) < 3:
                raise KeyedError("analysis.k_convergence", "needs at least 3 values of model.k")
        ignored_unless(self.analysis, "solution_threshold", self.analysis.solutions,
                       "solution_threshold is analysis.solutions' distance", prefix="analysis.")
        for key in ("solutions", "k_convergence"):
            if not getattr(self.analysis, key) or self.sweep is None:
                continue
            if self.sweep.member_count > MAX_SOLUTION_MEMBERS:
                raise KeyedError(f"analysis.{key}", f"keeps every member's field: at most "
                                 f"{MAX_SOLUTION_MEMBERS} members (the sweep has {self.sweep.member_count})")
            if "model.length" in self.sweep.names:
                raise KeyedError(f"analysis.{key}", "compares fields on one grid; model.length is swept")
        ignored_unless(self.output, "trajectory_members", self.sweep is not None,
                       "trajectory_members picks the sweep members that keep traces; there is no sweep",
                       prefix="output.")
        return self

    def binding(self) -> Binding:
        """What a simulate sweep may vary: every number field of `model` and of `stimulus`, set on
        the solve's Problem (problem.model.<field>, problem.stimulus.<field>)."""
        return simulate_binding(self.model, self.stimulus)


def simulate_binding(model, stimulus) -> Binding:
    params = []
    for root, section in (("model", model), ("stimulus", stimulus)):
        for path, owner, name in number_fields(section, (root,)):
            unit = None
            if root == "stimulus":  # the model's units: µA/cm² and ms, or dimensionless
                unit = model.units["time"] if "edges" in field_moves(type(owner), name) else model.units["current"]
            params.append(Parameter(".".join(path), type(owner), name, target=path, unit=unit, owner=owner))
    return Binding("simulate", tuple(params))


def number_fields(section: Section, prefix: tuple[str, ...]):
    """(path, owning section, field) of every float field of `section` and of the sections inside
    it (`model.heaviside.offset`, `model.initial.height`): each can be swept."""
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, float):
            yield (*prefix, name), section, name
        elif isinstance(value, Section):
            yield from number_fields(value, (*prefix, name))
