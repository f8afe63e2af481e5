"""Config sections for the models. Keys are the model classes' field names, so a config section
builds its model directly and a sweep path (`model.g_Na`) names a field of both."""

from __future__ import annotations

import math
import typing
from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field, PositiveFloat, model_validator

from neurocli.config.base import KeyedError, Moves, Section, Unit
from neurocli.models.hh_membrane import SQUID


class _ModelSection(Section):
    """A model's config. `geometry` says what the model is (dispatch by type, not by name):
    `neuron` (a point neuron, states over time), `pde` (a free field u(t, x)), `cable` (an axon
    driven by a stimulus, V(t, x)); `units` names its time and current units for labels."""

    geometry: ClassVar[str] = "neuron"
    title_fields: ClassVar[dict[str, str]] = {}  # field -> symbol: what a figure's title shows of the model
    field_scales: ClassVar[dict[str, float]] = {}  # a cable's states and the size of their excursions (PINNs)
    units: ClassVar[dict[str, str]] = {"time": "ms", "current": "µA/cm²", "voltage": "mV", "length": "cm",
                                       "velocity": "m/s"}


DIMENSIONLESS = {"time": "", "current": "", "voltage": "", "length": "", "velocity": ""}


class _HHParameters(_ModelSection):
    """Squid-axon parameters in the modern convention (rest near -65 mV).

    Units: C_m µF/cm², conductances mS/cm², reversal potentials mV, temperature °C.
    """

    C_m: Annotated[PositiveFloat, Unit("µF/cm²")] = SQUID.C_m
    g_Na: Annotated[float, Unit("mS/cm²"), Field(ge=0)] = SQUID.g_Na
    g_K: Annotated[float, Unit("mS/cm²"), Field(ge=0)] = SQUID.g_K
    g_L: Annotated[float, Unit("mS/cm²"), Field(ge=0)] = SQUID.g_L
    E_Na: Annotated[float, Unit("mV")] = SQUID.E_Na
    E_K: Annotated[float, Unit("mV")] = SQUID.E_K
    E_L: Annotated[float, Unit("mV")] = SQUID.E_L
    temperature_C: Annotated[float, Unit("°C"), Field(ge=-20, le=50)] = SQUID.temperature_C


class HHConfig(_HHParameters):
    """Full Hodgkin–Huxley: states V, m, h, n."""

    name: Literal["hh"]


class HHReducedConfig(_HHParameters):
    """The seed's 2-D reduction: states V, n; m = m∞(V), h = h∞(V)."""

    name: Literal["hh_reduced"]


class FitzHughNagumoConfig(_ModelSection):
    """dv/dt = v − v³/3 − w + I + I_ext(t),  dw/dt = (v + a − b w)/tau (dimensionless)."""

    units: ClassVar[dict[str, str]] = DIMENSIONLESS
    name: Literal["fitzhugh_nagumo"]
    a: Annotated[float, Unit("")] = 0.7
    b: Annotated[float, Unit("")] = 0.8
    tau: Annotated[PositiveFloat, Unit("")] = 12.5
    I: Annotated[float, Unit("")] = 0.0


class SechProfile(Section):
    """u(0, x) = height / cosh((x − centre) / width)."""

    kind: Literal["sech"]
    height: float = 2.0
    centre: float = math.pi / 2
    width: PositiveFloat = 0.1


class GaussianProfile(Section):
    """u(0, x) = height · exp(−(x − centre)² / (2 width²))."""

    kind: Literal["gaussian"]
    height: float = 2.0
    centre: float = math.pi / 2
    width: PositiveFloat = 0.1


class PhiProfile(Section):
    """The paper's φ(x) = 2 / cosh(10 (x − π/2))."""

    kind: Literal["phi"] = "phi"


class ConstantProfile(Section):
    """u(0, x) = value everywhere."""

    kind: Literal["constant"]
    value: float


class PlateauProfile(Section):
    """u(0, x) = value on [start, stop], falling smoothly (a C² quintic) to 0 over edge_width on
    each side."""

    kind: Literal["plateau"]
    value: float
    start: float
    stop: float
    edge_width: PositiveFloat = 0.1

    @model_validator(mode="after")
    def _check(self):
        if not self.stop > self.start:
            raise KeyedError("stop", f"must be greater than start (got start={self.start}, stop={self.stop})")
        return self


ProfileConfig = Annotated[
    Union[PhiProfile, SechProfile, GaussianProfile, ConstantProfile, PlateauProfile], Field(discriminator="kind")
]


class RampHeavisideConfig(Section):
    """H_k(s) = clip(k s + offset, 0, 1): H_k(0) = offset (0: the paper's; 1: from below; 1/2: centred)."""

    kind: Literal["ramp"] = "ramp"
    offset: Annotated[float, Unit(""), Field(ge=0, le=1)] = 0.0


class SigmoidHeavisideConfig(Section):
    """H_k(s) = 1 / (1 + e^{−k s}): H_k(0) = 1/2."""

    kind: Literal["sigmoid"]


HeavisideConfig = Annotated[Union[RampHeavisideConfig, SigmoidHeavisideConfig], Field(discriminator="kind")]
"""Which regularisation H_k of the step H (neurocli/models/heaviside.py)."""


