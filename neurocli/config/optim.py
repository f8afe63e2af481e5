"""Optimisation as a list of phases (e.g. Adam with a schedule, then L-BFGS)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section


class PhaseConfig(Section):
    """One optimisation phase: an optax optimiser run for `iterations` steps."""

    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] = "adam"
    iterations: PositiveInt
    lr: PositiveFloat = 1e-3
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    final_lr: PositiveFloat | None = Field(default=None, description="end of a cosine/exponential decay (default lr/100)")
    warmup: NonNegativeInt = 0
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    clip_norm: PositiveFloat | None = Field(default=None, description="clip the global gradient norm")

    @model_validator(mode="after")
    def _check(self):
        if self.warmup >= self.iterations:
            raise KeyedError("warmup", f"must be fewer than iterations ({self.iterations})")
        if self.optimizer == "lbfgs" and (self.schedule != "constant" or self.warmup):
            raise KeyedError("schedule", "lbfgs uses its own line search: schedule constant, no warmup")
        return self

    @property
    def end_lr(self) -> float:
        return self.final_lr if self.final_lr is not None else self.lr / 100.0
