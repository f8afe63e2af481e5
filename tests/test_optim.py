"""The phases' learning-rate schedules, their numbers as arrays (neurocli.training.optim), against
optax's own schedules, and one program serving phases that differ only in those numbers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from neurocli.config.optim import PhaseConfig
from neurocli.training.optim import hyper, learning_rate, make_optimizer, structure


def optax_schedule(phase: PhaseConfig) -> optax.Schedule:
    """The schedule as optax builds it from Python numbers (what the phases used before)."""
    steps = phase.iterations - phase.warmup
    if phase.schedule == "constant":
        main = optax.constant_schedule(phase.lr)
    elif phase.schedule == "cosine":
        main = optax.cosine_decay_schedule(phase.lr, steps, alpha=phase.end_lr / phase.lr)
    else:
        main = optax.exponential_decay(phase.lr, steps, phase.end_lr / phase.lr, end_value=phase.end_lr)
    if not phase.warmup:
        return main
    return optax.join_schedules([optax.linear_schedule(phase.lr / 100.0, phase.lr, phase.warmup), main],
                                [phase.warmup])


PHASES = [
    dict(iterations=40, lr=0.01),
    dict(iterations=40, lr=0.01, schedule="cosine"),
    dict(iterations=40, lr=0.01, schedule="cosine", final_lr=2e-3, warmup=7),
    dict(iterations=33, lr=3e-3, schedule="exponential"),
    dict(iterations=33, lr=3e-3, schedule="exponential", final_lr=1e-2, warmup=5),  # a growing "decay"
    dict(iterations=12, lr=0.5, warmup=11),
]


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("numbers", PHASES)
def test_schedules_are_optaxs_at_every_step(numbers, precision):
    phase = PhaseConfig(optimizer="adam", **numbers)
    counts = jnp.arange(phase.iterations + 5, dtype=jnp.int32)  # and past the end
    with jax.enable_x64(precision == "float64"):
        ours = jax.jit(lambda h: jax.vmap(learning_rate(h))(counts))(hyper(phase))
        # optax's count in the float type: it divides an int32 count in float32 also under x64
        theirs = jax.jit(jax.vmap(optax_schedule(phase)))(counts.astype(precision))
        assert ours.dtype == jnp.dtype(precision)
        # float32: optax's values and ours are each up to 1.5e-6 from the exact (float64) ones
        rtol = 4 * np.finfo(np.float64).eps if precision == "float64" else 2e-6
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs, ours.dtype), rtol=rtol, atol=0)


def test_phases_differing_only_in_their_numbers_share_one_program():
    """The optimiser built from a phase's structure and its numbers as inputs: one trace for
    phases of other learning rates, schedules, warm-ups and lengths; each gives its own updates."""
    traces = []

    def update(h, grads, state, params):
        traces.append(1)
        return make_optimizer(structure(a), h).update(grads, state, params)

    step = jax.jit(update)
    a = PhaseConfig(optimizer="adam", iterations=10, lr=0.01)
    b = PhaseConfig(optimizer="adam", iterations=50, lr=0.3, schedule="cosine", warmup=4)
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.array([0.5, -1.0, 2.0])}
    for phase in (a, b):
        opt = make_optimizer(phase)
        state = opt.init(params)
        for _ in range(6):
            want, want_state = opt.update(grads, state, params)
            got, state = step(hyper(phase), grads, state, params)
            np.testing.assert_allclose(got["w"], want["w"], rtol=1e-15)
    assert len(traces) == 1
    assert structure(a) == structure(b)
