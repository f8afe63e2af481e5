"""The `neurocli train-pinn` config: the PDE, the network, how it is trained, the reference.

    u_t = u_xx − u + H_k(u − a)  on (0, length) × (0, T],  u(0, x) = initial(x)

Members: `pde.a` is a scalar or a list (a list is the one-parameter sweep), or a `sweep:` section
(the shared SweepConfig: one parameter, or `parameters:` on a grid, zipped or sampled) over `pde.a`
and `pde.k`. Every member is trained at once (one vmapped step) with its own (a, k); a parameter
that is not swept takes its scalar value from `pde`. The member table (`member_table()`, one row per
member, one column per `swept` path) is what members.csv, metrics.json and the checkpoint's
identity record. `pde.heaviside` picks H_k (ramp with offset θ, or sigmoid); a ramp's
`pde.heaviside.offset` is sweepable too.

`pde.model` picks the equation: `reaction_diffusion` (the above, the default) or a cable,
`fitzhugh_nagumo_cable` or `hh_cable` (config/pinn_cable.py: simulate's cable model and stimulus,
trained by time marching, one member).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Discriminator, Field, PositiveFloat, PositiveInt, Tag, model_validator

from neurocli.config.base import KeyedError, Moves, Section, ignored_unless
from neurocli.config.common import IMEX_SOLVERS, RuntimeConfig, SolverConfig, SweepConfig
from neurocli.config.models import (
    HeavisideConfig,
    PhiProfile,
    ProfileConfig,
    RampHeavisideConfig,
    ReactionDiffusionConfig,
    check_profile,
)
from neurocli.config.optim import PhaseConfig
from neurocli.config.pinn_cable import CablePDEConfig, is_cable
from neurocli.members.binding import Binding, Parameter

Boundary = Literal["dirichlet", "neumann", "none"]


class PinnPDEConfig(Section):
    """The problem. boundary `none` is the paper's code (no boundary term; its reference is neumann)."""

    model: Literal["reaction_diffusion"] = "reaction_diffusion"
    a: float | list[float] = Field(default=0.2, description="threshold; a list is a sweep")
    k: PositiveFloat = Field(default=5.0, description="steepness of H_k (the sharp limit is k -> inf)")
    T: Annotated[PositiveFloat, Moves.TIME] = Field(default=1.0, description="final time")
    length: PositiveFloat = math.pi
    initial: ProfileConfig = PhiProfile()
    heaviside: HeavisideConfig = Field(default=RampHeavisideConfig(), description="H_k: ramp (offset θ) or sigmoid")
    residual: Literal["regularised", "inclusion"] = Field(
        default="regularised", description="regularised: u_t − u_xx + u − H_k(u − a); inclusion: the distance of "
        "u_t − u_xx + u to the set H(u − a): {0} below a − band, {1} above a + band, [0, 1] within the band"
    )
    band: PositiveFloat = Field(default=0.01, description="inclusion: the half-width δ of |u − a| ≤ δ where H is [0, 1]")
    boundary: Boundary

    @model_validator(mode="after")
    def _check(self):
        values = self.a if isinstance(self.a, list) else [self.a]
        if not values:
            raise KeyedError("a", "is an empty sweep: give a number or a non-empty list")
        for i, a in enumerate(values):
            if not 0.0 < a < 1.0:
                where = f"a[{i}]" if isinstance(self.a, list) else "a"
                raise KeyedError(where, f"must lie in (0, 1) (got {a})")
        check_profile(self.initial, self.length)
        ignored_unless(self, "band", self.residual == "inclusion", "band is the inclusion residual's")
        return self

    def member_values(self) -> list[float]:
        return list(self.a) if isinstance(self.a, list) else [float(self.a)]


class FourierConfig(Section):
    """Random Fourier features of the normalised inputs: [z, sin(π z B), cos(π z B)], B ~ N(0, scale²)."""

    features: Annotated[int, Field(ge=1, le=100_000)] = 16
    scale: PositiveFloat = 1.0


