"""The `neurocli train-pinn` config: the PDE, the network, how it is trained, the reference.

    u_t = u_xx − u + H_k(u − a)  on (0, length) × (0, T],  u(0, x) = initial(x)

`pde.a` is a scalar or a list: a list is a sweep, every member trained at once (one vmapped step).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section
from neurocli.config.common import RuntimeConfig, SolverConfig
from neurocli.config.models import PhiProfile, ProfileConfig
from neurocli.config.optim import PhaseConfig

Boundary = Literal["dirichlet", "neumann", "none"]


class PinnPDEConfig(Section):
    """The problem. boundary `none` is the paper's code (no boundary term; its reference is neumann)."""

    a: float | list[float] = Field(default=0.2, description="threshold; a list is a sweep")
    k: PositiveFloat = Field(default=5.0, description="steepness of H_k (the sharp limit is k -> inf)")
    T: PositiveFloat = Field(default=1.0, description="final time")
    length: PositiveFloat = math.pi
    initial: ProfileConfig = PhiProfile()
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
        centre = getattr(self.initial, "centre", self.length / 2)
        if not 0 <= centre <= self.length:
            raise KeyedError("initial.centre", f"must lie in [0, length={self.length}]")
        return self

    def member_values(self) -> list[float]:
        return list(self.a) if isinstance(self.a, list) else [float(self.a)]


class FourierConfig(Section):
    """Random Fourier features of the normalised inputs: [z, sin(π z B), cos(π z B)], B ~ N(0, scale²)."""

    features: PositiveInt = 16
    scale: PositiveFloat = 1.0


class NetworkConfig(Section):
    """A network N(t, x) -> scalar: an MLP, or the gated DGM layers of Sirignano & Spiliopoulos."""

    kind: Literal["mlp", "dgm"] = "mlp"
    width: PositiveInt = 32
    depth: PositiveInt = Field(default=3, description="hidden layers (mlp) or DGM layers (dgm)")
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
    modes: PositiveInt | None = Field(default=None, description="heat base: eigenmodes (None: as many as the profile needs)")
    initial_weight: PositiveFloat = 1.0
    boundary_weight: PositiveFloat = 1.0


class AdaptiveConfig(Section):
    """Residual-based adaptive resampling (RAD): every `every` steps the pool of `points` is redrawn
    from `candidates` uniform points with probability ∝ r^exponent / mean(r^exponent) + 1."""

    every: PositiveInt = 200
    candidates: PositiveInt = 8192
    exponent: PositiveFloat = 2.0
    fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.5, description="resample: the share of each batch drawn from the adaptive pool"
    )


class CollocationConfig(Section):
    """Where the residual is evaluated: a fixed pool of `points` batched (the paper's PINN), or fresh
    samples every step (the Deep Galerkin method). t = T · U^time_power, x = length · U."""

    kind: Literal["fixed", "resample"] = "resample"
    points: PositiveInt = 2000
    batch: PositiveInt = 1024
    time_power: Annotated[float, Field(ge=1.0)] = 1.0
    lbfgs_points: PositiveInt = Field(default=4096, description="resample: the fixed set an L-BFGS phase uses")
    adaptive: AdaptiveConfig | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.kind == "fixed" and self.batch > self.points:
            raise KeyedError("batch", f"must not exceed points ({self.points}) for fixed collocation")
        if self.adaptive is not None and self.adaptive.candidates < self.points:
            raise KeyedError("adaptive.candidates", f"must be at least points ({self.points})")
        return self


class WeightingConfig(Section):
    """fixed: the configured weights. gradnorm: each term weighted by Σ‖∇L_j‖ / ‖∇L_i‖ (moving
    average `alpha`). causal: the residual over `chunks` time slices, slice i weighted by
    exp(−epsilon Σ_{j<i} L_j) (Wang, Sankaran & Perdikaris)."""

    kind: Literal["fixed", "gradnorm", "causal"] = "fixed"
    alpha: Annotated[float, Field(gt=0, le=1)] = 0.1
    epsilon: PositiveFloat = 1.0
    chunks: Annotated[int, Field(ge=2)] = 16


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
    nt: Annotated[int, Field(ge=2)] = 128
    nx: Annotated[int, Field(ge=3)] = 128
    log_every: PositiveInt = 10
    checkpoint_every: PositiveInt = 500
    profile_times: list[float] | None = Field(default=None, description="times of the profile plots (default: 5 evenly)")


class PinnRuntimeConfig(RuntimeConfig):
    """As for every command, but PINNs train in float32 by default (the reference is float64)."""

    precision: Literal["float32", "float64"] = "float32"


class TrainPinnConfig(Section):
    pde: PinnPDEConfig
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
    runtime: PinnRuntimeConfig = PinnRuntimeConfig()

    @model_validator(mode="after")
    def _check(self):
        if not self.phases:
            raise KeyedError("phases", "is empty: give at least one optimisation phase")
        for i, phase in enumerate(self.phases):
            if phase.optimizer == "levenberg_marquardt":
                raise KeyedError(f"phases[{i}].optimizer", "levenberg_marquardt is train-ude's (a least-squares fit)")
        if self.weighting.kind == "gradnorm" and self.conditions.kind == "hard":
            raise KeyedError("weighting.kind", "gradnorm balances loss terms; hard conditions leave only the residual")
        if self.reference.nx is not None and (self.reference.nx - 1) % (self.output.nx - 1):
            raise KeyedError(
                "reference.nx", f"nx − 1 must be a multiple of output.nx − 1 = {self.output.nx - 1} (got {self.reference.nx})"
            )
        times = self.output.profile_times or []
        for i, t in enumerate(times):
            if not 0 <= t <= self.pde.T:
                raise KeyedError(f"output.profile_times[{i}]", f"must lie in [0, T={self.pde.T}]")
        return self

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

