"""The `neurocli train-ude` config: a membrane model with one ionic current replaced by a network.

Sections: the known physics (`model`, which is also the truth that simulated data come from), the
training protocol (`stimulus`, `initial_state`), the `data`, the `ude` (which current the network
replaces and the network itself), the `loss`, the `solve` used while training, the optimisation
`train` phases, the held-out `validation` protocol, the `runtime`, and an optional `sweep`.

A `sweep` trains several members at once (one vmapped step; `neurocli.ude.sweep`): the shared
`SweepConfig` table over `runtime.seed` (the network's initialisation), `data.seed` (the noise
draw) and `data.noise.<state>` (a state's noise standard deviation); the data ones need simulated
data. Seeds must be whole numbers in [0, 2**32). Every optimiser trains a sweep (L-BFGS's line
search and Levenberg–Marquardt's trial steps vmap: each member searches on its own).

Units: mV, ms, µA/cm² (currents), as in the models.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Limits, Section, ignored_unless
from neurocli.config.common import (
    EXPLICIT_SOLVERS,
    IMPLICIT_SOLVERS,
    PulseStimulus,
    RuntimeConfig,
    SolverConfig,
    SweepConfig,
    StimulusConfig,
    TimeConfig,
)
from neurocli.config.models import HHConfig, HHReducedConfig
from neurocli.config.optim import PhaseConfig
from neurocli.members.binding import Binding, Parameter

# State names of the models a UDE can be built on (equal to the models' `state_names`; a test checks).
STATE_NAMES = {"hh": ("V", "m", "h", "n"), "hh_reduced": ("V", "n")}

# What the network sees by default: the voltage and the gates of the current it replaces.
DEFAULT_INPUTS = {
    ("hh_reduced", "sodium"): ("V",),
    ("hh", "sodium"): ("V", "m", "h"),
    ("hh_reduced", "potassium"): ("V", "n"),
    ("hh", "potassium"): ("V", "n"),
}

NOISE = "data.noise."
"""Swept noise levels are named data.noise.<state>."""
MAX_SWEEP_MEMBERS = 100_000  # members of a train-ude sweep (each a network trained at once)
_NOISE_UNITS = {"V": "mV"}  # a noise level has its state's unit (gates are dimensionless)

UDEModelConfig = Annotated[Union[HHConfig, HHReducedConfig], Field(discriminator="name")]


class SimulatedData(Section):
    """Data simulated from `model` under `stimulus`, sampled on `time`, plus Gaussian noise."""

    kind: Literal["simulated"] = "simulated"
    time: TimeConfig = TimeConfig(t0=0.0, t1=50.0, save_every=0.1)
    solver: SolverConfig = SolverConfig(name="tsit5", rtol=1e-10, atol=1e-10)
    noise: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="state name -> standard deviation of added Gaussian noise"
    )
    seed: int = Field(default=0, ge=0, lt=2**32, description="seed of the noise")


class CsvData(Section):
    """A recording: a CSV file with a `t` column (ms) and one column per state of `model`."""

    kind: Literal["csv"]
    path: str = Field(description="relative paths are relative to the working directory")


DataConfig = Annotated[Union[SimulatedData, CsvData], Field(discriminator="kind")]


class NetworkConfig(Section):
    """An MLP: inputs -> (x − centre) / scale -> `depth` hidden layers of `width` -> × output_scale.

    The seed's network (1 → 10 tanh → 1 on raw millivolts) is width 10, depth 1, centre 0,
    scale 1, output_scale 1.
    """

    inputs: list[str] | None = Field(
        default=None, description="state names fed to the network (default: V and the replaced current's gates)"
    )
    width: Annotated[int, Field(ge=1, le=100_000)] = 16
    depth: Annotated[int, Field(ge=1, le=8)] = 2
    activation: Literal["tanh", "softplus", "silu", "gelu", "relu", "sigmoid"] = "tanh"
    input_centre: dict[str, float] | None = Field(
        default=None, description="state -> centre (mV for V); missing states: midpoint of the data's range"
    )
    input_scale: dict[str, PositiveFloat] | None = Field(
        default=None, description="state -> scale; missing states: half the data's range"
    )
    output_scale: PositiveFloat = Field(default=100.0, description="µA/cm² per unit of network output")
    final_layer_scale: PositiveFloat = Field(
        default=1.0, description="multiply the last layer's initial weights and bias (small: start near zero current)"
    )
    init_from: str | None = Field(default=None, description="start from the network of this checkpoint (.eqx)")


class UDESection(Section):
    replaced: Literal["sodium", "potassium"] = "sodium"
    network: NetworkConfig = NetworkConfig()


class CurriculumConfig(Section):
    """Fit a growing time window: from t0 + `start_ms` to the whole record over `iterations`."""

    start_ms: PositiveFloat
    iterations: PositiveInt


class ShootingConfig(Section):
    """Multiple shooting for the first `iterations`: the record is cut into segments of
    `segment_ms`, each integrated from its recorded first state, so an error cannot grow over the
    whole record (the loss landscape of a spike train is far smoother). `iterations` must end at a
    phase boundary before the last phase: training then fits the whole record."""

    segment_ms: PositiveFloat
    iterations: PositiveInt


class LossConfig(Section):
    """Sum (sse) or mean (mse) of weighted squared errors over states and samples."""

    reduction: Literal["sse", "mse"] = "sse"
    weights: dict[str, NonNegativeFloat] = Field(default_factory=dict, description="state -> weight (default 1)")
    curriculum: CurriculumConfig | None = None
    shooting: ShootingConfig | None = None


class SolveSection(Section):
    """How the UDE is integrated while training."""

    solver: SolverConfig = SolverConfig(name="tsit5", rtol=1e-8, atol=1e-8, max_steps=20_000)
    adjoint: Literal["recursive_checkpoint", "backsolve", "direct"] = "recursive_checkpoint"
    declare_stimulus_edges: bool = Field(
        default=True, description="pass the stimulus' jump times to the step-size controller"
    )


class TrainSection(Section):
    phases: list[PhaseConfig] = Field(min_length=1)
    max_consecutive_failures: PositiveInt = Field(
        default=20, description="stop the run after this many rejected steps in a row"
    )
    checkpoint_every: PositiveInt = 100

    @property
    def iterations(self) -> int:
        return sum(p.iterations for p in self.phases)


class ValidationConfig(Section):
    """A held-out protocol: the trained UDE and the true model, both from the data's initial state."""

    stimulus: StimulusConfig = PulseStimulus(kind="pulse", start=20.0, duration=2.0, amplitude=10.0)
    solver: SolverConfig = SolverConfig(name="tsit5", rtol=1e-10, atol=1e-10)


