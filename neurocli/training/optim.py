"""Optax optimisers from phase configs."""

from __future__ import annotations

import optax

from neurocli.config.optim import PhaseConfig


def learning_rate(phase: PhaseConfig) -> optax.Schedule:
    steps = phase.iterations - phase.warmup
    if phase.schedule == "constant":
        main = optax.constant_schedule(phase.lr)
    elif phase.schedule == "cosine":
        main = optax.cosine_decay_schedule(phase.lr, steps, alpha=phase.end_lr / phase.lr)
    else:
        main = optax.exponential_decay(phase.lr, steps, phase.end_lr / phase.lr, end_value=phase.end_lr)
    if not phase.warmup:
        return main
    warm = optax.linear_schedule(phase.lr / 100.0, phase.lr, phase.warmup)
    return optax.join_schedules([warm, main], [phase.warmup])


def make_optimizer(phase: PhaseConfig) -> optax.GradientTransformationExtraArgs:
    """The phase's optimiser, with global-norm clipping first when configured.

    L-BFGS (optax.lbfgs with its zoom line search) needs `value`, `grad` and `value_fn` passed to
    `update`: see `is_lbfgs`.
    """
    if phase.optimizer == "lbfgs":
        core = optax.lbfgs(learning_rate=None, memory_size=phase.lbfgs_memory)
    elif phase.optimizer == "adam":
        core = optax.adam(learning_rate(phase))
    elif phase.optimizer == "adamw":
        core = optax.adamw(learning_rate(phase), weight_decay=phase.weight_decay)
    elif phase.optimizer == "sgd":
        core = optax.sgd(learning_rate(phase))
    else:
        raise ValueError(f"{phase.optimizer} is not an optax optimiser")
    if phase.clip_norm is None:
        return optax.with_extra_args_support(core)
    return optax.chain(optax.clip_by_global_norm(phase.clip_norm), core)


def is_lbfgs(phase: PhaseConfig) -> bool:
    return phase.optimizer == "lbfgs"
