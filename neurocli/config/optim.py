"""Optimisation as a list of phases (e.g. Adam with a schedule, then L-BFGS)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from neurocli.config.base import KeyedError, Section, ignored_unless


class PhaseConfig(Section):
    """One optimisation phase: an optax optimiser (or, in train-ude, Levenberg–Marquardt) run for
    `iterations` steps."""

    optimizer: Literal["adam", "adamw", "sgd", "lbfgs", "levenberg_marquardt"] = "adam"
    iterations: Annotated[int, Field(ge=1, le=10**8)]
    lr: PositiveFloat = 1e-3
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    final_lr: PositiveFloat | None = Field(default=None, description="end of a cosine/exponential decay (default lr/100)")
    warmup: NonNegativeInt = 0
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    clip_norm: PositiveFloat | None = Field(default=None, description="clip the global gradient norm")
    memory: PositiveInt | None = Field(default=None, description="lbfgs: past updates kept (default 10)")
    damping: PositiveFloat | None = Field(
        default=None, description="levenberg_marquardt: initial damping λ (default 1e-3)"
    )

    @model_validator(mode="after")
    def _check(self):
        if self.warmup >= self.iterations:
            raise KeyedError("warmup", f"must be fewer than iterations ({self.iterations})")
        searched = self.optimizer in ("lbfgs", "levenberg_marquardt")
        if searched and (self.schedule != "constant" or self.warmup):
            raise KeyedError("schedule", f"{self.optimizer} chooses its own steps: schedule constant, no warmup")
        if self.optimizer != "lbfgs" and self.memory is not None:
            raise KeyedError("memory", "only lbfgs has a memory")
        if self.optimizer != "levenberg_marquardt" and self.damping is not None:
            raise KeyedError("damping", "only levenberg_marquardt has a damping")
        ignored_unless(self, "final_lr", self.schedule != "constant", "a constant schedule has no final_lr")
        ignored_unless(self, "weight_decay", self.optimizer == "adamw", "only adamw has a weight_decay")
        return self

    @property
    def lbfgs_memory(self) -> int:
        return 10 if self.memory is None else self.memory

    @property
    def lm_damping(self) -> float:
        return 1e-3 if self.damping is None else self.damping

    @property
    def end_lr(self) -> float:
        return self.final_lr if self.final_lr is not None else self.lr / 100.0