class TrainUDEConfig(Section):
    model: UDEModelConfig
    stimulus: StimulusConfig
    initial_state: dict[str, float] | None = Field(
        default=None, description="simulated data: state -> value, others at rest (csv data: its first row)"
    )
    data: DataConfig = SimulatedData()
    ude: UDESection = UDESection()
    loss: LossConfig = LossConfig()
    solve: SolveSection = SolveSection()
    train: TrainSection
    validation: ValidationConfig = ValidationConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    sweep: SweepConfig | None = None

    @property
    def state_names(self) -> tuple[str, ...]:
        return STATE_NAMES[self.model.name]

    @property
    def network_inputs(self) -> tuple[str, ...]:
        inputs = self.ude.network.inputs
        return tuple(inputs) if inputs is not None else DEFAULT_INPUTS[(self.model.name, self.ude.replaced)]

    @model_validator(mode="after")
    def _check(self):
        names = self.state_names
        expected = f"expected one of {', '.join(names)}"

        def check_names(key: str, keys) -> None:
            for k in keys or ():
                if k not in names:
                    raise KeyedError(f"{key}.{k}" if isinstance(keys, dict) else key, f"unknown state {k!r}; {expected}")

        check_names("initial_state", self.initial_state)
        if isinstance(self.data, SimulatedData):
            check_names("data.noise", self.data.noise)
        elif self.initial_state is not None:
            raise KeyedError("initial_state", "csv data start from their first row; remove initial_state")
        net = self.ude.network
        check_names("ude.network.inputs", net.inputs)
        if net.inputs is not None and (len(net.inputs) == 0 or len(set(net.inputs)) != len(net.inputs)):
            raise KeyedError("ude.network.inputs", "must name at least one state, each once")
        check_names("ude.network.input_centre", net.input_centre)
        check_names("ude.network.input_scale", net.input_scale)
        inputs = self.network_inputs
        for key in ("input_centre", "input_scale"):
            for state in getattr(net, key) or ():
                if state not in inputs:
                    raise KeyedError(f"ude.network.{key}.{state}",
                                     f"is not used here: {state} is not a network input (inputs: {', '.join(inputs)}); remove it")
        if isinstance(self.data, SimulatedData):
            swept_noise = self.sweep is not None and any(n.startswith(NOISE) for n in self.sweep.names)
            ignored_unless(self.data, "seed", swept_noise or any(v > 0 for v in self.data.noise.values()),
                           "data.seed seeds the noise, and data.noise adds none", prefix="data.")
        check_names("loss.weights", self.loss.weights)
        if self.loss.weights and not any(self.loss.weights.get(k, 1.0) > 0 for k in names):
            raise KeyedError("loss.weights", "at least one state needs a positive weight")
        solver = self.solve.solver
        if solver.name not in EXPLICIT_SOLVERS + IMPLICIT_SOLVERS:
            raise KeyedError("solve.solver.name", f"{solver.name!r}: IMEX solvers need a split model (PDE models)")
        if self.solve.adjoint == "backsolve" and not solver.adaptive:
            raise KeyedError("solve.adjoint", "backsolve needs an adaptive solver")
        if self.solve.adjoint == "direct" and solver.max_steps > 100_000:
            raise KeyedError("solve.solver.max_steps", "the direct adjoint unrolls max_steps: give at most 100000")
        shooting = self.loss.shooting
        if shooting is not None:
            if self.loss.curriculum is not None:
                raise KeyedError("loss.shooting", "use either a curriculum or multiple shooting, not both")
            ends = [sum(p.iterations for p in self.train.phases[: k + 1]) for k in range(len(self.train.phases) - 1)]
            if shooting.iterations not in ends:
                raise KeyedError(
                    "loss.shooting.iterations",
                    f"must end at a phase boundary before the last phase (one of {ends or 'none: add a phase'}); "
                    "a phase needs a fixed objective",
                )
        cur = self.loss.curriculum
        if cur is not None:
            first_lbfgs = next((i for i, p in enumerate(self.train.phases) if p.optimizer == "lbfgs"), None)
            before = sum(p.iterations for p in self.train.phases[:first_lbfgs])
            if cur.iterations > before:
                raise KeyedError(
                    "loss.curriculum.iterations",
                    f"must end before the first lbfgs phase (within the first {before} iterations): "
                    "its line search needs a fixed objective",
                )
        self._check_sweep()
        return self

    def binding(self) -> Binding:
        """What a train-ude sweep may vary: the network's seed, and (simulated data) the noise draw
        and each state's noise level. Config-level parameters: each member's config sets them
        (ude/sweep.py `member_config`), no model pytree holds them."""
        params = [Parameter("runtime.seed", RuntimeConfig, integer=True),
                  Parameter("data.seed", SimulatedData, integer=True)]
        params += [Parameter(f"{NOISE}{s}", unit=_NOISE_UNITS.get(s, ""), limits=Limits(0.0, False))
                   for s in self.state_names]
        return Binding("train-ude", tuple(params))

    def _check_sweep(self) -> None:
        sweep = self.sweep
        if sweep is None:
            return
        self.binding().validate(sweep, MAX_SWEEP_MEMBERS)
        for i, path in enumerate(sweep.names):
            key = "sweep.parameter" if sweep.parameter is not None else f"sweep.parameters[{i}].parameter"
            if path.startswith("data.") and not isinstance(self.data, SimulatedData):
                raise KeyedError(key, f"{path!r} needs simulated data (data.kind: simulated); csv data have no noise draw")
        table = sweep.table()
        if "runtime.seed" in sweep.names and self.ude.network.init_from is not None:
            raise KeyedError("sweep", "runtime.seed is swept but ude.network.init_from gives every member the same "
                                      "starting network; remove one of them")
        noisy = any(v > 0 for v in getattr(self.data, "noise", {}).values()) or any(
            n.startswith(NOISE) and (table[:, j] > 0).any() for j, n in enumerate(sweep.names))
        if "data.seed" in sweep.names and not noisy:
            raise KeyedError("sweep", "data.seed is swept but no noise is added (data.noise, or a swept data.noise.<state>)")
