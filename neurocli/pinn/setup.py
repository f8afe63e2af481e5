"""From a validated config to what training needs (`PinnSetup`): the model, the ansatz, the float type."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from neurocli.config.models import ReactionDiffusionConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.models import build_model, build_profile
from neurocli.models.reaction_diffusion import ReactionDiffusion
from neurocli.pinn.ansatz import Ansatz
from neurocli.pinn.heat import QUADRATURE_INTERVALS, heat_series
from neurocli.pinn.members import clock, column, constants, members_of, targets
from neurocli.pinn.networks import PinnNetwork, init_networks


@dataclasses.dataclass(frozen=True)
class Adaptive:
    every: int
    candidates: int
    exponent: float
    fraction: float


@dataclasses.dataclass(frozen=True)
class Collocation:
    kind: str  # fixed | resample
    points: int
    batch: int
    time_power: float
    lbfgs_points: int
    adaptive: Adaptive | None


@dataclasses.dataclass(frozen=True)
class Weighting:
    kind: str  # fixed | gradnorm | causal
    alpha: float
    epsilon: float
    chunks: int


@dataclasses.dataclass(frozen=True)
class Numerics:
    """What the jitted steps and losses read (small and frozen; no schema objects)."""

    model: ReactionDiffusion  # a member's constants are set in the step (at `targets`)
    targets: tuple[tuple[str, ...] | None, ...]  # where each member constant goes in `model` (members.targets)
    clock: int | None  # pde.T swept: the constant holding each member's T; training runs in s = t · T / T_i
    ansatz: Ansatz
    dtype: object
    T: float
    length: float
    boundary: str
    terms: tuple[str, ...]
    derivatives: str
    collocation: Collocation
    weighting: Weighting
    band: float | None = None  # pde.residual inclusion: the band |u − a| ≤ band where H is [0, 1]


def numerics(cfg: TrainPinnConfig, model: ReactionDiffusion, ansatz: Ansatz) -> Numerics:
    col, w, pde = cfg.collocation, cfg.weighting, cfg.pde
    ad = col.adaptive
    adaptive = None if ad is None else Adaptive(ad.every, ad.candidates, float(ad.exponent), float(ad.fraction))
    if cfg.conditions.kind == "hard":
        terms = ("residual",)
    elif pde.boundary == "none":
        terms = ("residual", "initial")
    else:
        terms = ("residual", "initial", "boundary")
    return Numerics(
        model, targets(cfg), clock(cfg), ansatz, dtype_of(cfg), float(pde.T), float(pde.length), pde.boundary, terms, cfg.derivatives,
        Collocation(col.kind, col.points, col.batch, float(col.time_power), col.lbfgs_points, adaptive),
        Weighting(w.kind, float(w.alpha), float(w.epsilon), int(w.chunks)),
        float(pde.band) if pde.residual == "inclusion" else None,
    )


@dataclasses.dataclass(frozen=True)
class PinnSetup:
    """The host side of training: the config (phases, output, network shape) and `numerics`,
    which is all the jitted code sees."""

    cfg: TrainPinnConfig
    numerics: Numerics

    @property
    def model(self) -> ReactionDiffusion:
        return self.numerics.model

    @property
    def ansatz(self) -> Ansatz:
        return self.numerics.ansatz

    @property
    def dtype(self):
        return self.numerics.dtype

    @property
    def terms(self) -> tuple[str, ...]:
        return self.numerics.terms

    @property
    def loss_columns(self) -> tuple[str, ...]:
        return ("loss", *self.terms)

    def initial_weights(self) -> np.ndarray:
        c = self.cfg.conditions
        by_name = {"residual": 1.0, "initial": c.initial_weight, "boundary": c.boundary_weight}
        return np.array([by_name[t] for t in self.terms])

    def make_network(self, keys: PRNGKeyArray, fold: int | None = None) -> PinnNetwork:
        """One network per key (stacked); with `fold`, from each key folded with it."""
        pde = self.cfg.pde
        return init_networks(self.cfg.network, pde.T, pde.length, keys, self.dtype, fold)


def model_boundary(boundary: str) -> str:
    """The boundary condition of the model a run is checked against: `none` is checked as neumann."""
    return "neumann" if boundary == "none" else boundary


def model_config(cfg: TrainPinnConfig, a: float, k: float | None = None, nx: int = 401) -> ReactionDiffusionConfig:
    """The `simulate` model section for one member (its a and k, default pde.k; the run's length
    and φ; boundary as above)."""
    pde = cfg.pde
    return ReactionDiffusionConfig(
        name="reaction_diffusion", a=a, k=pde.k if k is None else k, length=pde.length, nx=nx,
        boundary=model_boundary(pde.boundary), initial=pde.initial, heaviside=pde.heaviside,
    )


def dtype_of(cfg: TrainPinnConfig):
    return jnp.float32 if cfg.runtime.precision == "float32" else jnp.float64


def build_pde_model(cfg: TrainPinnConfig) -> ReactionDiffusion:
    """The model the residual takes its constants from (`a` and `k` are replaced per member), its
    float parameters in the training precision whatever the process-wide x64 setting."""
    values = constants(cfg, members_of(cfg))
    a, k = column(cfg, values, "pde.a")[0], column(cfg, values, "pde.k")[0]
    model = build_model(model_config(cfg, float(a), float(k)))
    dtype = dtype_of(cfg)
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype) if eqx.is_inexact_array(v) else v, model)


def build_ansatz(cfg: TrainPinnConfig, model: ReactionDiffusion) -> Ansatz:
    pde, cond = cfg.pde, cfg.conditions
    heat = None
    if cond.kind == "hard" and cond.base == "heat":
        with jax.enable_x64(True):  # the coefficients in float64, whatever the training precision
            profile = build_profile(pde.initial)
            nodes = np.linspace(0.0, pde.length, QUADRATURE_INTERVALS + 1)
            values = np.asarray(profile(jnp.asarray(nodes)), dtype=np.float64)
        heat = heat_series(values, pde.length, model_boundary(pde.boundary), cond.modes, dtype_of(cfg))
    return Ansatz(cond.kind, pde.boundary, float(pde.T), float(pde.length), model.initial, heat)


def build_setup(cfg: TrainPinnConfig, model: ReactionDiffusion | None = None) -> PinnSetup:
    model = build_pde_model(cfg) if model is None else model
    return PinnSetup(cfg, numerics(cfg, model, build_ansatz(cfg, model)))