class NetworkConfig(Section):
    """A network N(t, x) -> scalar: an MLP, or the gated DGM layers of Sirignano & Spiliopoulos."""

    kind: Literal["mlp", "dgm"] = "mlp"
    width: Annotated[int, Field(ge=1, le=100_000)] = 32
    depth: Annotated[int, Field(ge=1, le=1000)] = Field(default=3, description="hidden layers (mlp) or DGM layers (dgm)")
    activation: Literal["tanh", "silu", "sin", "gelu", "softplus"] = "tanh"
    fourier: FourierConfig | None = None
    normalise_inputs: bool = Field(default=True, description="map t in [0, T] and x in [0, length] to [-1, 1]")


class ConditionsConfig(Section):
    """How the initial and boundary conditions are met.

    soft: u = N(t, x), with weighted loss terms for them.
    hard: u = base(t, x) + (t / T) g(x) N(t, ξ(x)), which meets them exactly: g vanishes on a
      Dirichlet boundary; for neumann ξ is flat at both ends. base `initial` is φ(x); base `heat`
      is the eigen-series solution of the linear part u_t = u_xx − u from φ with the same boundary
      condition (it removes the stiff start from what the network must learn).
    """

    kind: Literal["soft", "hard"] = "hard"
    base: Literal["heat", "initial"] = "heat"
    modes: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="heat base: eigenmodes (None: as many as the profile needs)"
    )
    initial_weight: PositiveFloat = 1.0
    boundary_weight: PositiveFloat = 1.0

    @model_validator(mode="after")
    def _check(self):
        hard = "soft conditions are loss terms; hard conditions are met exactly, with no weight"
        ignored_unless(self, "initial_weight", self.kind == "soft", hard)
        ignored_unless(self, "boundary_weight", self.kind == "soft", hard)
        soft = "only hard conditions have a base"
        ignored_unless(self, "base", self.kind == "hard", soft)
        ignored_unless(self, "modes", self.kind == "hard" and self.base == "heat", "modes is the heat base's; "
                       + ("soft conditions have no base" if self.kind == "soft" else "base initial has no modes"))
        return self


MAX_POINTS = 10**8
"""Collocation sizes past this are not meant (10⁸ points × a 32-wide network is ~10 GB per pass)."""


class AdaptiveConfig(Section):
    """Residual-based adaptive resampling (RAD): every `every` steps the pool of `points` is redrawn
    from `candidates` uniform points with probability ∝ r^exponent / mean(r^exponent) + 1."""

    every: PositiveInt = 200
    candidates: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 8192
    exponent: PositiveFloat = 2.0
    fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.5, description="resample: the share of each batch drawn from the adaptive pool"
    )


class CollocationConfig(Section):
    """Where the residual is evaluated: a fixed pool of `points` batched (the paper's PINN), or fresh
    samples every step (the Deep Galerkin method). t = T · U^time_power, x = length · U."""

    kind: Literal["fixed", "resample"] = "resample"
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)] = Field(
        default=2000, description="the pool: fixed collocation's points, or resample's adaptive pool"
    )
    batch: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 1024
    time_power: Annotated[float, Field(ge=1.0, le=100.0)] = 1.0
    lbfgs_points: Annotated[int, Field(ge=1, le=MAX_POINTS)] = Field(
        default=4096, description="resample: the fixed set an L-BFGS phase uses"
    )
    adaptive: AdaptiveConfig | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.kind == "fixed" and self.batch > self.points:
            raise KeyedError("batch", f"must not exceed points ({self.points}) for fixed collocation")
        if self.adaptive is not None and self.adaptive.candidates < self.points:
            raise KeyedError("adaptive.candidates", f"must be at least points ({self.points})")
        ignored_unless(
            self, "points", self.kind == "fixed" or self.adaptive is not None,
            "resample draws a fresh batch every step; points sizes the pool of kind: fixed or of adaptive "
            "resampling (set collocation.adaptive, or kind: fixed)",
        )
        ignored_unless(
            self, "lbfgs_points", self.kind == "resample",
            "with kind: fixed an L-BFGS phase uses the fixed pool (collocation.points)",
        )
        if self.kind == "fixed" and self.adaptive is not None and "fraction" in self.adaptive.model_fields_set \
                and self.adaptive.fraction != AdaptiveConfig.model_fields["fraction"].default:
            raise KeyedError("adaptive.fraction", "is not used: with kind: fixed every batch comes from the pool")
        return self


