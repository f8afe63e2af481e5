"""Optax optimisers from phase configs, their numbers as the step program's inputs.

A first-order phase's learning-rate numbers (`lr`, `final_lr`, `schedule`, `warmup` and
`iterations`) reach its step as arrays (`Hyper`), not as constants traced into it, and the step is
traced from the phase's `structure` (the phase without those numbers). A phase that differs from
a cached one only in them reuses the cached step: a warm run whose learning rate or iteration
count was changed neither traces nor compiles its steps again. The schedules are optax's
(constant, cosine and exponential decay, each after an optional linear warm-up), written with
their numbers as arrays; `tests/test_optim.py` checks them against optax's own at every step.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from neurocli.config.optim import PhaseConfig

SCHEDULES = ("constant", "cosine", "exponential")
NUMBERS = {"lr": 1.0, "final_lr": None, "schedule": "constant", "warmup": 0, "iterations": 1}  # -> Hyper


class Hyper(eqx.Module):
    """A phase's learning-rate schedule as arrays, in the default float type (as optax computes it);
    the ratios are taken in Python's double precision, as optax takes them."""

    lr: Float[Array, ""]
    end_lr: Float[Array, ""]
    ratio: Float[Array, ""]  # end_lr / lr: cosine's alpha, exponential's decay rate
    decay: Float[Array, ""]  # 1 - ratio
    warm_lr: Float[Array, ""]  # where the warm-up starts: lr / 100
    steps: Float[Array, ""]  # of the decay, after the warm-up
    warmup: Float[Array, ""]
    schedule: Int[Array, ""]  # index in SCHEDULES


def hyper(phase: PhaseConfig) -> Hyper:
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    ratio = phase.end_lr / phase.lr
    numbers = (phase.lr, phase.end_lr, ratio, 1 - ratio, phase.lr / 100.0, phase.iterations - phase.warmup,
               phase.warmup)
    return Hyper(*(jnp.asarray(v, dtype) for v in numbers), jnp.asarray(SCHEDULES.index(phase.schedule), jnp.int32))


def structure(phase: PhaseConfig) -> PhaseConfig:
    """The phase without the numbers `hyper` carries: what a step is traced from (its key)."""
    return phase.model_copy(update=NUMBERS)


def learning_rate(h: Hyper) -> optax.Schedule:
    """The schedule of `h`, by optax's formulas (cosine_decay_schedule; exponential_decay with its
    end value; linear_schedule and join_schedules for the warm-up), its numbers arrays. The step
    count is taken in `h`'s float type first (optax divides an int32 count by an int in float32,
    also under x64, in the exponential decay and the warm-up)."""

    def main(count):
        cosine = h.lr * (h.decay * (0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count, h.steps) / h.steps)))
                         + h.ratio)
        decayed = jnp.where(count <= 0, h.lr, h.lr * jnp.power(h.ratio, count / h.steps))
        exponential = jnp.where(h.ratio < 1.0, jnp.maximum(decayed, h.end_lr), jnp.minimum(decayed, h.end_lr))
        return jnp.select([h.schedule == 1, h.schedule == 2], [cosine, exponential], h.lr)

    def schedule(count):
        count = jnp.asarray(count, h.lr.dtype)
        warm = (h.warm_lr - h.lr) * (1 - jnp.clip(count, 0, h.warmup) / h.warmup) + h.lr  # 0/0 unused
        return jnp.where(count < h.warmup, warm, main(count - h.warmup))

    return schedule


def make_optimizer(phase: PhaseConfig, h: Hyper | None = None) -> optax.GradientTransformationExtraArgs:
    """The phase's optimiser, with global-norm clipping first when configured; its learning rate
    from `h` (default: the phase's own numbers, as constants).

    L-BFGS (optax.lbfgs with its zoom line search) needs `value`, `grad` and `value_fn` passed to
    `update`: see `is_lbfgs`.
    """
    if phase.optimizer == "lbfgs":
        core = optax.lbfgs(learning_rate=None, memory_size=phase.lbfgs_memory)
    else:
        lr = learning_rate(hyper(phase) if h is None else h)
        if phase.optimizer == "adam":
            core = optax.adam(lr)
        elif phase.optimizer == "adamw":
            core = optax.adamw(lr, weight_decay=phase.weight_decay)
        elif phase.optimizer == "sgd":
            core = optax.sgd(lr)
        else:
            raise ValueError(f"{phase.optimizer} is not an optax optimiser")
    if phase.clip_norm is None:
        return optax.with_extra_args_support(core)
    return optax.chain(optax.clip_by_global_norm(phase.clip_norm), core)


def is_lbfgs(phase: PhaseConfig) -> bool:
    return phase.optimizer == "lbfgs"
