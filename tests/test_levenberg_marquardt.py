"""Levenberg–Marquardt: exact on linear least squares, monotone, and the UDE objective's residuals."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.config.base import ConfigError, validate
from neurocli.config.optim import PhaseConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.training.levenberg_marquardt import LevenbergMarquardt
from ude_helpers import build, fit, smoke_config


def run(residuals, params, iterations, damping=1e-3):
    lm = LevenbergMarquardt(damping)
    state = lm.init(params)
    step = jax.jit(lambda p, s: lm.iterate(residuals, p, s))
    losses = []
    for _ in range(iterations):
        params, state, loss, _ = step(params, state)
        losses.append(float(loss))
    return params, np.array(losses)


def test_linear_least_squares_is_solved_exactly():
    rng = np.random.default_rng(0)
    A, b = jnp.asarray(rng.normal(size=(40, 6))), jnp.asarray(rng.normal(size=40))
    x, losses = run(lambda p: A @ p["x"] - b, {"x": jnp.zeros(6)}, 12)
    expected = np.linalg.lstsq(np.asarray(A), np.asarray(b), rcond=None)[0]
    np.testing.assert_allclose(x["x"], expected, rtol=1e-8, atol=1e-10)
    assert np.all(np.diff(losses) <= 0.0)


def test_rosenbrock_converges_monotonically():
    def residuals(p):
        x, y = p
        return jnp.stack([10.0 * (y - x**2), 1.0 - x])

    p, losses = run(residuals, jnp.asarray([-1.2, 1.0]), 60)
    np.testing.assert_allclose(p, [1.0, 1.0], atol=1e-8)
    assert np.all(np.diff(losses) <= 0.0) and losses[0] == pytest.approx(24.2)


@pytest.mark.slow
@pytest.mark.parametrize("loss_cfg", [
    {},
    {"reduction": "mse", "weights": {"n": 100.0}},
    {"curriculum": {"start_ms": 5.0, "iterations": 8}},
    {"shooting": {"segment_ms": 1.0, "iterations": 8}},
], ids=["sse", "weighted-mse", "curriculum", "shooting"])
def test_residuals_square_to_the_loss(loss_cfg):
    loss, params, _ = build(smoke_config(loss=loss_cfg))
    for iteration in (0, 4):
        r, _ = loss.residuals(params, jnp.asarray(iteration))
        assert float(jnp.sum(r**2)) == pytest.approx(float(loss(params, jnp.asarray(iteration))[0]), rel=1e-12)
    if "shooting" not in loss_cfg:
        return
    # forward mode (the Jacobian LM uses; vmapped over segments here) agrees with reverse mode
    fwd = loss.for_phase(0, forward_mode=True)
    assert fwd.adjoint == "forward" and dataclasses.replace(fwd, adjoint=loss.adjoint) == loss
    g_rev = jax.grad(lambda p: loss(p, jnp.asarray(0))[0])(params)
    g_fwd = jax.jacfwd(lambda p: fwd(p, jnp.asarray(0))[0])(params)
    for a, b in zip(jax.tree.leaves(g_rev), jax.tree.leaves(g_fwd)):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * float(jnp.max(jnp.abs(a))))


@pytest.mark.slow
def test_lm_phase_fits_the_smoke_problem():
    cfg = smoke_config()
    loss, params, _ = build(cfg)
    phases = [PhaseConfig(optimizer="levenberg_marquardt", iterations=25)]
    result = fit(loss, params, phases)
    losses = result.history["loss"]
    assert result.failed_solves == 0 and np.all(np.diff(losses) <= 0.0)
    assert result.best_loss < 1e-3 * losses[0]


def test_config_checks():
    with pytest.raises(ConfigError) as err:
        validate(PhaseConfig, {"optimizer": "adam", "iterations": 3, "damping": 1.0}, "x.yaml")
    assert "damping" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate(PhaseConfig, {"optimizer": "levenberg_marquardt", "iterations": 3, "schedule": "cosine"}, "x.yaml")
    assert "schedule" in str(err.value)
    pinn = {"pde": {"a": 0.2, "boundary": "dirichlet"},
            "phases": [{"optimizer": "levenberg_marquardt", "iterations": 3}]}
    with pytest.raises(ConfigError) as err:
        validate(TrainPinnConfig, pinn, "p.yaml")
    assert "phases[0].optimizer" in str(err.value)