class WeightingConfig(Section):
    """fixed: the configured weights. gradnorm: each term weighted by Σ‖∇L_j‖ / ‖∇L_i‖ (moving
    average `alpha`). causal: the residual over `chunks` time slices, slice i weighted by
    exp(−epsilon Σ_{j<i} L_j) (Wang, Sankaran & Perdikaris)."""

    kind: Literal["fixed", "gradnorm", "causal"] = "fixed"
    alpha: Annotated[float, Field(gt=0, le=1)] = 0.1
    epsilon: PositiveFloat = 1.0
    chunks: Annotated[int, Field(ge=2, le=100_000)] = 16

    @model_validator(mode="after")
    def _check(self):
        ignored_unless(self, "alpha", self.kind == "gradnorm", "alpha is gradnorm's moving average")
        ignored_unless(self, "epsilon", self.kind == "causal", "epsilon is causal weighting's")
        ignored_unless(self, "chunks", self.kind == "causal", "chunks are causal weighting's time slices")
        return self


class ReferenceConfig(Section):
    """The finite-difference reference (the `reaction_diffusion` model of `simulate`), in float64.

    nx: grid nodes; None picks the smallest multiple of the output grid with at least 255 nodes
    (nx − 1 must be a multiple of output.nx − 1 so the output grid is a subset of it).
    The fine grid makes the semi-discrete system stiff but cheap: an explicit adaptive solver is
    limited by stability (~10⁴ steps), which costs seconds; implicit solvers factor dense Jacobians.
    """

    nx: Annotated[int, Field(ge=5, le=20001)] | None = None
    solver: SolverConfig = SolverConfig(name="tsit5", rtol=1e-8, atol=1e-8)


class PinnOutputConfig(Section):
    nt: Annotated[int, Field(ge=2, le=100_000)] = 128
    nx: Annotated[int, Field(ge=3, le=100_000)] = 128
    log_every: PositiveInt = 10
    checkpoint_every: PositiveInt = 500
    profile_times: list[float] | None = Field(default=None, description="times of the profile plots (default: 5 evenly)")


class PinnAnalysisConfig(Section):
    """After training: the members' predictions grouped into distinct solutions by relative L2
    distance, as simulate's analysis.solutions (neurocli/analysis/solutions.py)."""

    solutions: bool = Field(default=False, description="members.csv's `solution`, metrics.json's `solutions`, "
                            "figures/solutions.pdf")
    solution_threshold: float = Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self):
        ignored_unless(self, "solution_threshold", self.solutions, "solution_threshold is solutions' distance")
        return self


class PinnRuntimeConfig(RuntimeConfig):
    """As for every command, but PINNs train in float32 by default (the reference is float64)."""

    precision: Literal["float32", "float64"] = "float32"


def _pde_kind(data) -> str:
    """The `pde` section's schema: a cable's for any pde.model but reaction_diffusion (the cable
    schema names every model when the value is none of them)."""
    model = data.get("model") if isinstance(data, dict) else getattr(data, "model", None)
    return "reaction_diffusion" if model is None or model == "reaction_diffusion" else "cable-pde"


PdeSection = Annotated[
    Union[Annotated[PinnPDEConfig, Tag("reaction_diffusion")], Annotated[CablePDEConfig, Tag("cable-pde")]],
    Discriminator(_pde_kind),
]

CABLE_REFERENCE_SOLVER = {"name": "kencarp5", "rtol": 1e-8, "atol": 1e-8, "dtmax": 0.05, "max_steps": 1_000_000}
"""A cable's reference: simulate's IMEX solve (the axial term implicit), tight, its first step bounded."""