class ReactionDiffusionConfig(_ModelSection):
    """u_t = u_xx − u + H_k(u − a) on (0, length), method of lines with nx grid nodes."""

    geometry: ClassVar[str] = "pde"
    units: ClassVar[dict[str, str]] = DIMENSIONLESS
    name: Literal["reaction_diffusion"]
    a: Annotated[float, Unit(""), Field(gt=0, lt=1)] = 0.2
    k: Annotated[PositiveFloat, Unit("")] = 5.0
    length: Annotated[PositiveFloat, Unit(""), Moves.GRID] = math.pi
    nx: Annotated[int, Field(ge=5, le=20001)] = 201
    boundary: Literal["dirichlet", "neumann"]
    initial: ProfileConfig = PhiProfile()
    heaviside: HeavisideConfig = RampHeavisideConfig()

    @model_validator(mode="after")
    def _check(self):
        check_profile(self.initial, self.length)
        return self


def check_profile(initial, length: float, prefix: str = "initial.") -> None:
    """A profile's position keys lie on the line [0, length]."""
    centre = getattr(initial, "centre", length / 2)
    if not 0 <= centre <= length:
        raise KeyedError(prefix + "centre", f"must lie in [0, length={length}]")
    for key in ("start", "stop"):
        value = getattr(initial, key, None)
        if value is not None and not 0 <= value <= length:
            raise KeyedError(prefix + key, f"must lie in [0, length={length}] (got {value})")


class HHCableConfig(_HHParameters):
    """The Hodgkin–Huxley cable: C_m ∂V/∂t = (d/(4 R_i)) ∂²V/∂x² − I_ion + I_stim(x, t), HH gating
    at every node, sealed ends. Units: diameter µm, R_i Ω·cm, lengths cm, C_m µF/cm², t ms, V mV.

    The squid giant axon (HH 1952's propagated action potential) at 18.5 °C by default. The
    `stimulus:` section gives the time course of the injected current (µA/cm² of membrane); it
    flows into the first `stim_extent_cm` of the axon (x = 0 end).
    """

    geometry: ClassVar[str] = "cable"
    title_fields: ClassVar[dict[str, str]] = {"diameter_um": "d", "R_i_ohm_cm": "R_i", "temperature_C": "T"}
    field_scales: ClassVar[dict[str, float]] = {"V": 100.0, "m": 1.0, "h": 1.0, "n": 1.0}
    name: Literal["hh_cable"]
    temperature_C: Annotated[float, Unit("°C"), Field(ge=-20, le=50)] = 18.5
    diameter_um: Annotated[PositiveFloat, Unit("µm")] = 476.0
    R_i_ohm_cm: Annotated[PositiveFloat, Unit("Ω·cm")] = 35.4
    length_cm: Annotated[PositiveFloat, Unit("cm"), Moves.GRID] = 6.0
    nx: Annotated[int, Field(ge=11, le=20001)] = 401
    stim_extent_cm: Annotated[PositiveFloat, Unit("cm")] = 0.1

    @property
    def line_length(self) -> float:
        return float(self.length_cm)

    @model_validator(mode="after")
    def _check(self):
        if self.stim_extent_cm >= self.length_cm:
            raise KeyedError("stim_extent_cm", f"must be shorter than length_cm={self.length_cm}")
        return self


class FitzHughNagumoCableConfig(FitzHughNagumoConfig):
    """The FitzHugh–Nagumo cable (dimensionless): v_t = D v_xx + v − v³/3 − w + I + I_stim(x, t),
    w_t = (v + a − b w)/tau at every node, sealed ends. The `stimulus:` section's current flows into
    the first `stim_extent` of the line (x = 0 end)."""

    geometry: ClassVar[str] = "cable"
    title_fields: ClassVar[dict[str, str]] = {"D": "D", "a": "a", "b": "b", "tau": "τ"}
    field_scales: ClassVar[dict[str, float]] = {"v": 2.0, "w": 1.0}
    name: Literal["fitzhugh_nagumo_cable"]
    D: Annotated[PositiveFloat, Unit("")] = 1.0
    length: Annotated[PositiveFloat, Unit(""), Moves.GRID] = 60.0
    nx: Annotated[int, Field(ge=11, le=20001)] = 601
    stim_extent: Annotated[PositiveFloat, Unit("")] = 2.0

    @property
    def line_length(self) -> float:
        return float(self.length)

    @model_validator(mode="after")
    def _check(self):
        if self.stim_extent >= self.length:
            raise KeyedError("stim_extent", f"must be shorter than length={self.length}")
        return self


MODEL_SECTIONS = (HHConfig, HHReducedConfig, FitzHughNagumoConfig, ReactionDiffusionConfig, HHCableConfig,
                  FitzHughNagumoCableConfig)

ModelConfig = Annotated[Union[MODEL_SECTIONS], Field(discriminator="name")]


def section_of(name) -> type[_ModelSection] | None:
    """The model section a raw `model.name` selects (None: no such model), before validation."""
    return next((c for c in MODEL_SECTIONS if name in typing.get_args(c.model_fields["name"].annotation)), None)
