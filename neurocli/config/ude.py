"""The `neurocli train-ude` config: a membrane model with one ionic current replaced by a network.

Sections: the known physics (`model`, which is also the truth that simulated data come from), the
training protocol (`stimulus`, `initial_state`), the `data`, the `ude` (which current the network
replaces and the network itself), the `loss`, the `solve` used while training, the optimisation
`train` phases, the held-out `validation` protocol, the `runtime`, and an optional `sweep`.

A `sweep` trains several members at once (one vmapped step; `neurocli.ude.sweep`, and
`neurocli.ude.recording_sweep` for recording fits): the shared `SweepConfig` table over
`runtime.seed` (the network's initialisation and, with `fit.init_jitter`, the fitted parameters'
start), `data.seed` (the noise draw) and `data.noise.<state>` (a state's noise standard
deviation); the data ones need simulated data, or a recording fit (noise added to the recording). Seeds must be whole numbers in [0, 2**32). Every optimiser trains a sweep (L-BFGS's line
search and Levenberg–Marquardt's trial steps vmap: each member searches on its own).

Units: mV, ms, µA/cm² (currents), as in the models.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Limits, Section, ignored_unless
from neurocli.config.common import (
    EXPLICIT_SOLVERS,
    IMPLICIT_SOLVERS,
    NoStimulus,
    PulseStimulus,
    PulseTrainStimulus,
    RuntimeConfig,
    SolverConfig,
    StepStimulus,
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
    ("hh_reduced", "none"): (),
    ("hh", "none"): (),
}

# Model fields `fit.parameters` may name, and those fitted in log space by default (positive).
FITTABLE = ("C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "temperature_C")
POSITIVE = ("C_m", "g_Na", "g_K", "g_L")
RECORDING_KINDS = ("nwb", "abf")

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
    """A recording: a CSV file with a `t` column (ms) and one column per state of `model`; or,
    with `columns`, named columns (`{t: time_ms, V: vm, I_ext: stim}`), in ms, mV and µA/cm².
    `observed` names the states the loss covers (default: every state the file has); a
    `sweep_column` splits the rows into protocols (one trajectory each, on the same time grid)."""

    kind: Literal["csv"]
    path: str = Field(description="relative paths are relative to the working directory")
    columns: dict[str, str] | None = Field(
        default=None, description="t, a state or I_ext -> the CSV column holding it (default: t and every state)")
    sweep_column: str | None = Field(default=None, description="a column numbering the protocols (sweeps)")
    observed: list[str] | None = Field(default=None, description="states the loss covers (default: every one given)")
    initial_voltage: Literal["baseline", "first_sample"] = Field(
        default="baseline", description="each sweep's starting V: the mean before its stimulus first changes, or its first sample")
    noise: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="recording mode: state name -> standard deviation of Gaussian noise "
                                          "added to the recorded samples (a synthetic experiment; default none)")
    seed: int = Field(default=0, ge=0, lt=2**32, description="seed of the added noise")


class _RecordingFile(Section):
    """A current-clamp recording: V(t) and the injected current I(t), one trajectory per sweep."""

    path: str = Field(description="relative paths are relative to the working directory")
    sweeps: Literal["all"] | list[Annotated[int, Field(ge=0)]] = Field(
        default="all", description="all, or the sweeps' positions (0-based) in the file")
    observed: list[str] | None = Field(default=None, description="states the loss covers (default: V)")
    initial_voltage: Literal["baseline", "first_sample"] = Field(
        default="baseline", description="each sweep's starting V: the mean before its stimulus first changes, or its first sample")
    membrane_area_cm2: PositiveFloat | None = Field(
        default=None, description="converts a current in A to µA/cm²")
    capacitance_pF: PositiveFloat | None = Field(
        default=None, description="converts a current in A to µA/cm² with model.C_m (area = C / C_m)")
    noise: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="recording mode: state name -> standard deviation of Gaussian noise "
                                          "added to the recorded samples (a synthetic experiment; default none)")
    seed: int = Field(default=0, ge=0, lt=2**32, description="seed of the added noise")

    @model_validator(mode="after")
    def _check_area(self):
        if self.membrane_area_cm2 is not None and self.capacitance_pF is not None:
            raise KeyedError("capacitance_pF", "give either membrane_area_cm2 or capacitance_pF, not both")
        if isinstance(self.sweeps, list) and (not self.sweeps or len(set(self.sweeps)) != len(self.sweeps)):
            raise KeyedError("sweeps", "name at least one sweep, each once")
        return self


class NwbData(_RecordingFile):
    """An NWB file (pynwb): every CurrentClampSeries with its CurrentClampStimulusSeries (paired by
    sweep number, else by order). Needs the `recordings` extra."""

    kind: Literal["nwb"]


class AbfData(_RecordingFile):
    """An Axon ABF file (pyabf): channel `channel`'s sweeps and their command waveform. Needs the
    `recordings` extra."""

    kind: Literal["abf"]
    channel: Annotated[int, Field(ge=0)] = 0


DataConfig = Annotated[Union[SimulatedData, CsvData, NwbData, AbfData], Field(discriminator="kind")]


class RecordedStimulus(Section):
    """The recording's own injected current, interpolated piecewise linearly between samples (its
    kinks declared to the step-size controller)."""

    kind: Literal["recorded"]


UDEStimulusConfig = Annotated[
    Union[NoStimulus, PulseStimulus, StepStimulus, PulseTrainStimulus, RecordedStimulus], Field(discriminator="kind")
]


class FitParameter(Section):
    """A model field fitted with the network: start value, optional bounds, log or linear space."""

    init: float | None = Field(default=None, description="start value (default: model's value)")
    bounds: Annotated[list[float], Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="[low, high]: the fit stays strictly inside")
    log: bool | None = Field(default=None, description="fit log(value) (default: yes for C_m and conductances)")

    @model_validator(mode="after")
    def _check(self):
        if self.bounds is not None:
            lo, hi = self.bounds
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise KeyedError("bounds", f"need finite low < high; got {self.bounds}")
        return self


class FitSection(Section):
    """Physical parameters fitted together with the network (or alone, `ude.replaced: none`)."""

    parameters: dict[str, FitParameter] = Field(default_factory=dict, description="model field -> how to fit it")
    initial_voltage: bool = Field(
        default=False, description="fit each trajectory's starting V too (else: its first sample)")
    init_jitter: NonNegativeFloat = Field(
        default=0.0, description="start each fitted parameter off its init by this fraction times a normal draw "
                                 "seeded by runtime.seed (log parameters: init·exp(jitter·z); others: "
                                 "init + jitter·|init|·z), clipped inside its bounds; 0: start at init")


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
    replaced: Literal["sodium", "potassium", "none"] = Field(
        default="sodium", description="the current the network stands for; none: no network (a parameter fit)")
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
    sweeps: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="recordings: sweeps (positions among the loaded ones) held out of the fit")


class TrainUDEConfig(Section):
    model: UDEModelConfig
    stimulus: UDEStimulusConfig
    initial_state: dict[str, float] | None = Field(
        default=None, description="simulated data: state -> value, others at rest (csv data: its first row)"
    )
    data: DataConfig = SimulatedData()
    ude: UDESection = UDESection()
    loss: LossConfig = LossConfig()
    solve: SolveSection = SolveSection()
    train: TrainSection
    validation: ValidationConfig = ValidationConfig()
    fit: FitSection | None = None
    runtime: RuntimeConfig = RuntimeConfig()
    sweep: SweepConfig | None = None

    @property
    def recording_mode(self) -> bool:
        """Whether the multi-protocol fit (neurocli/ude/recording_fit.py) trains this config: a
        recording file, named columns, observed states, the recorded stimulus, fitted parameters,
        held-out sweeps, or no network."""
        data = self.data
        return (data.kind in RECORDING_KINDS
                or (isinstance(data, CsvData) and (data.columns is not None or data.observed is not None
                                                   or data.sweep_column is not None))
                or self.stimulus.kind == "recorded" or self.fit is not None or self.ude.replaced == "none"
                or self.validation.sweeps is not None)

    @property
    def observed(self) -> tuple[str, ...] | None:
        """The states the loss covers, if the config names them."""
        obs = getattr(self.data, "observed", None)
        if obs is None and self.data.kind in RECORDING_KINDS:
            return ("V",)
        return None if obs is None else tuple(obs)

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
        if not isinstance(self.data, SimulatedData) and self.initial_state is not None:
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
        swept_noise = self.sweep is not None and any(n.startswith(NOISE) for n in self.sweep.names)
        if isinstance(self.data, SimulatedData) or self.recording_mode:
            check_names("data.noise", self.data.noise)
            ignored_unless(self.data, "seed", swept_noise or any(v > 0 for v in self.data.noise.values()),
                           "data.seed seeds the noise, and data.noise adds none", prefix="data.")
        elif isinstance(self.data, CsvData):  # a CSV of every state (not a recording fit): as read
            for key in ("noise", "seed"):
                ignored_unless(self.data, key, False, "noise is added to recordings (recording mode) and "
                                                      "simulated data only", prefix="data.")
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
        self._check_recording()
        return self

    def _check_recording(self) -> None:
        names = self.state_names
        data = self.data
        if self.data.kind in RECORDING_KINDS and self.initial_state is not None:
            raise KeyedError("initial_state", "recordings start from their first sample; remove initial_state")
        obs = getattr(data, "observed", None)
        if obs is not None:
            if not obs or len(set(obs)) != len(obs):
                raise KeyedError("data.observed", "name at least one state, each once")
            for k in obs:
                if k not in names:
                    raise KeyedError("data.observed", f"the model ({self.model.name}) has no state {k!r}; "
                                                      f"expected some of {', '.join(names)}")
            if "V" not in obs:
                raise KeyedError("data.observed", "must include V (hidden states start from rest at the first V)")
        if isinstance(data, CsvData) and data.columns is not None:
            allowed = ("t", *names, "I_ext")
            for k in data.columns:
                if k not in allowed:
                    raise KeyedError(f"data.columns.{k}", f"unknown; expected some of {', '.join(allowed)}")
            if "t" not in data.columns or "V" not in data.columns:
                raise KeyedError("data.columns", "must name the t and V columns")
            for k in obs or ():
                if k not in data.columns:
                    raise KeyedError("data.observed", f"{k} has no column in data.columns")
        if self.stimulus.kind == "recorded":
            if isinstance(data, SimulatedData):
                raise KeyedError("stimulus.kind", "recorded: needs a recording (data.kind csv, nwb or abf)")
            if isinstance(data, CsvData) and "I_ext" not in (data.columns or {}):
                raise KeyedError("stimulus.kind", "recorded: name the current's column as data.columns.I_ext")
        elif isinstance(data, CsvData) and "I_ext" in (data.columns or {}):
            raise KeyedError("data.columns.I_ext", "is not used here: stimulus.kind is not recorded; remove it")
        if self.ude.replaced == "none":
            if self.fit is None or not self.fit.parameters:
                raise KeyedError("fit.parameters", "ude.replaced: none fits no network: name parameters to fit")
            if "network" in self.ude.model_fields_set and self.ude.network != NetworkConfig():
                raise KeyedError("ude.network", "is not used here: ude.replaced is none; remove it")
        if self.fit is not None:
            for k, p in self.fit.parameters.items():
                key = f"fit.parameters.{k}"
                if k not in FITTABLE:
                    raise KeyedError(key, f"not a field of the model; expected some of {', '.join(FITTABLE)}")
                if k == "g_Na" and self.ude.replaced == "sodium" or k == "g_K" and self.ude.replaced == "potassium":
                    raise KeyedError(key, f"the network replaces the {self.ude.replaced} current; its conductance is not used")
                start = p.init if p.init is not None else getattr(self.model, k)
                log = p.log if p.log is not None else k in POSITIVE
                if log and start <= 0:
                    raise KeyedError(f"{key}.init", f"a log-space parameter must start > 0; got {start:g}")
                if p.bounds is not None:
                    lo, hi = p.bounds
                    if log and lo <= 0:
                        raise KeyedError(f"{key}.bounds", "a log-space parameter needs bounds > 0")
                    if not lo < start < hi:
                        raise KeyedError(f"{key}.bounds", f"the start value {start:g} is not inside {p.bounds}")
        if isinstance(data, CsvData) and not self.recording_mode:
            ignored_unless(data, "initial_voltage", False, "a CSV of every state starts from its first row", prefix="data.")
        if self.recording_mode:
            if self.sweep is not None and "runtime.seed" in self.sweep.names and self.ude.replaced == "none" \
                    and (self.fit is None or self.fit.init_jitter == 0):
                raise KeyedError("sweep", "runtime.seed is swept but seeds nothing here: there is no network "
                                          "(ude.replaced: none) and fit.init_jitter is 0, so every member would "
                                          "train the same; set fit.init_jitter > 0 (the start's spread)")
            if self.ude.network.init_from is not None:
                raise KeyedError("ude.network.init_from", "is not available with recordings or fitted parameters yet")
            if self.validation.sweeps is not None and len(set(self.validation.sweeps)) != len(self.validation.sweeps):
                raise KeyedError("validation.sweeps", "name each sweep once")

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
            if path.startswith("data.") and not (isinstance(self.data, SimulatedData) or self.recording_mode):
                raise KeyedError(key, f"{path!r} needs simulated data (data.kind: simulated) or a recording "
                                      f"fit with data.noise; this {self.data.kind} data has no noise draw")
        table = sweep.table()
        if "runtime.seed" in sweep.names and self.ude.network.init_from is not None:
            raise KeyedError("sweep", "runtime.seed is swept but ude.network.init_from gives every member the same "
                                      "starting network; remove one of them")
        noisy = any(v > 0 for v in getattr(self.data, "noise", {}).values()) or any(
            n.startswith(NOISE) and (table[:, j] > 0).any() for j, n in enumerate(sweep.names))
        if "data.seed" in sweep.names and not noisy:
            raise KeyedError("sweep", "data.seed is swept but no noise is added (data.noise, or a swept data.noise.<state>)")