class TrainPinnConfig(Section):
    pde: PdeSection
    network: NetworkConfig = NetworkConfig()
    conditions: ConditionsConfig = ConditionsConfig()
    collocation: CollocationConfig = CollocationConfig()
    weighting: WeightingConfig = WeightingConfig()
    derivatives: Literal["reverse", "forward", "taylor"] = Field(
        default="forward", description="how u_t and u_xx are taken (forward was fastest: benchmarks/bench_pinn.py)"
    )
    phases: list[PhaseConfig] = Field(default_factory=lambda: [PhaseConfig(iterations=2000, lr=3e-3, schedule="cosine")])
    reference: ReferenceConfig = ReferenceConfig()
    output: PinnOutputConfig = PinnOutputConfig()
    analysis: PinnAnalysisConfig = PinnAnalysisConfig()
    runtime: PinnRuntimeConfig = PinnRuntimeConfig()
    sweep: SweepConfig | None = Field(default=None, description="members over pde.a and pde.k (grid, zip or samples)")

    @model_validator(mode="before")
    @classmethod
    def _cable_reference(cls, data):
        """A cable's reference solver defaults to CABLE_REFERENCE_SOLVER (the resolved config says so)."""
        pde = data.get("pde") if isinstance(data, dict) else None
        if isinstance(pde, dict) and is_cable(pde.get("model")):
            ref = data.get("reference", {})
            if isinstance(ref, dict) and "solver" not in ref:
                data = {**data, "reference": {**ref, "solver": CABLE_REFERENCE_SOLVER}}
        return data

    @property
    def is_cable(self) -> bool:
        return isinstance(self.pde, CablePDEConfig)

    @model_validator(mode="after")
    def _check(self):
        if not self.phases:
            raise KeyedError("phases", "is empty: give at least one optimisation phase")
        for i, phase in enumerate(self.phases):
            if phase.optimizer == "levenberg_marquardt":
                raise KeyedError(f"phases[{i}].optimizer", "levenberg_marquardt is train-ude's (a least-squares fit)")
        if self.is_cable:
            _check_cable(self)
            return self
        if self.sweep is not None:
            _check_sweep(self)
        if self.conditions.kind == "soft" and self.pde.boundary == "none":
            ignored_unless(self.conditions, "boundary_weight", False, "boundary none has no boundary term",
                           prefix="conditions.")
        if self.weighting.kind == "gradnorm" and self.conditions.kind == "hard":
            raise KeyedError("weighting.kind", "gradnorm balances loss terms; hard conditions leave only the residual")
        if self.reference.nx is not None and (self.reference.nx - 1) % (self.output.nx - 1):
            raise KeyedError(
                "reference.nx", f"nx − 1 must be a multiple of output.nx − 1 = {self.output.nx - 1} (got {self.reference.nx})"
            )
        times = self.output.profile_times or []
        if times and self.sweep is not None and "pde.T" in self.sweep.names:
            raise KeyedError("output.profile_times", "pde.T is swept: each member's profiles are drawn at fractions "
                             "0, 1/4, …, 1 of its own T; remove profile_times")
        for i, t in enumerate(times):
            if not 0 <= t <= self.pde.T:
                raise KeyedError(f"output.profile_times[{i}]", f"must lie in [0, T={self.pde.T}]")
        return self

    @property
    def swept(self) -> list[str]:
        """The swept parameters' dotted paths (members.csv's first columns): the sweep's, or pde.a."""
        return self.sweep.names if self.sweep is not None else ["pde.a"]

    def binding(self) -> Binding:
        """What a train-pinn sweep may vary: the PDE's threshold and steepness, bounded as
        simulate's reaction_diffusion fields are, set on the member's model (model.a, model.k,
        the ramp's offset model.heaviside.offset), and the final time T, which gives each member
        its own clock (models/time_scaled.py)."""
        return Binding("train-pinn", (Parameter("pde.a", ReactionDiffusionConfig, target=("a",)),
                                      Parameter("pde.k", ReactionDiffusionConfig, target=("k",)),
                                      Parameter("pde.T", PinnPDEConfig),
                                      Parameter("pde.heaviside.offset", RampHeavisideConfig, "offset",
                                                target=("heaviside", "offset"))))

    @property
    def member_sweep(self) -> SweepConfig:
        """The run's members as a sweep: the `sweep:` section, or pde.a (a list, or one value)."""
        if self.sweep is not None:
            return self.sweep
        return SweepConfig(parameter="pde.a", values=self.pde.member_values())

    @property
    def member_count(self) -> int:
        if self.is_cable:
            return 1
        return self.sweep.member_count if self.sweep is not None else len(self.pde.member_values())

    def member_table(self) -> np.ndarray:
        """(members, len(swept)) float64: one row per member, in member order."""
        if self.sweep is not None:
            return self.sweep.table()
        return np.asarray(self.pde.member_values(), dtype=np.float64)[:, None]

    @property
    def reference_nx(self) -> int:
        if self.reference.nx is not None:
            return self.reference.nx
        step = self.output.nx - 1
        return step * max(1, -(-254 // step)) + 1

    @property
    def phase_starts(self) -> np.ndarray:
        """The first step of each phase, then the total: (phases + 1,)."""
        return np.cumsum([0] + [p.iterations for p in self.phases])

    @property
    def total_steps(self) -> int:
        return int(self.phase_starts[-1])


def _check_cable(cfg: TrainPinnConfig) -> None:
    """A cable PINN: one member; conditions met by its ansatz (no `conditions`); fresh points every
    step in its window; forward-mode derivatives; simulate's cable grid and an IMEX reference."""
    cable = f"pde.model {cfg.pde.model}"
    if cfg.sweep is not None:
        raise KeyedError("sweep", f"{cable} trains one member (sweeps are reaction_diffusion's)")
    if cfg.conditions != ConditionsConfig():
        raise KeyedError("conditions", f"{cable} meets its initial and sealed-end conditions exactly (time "
                         "marching from the resting line); remove conditions")
    if cfg.collocation.kind != "resample" or cfg.collocation.adaptive is not None:
        raise KeyedError("collocation.kind", f"{cable} draws fresh points in its window every step: kind resample, "
                         "no adaptive pool")
    ignored_unless(cfg.collocation, "points", False, f"{cable} has no pool", prefix="collocation.")
    if cfg.derivatives != "forward":
        raise KeyedError("derivatives", f"{cable} takes its derivatives in forward mode; remove derivatives")
    if cfg.reference.nx is not None:
        raise KeyedError("reference.nx", f"{cable}: the reference is solved on pde.cable.nx nodes; remove reference.nx")
    if cfg.reference.solver.name not in IMEX_SOLVERS:
        raise KeyedError("reference.solver.name", f"{cfg.reference.solver.name!r}: the cable's axial term is stiff; "
                         f"expected an IMEX solver ({', '.join(IMEX_SOLVERS)})")
    if cfg.output.profile_times is not None:
        raise KeyedError("output.profile_times", f"{cable} draws the spike at pde.velocity_points instead; remove it")
    if cfg.analysis.solutions:
        raise KeyedError("analysis.solutions", f"{cable} has one member")
    nx = cfg.pde.cable.nx
    if (nx - 1) % (cfg.output.nx - 1):
        raise KeyedError("output.nx", f"output.nx − 1 must divide pde.cable.nx − 1 = {nx - 1} (the output grid is "
                         f"a subset of the reference's; got {cfg.output.nx})")


def _check_sweep(cfg: TrainPinnConfig) -> None:
    """The sweep's parameters are bound ones (pde.a, pde.k) within their fields' bounds (the one
    sweep validator: `Binding.validate`), and `pde` does not give what the sweep sets (a list pde.a
    is a sweep of its own)."""
    if isinstance(cfg.pde.a, list):
        raise KeyedError("pde.a", "is a list (a one-parameter sweep) and the config has a sweep section: "
                         "give pde.a as a number, or put its values in the sweep (sweep.parameters)")
    cfg.binding().validate(cfg.sweep)
    for i, path in enumerate(cfg.sweep.names):
        if path == "pde.heaviside.offset":
            where = "sweep." if cfg.sweep.parameter is not None else f"sweep.parameters[{i}]."
            if cfg.pde.heaviside.kind != "ramp":
                raise KeyedError(where + "parameter", f"{path}: pde.heaviside is {cfg.pde.heaviside.kind!r}, which has "
                                 "no offset; sweep it with kind: ramp")
            ignored_unless(cfg.pde.heaviside, "offset", False, f"the sweep sets {path} for every member",
                           prefix="pde.heaviside.")
            continue
        field = path.split(".")[1]
        ignored_unless(cfg.pde, field, False, f"the sweep sets {path} for every member", prefix="pde.")
