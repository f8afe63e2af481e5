"""train-pinn's `pde` section for a cable model (`pde.model: fitzhugh_nagumo_cable | hh_cable`).

    pde:
      model: hh_cable
      cable: {diameter_um: 476, temperature_C: 18.5, length_cm: 6, nx: 401, ...}  # simulate's model keys
      stimulus: {kind: pulse, start: 0.5, duration: 0.5, amplitude: 300}        # simulate's stimulus keys
      T: 8.0              # the time the PINN covers (ms, or dimensionless)
      windows: 16         # time marching: the network of window w starts from window w − 1's end state

`cable` is the simulate model section of the same name (its `name` is `pde.model`), so the PINN
solves exactly the problem `simulate` solves, in the same units; simulate's solver on the same
grid is the reference. The network sees inputs and outputs scaled to O(1) (`scales`).
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal, Union

from pydantic import Field, PositiveFloat, model_validator

from neurocli.config.base import KeyedError, Section
from neurocli.config.common import StimulusConfig
from neurocli.config.models import FitzHughNagumoCableConfig, HHCableConfig, section_of


def is_cable(name) -> bool:
    """Whether `name` is a cable model (a model section of geometry `cable`)."""
    section = section_of(name) if isinstance(name, str) else None
    return section is not None and section.geometry == "cable"

CableSection = Annotated[Union[FitzHughNagumoCableConfig, HHCableConfig], Field(discriminator="name")]


class CablePDEConfig(Section):
    """A PINN of a cable: every state of the line (v, w or V, m, h, n) as functions of (t, x)."""

    model: Literal["fitzhugh_nagumo_cable", "hh_cable"]
    cable: CableSection
    stimulus: StimulusConfig
    T: PositiveFloat = Field(description="the final time (the cable's time unit)")
    windows: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=8, description="time-marching windows of length T / windows, trained one after the other"
    )
    modes: Annotated[int, Field(ge=2, le=100_000)] = Field(
        default=256, description="cosine modes of the end state a window hands to the next"
    )
    scales: dict[str, PositiveFloat] | None = Field(
        default=None, description="each field's scale (default the model section's field_scales: 100 mV for V, "
        "1 for the gates and FitzHugh–Nagumo's fields)"
    )
    velocity_points: tuple[float, float] = Field(
        default=(1 / 3, 2 / 3), description="fractions of the length between which the velocity is timed"
    )
    spike_threshold: float = Field(default=0.0, description="the arrival time is the first upward crossing of this V")

    @model_validator(mode="before")
    @classmethod
    def _name_the_cable(cls, data):
        """`cable` takes its `name` from `model` (the user writes the model once; a resolved config
        spells it out, the same)."""
        if isinstance(data, dict) and not is_cable(data.get("model")):
            choices = ("reaction_diffusion", *typing.get_args(cls.model_fields["model"].annotation))
            raise KeyedError("model", f"unknown model {data.get('model')!r}; expected one of {', '.join(choices)}")
        if isinstance(data, dict) and isinstance(data.get("cable"), dict) and is_cable(data.get("model")):
            if data["cable"].get("name", data["model"]) != data["model"]:
                raise KeyedError("cable.name", f"is pde.model ({data['model']}); remove it")
            data = {**data, "cable": {**data["cable"], "name": data["model"]}}
        elif isinstance(data, dict) and "cable" not in data and is_cable(data.get("model")):
            data = {**data, "cable": {"name": data["model"]}}
        return data

    @model_validator(mode="after")
    def _check(self):
        names = self.field_names
        if self.scales is not None:
            unknown = [k for k in self.scales if k not in names]
            if unknown:
                raise KeyedError(f"scales.{unknown[0]}", f"no such field; expected one of {', '.join(names)}")
        lo, hi = self.velocity_points
        if not 0.0 <= lo < hi <= 1.0:
            raise KeyedError("velocity_points", f"must be two fractions 0 ≤ a < b ≤ 1 of the length (got {lo}, {hi})")
        if self.stimulus.kind == "none":
            raise KeyedError("stimulus.kind", "a cable at rest stays at rest: give a stimulus (pulse, step, pulse_train)")
        return self

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(type(self.cable).field_scales)

    @property
    def field_scales(self) -> tuple[float, ...]:
        """Each field's scale: the network's outputs are multiplied by it and each field's residual
        divided by it, so the network works on O(1) numbers."""
        given = self.scales or {}
        return tuple(float(given.get(k, v)) for k, v in type(self.cable).field_scales.items())

    @property
    def length(self) -> float:
        return self.cable.line_length
