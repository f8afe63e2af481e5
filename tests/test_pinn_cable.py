"""PINNs of the cable models (train-pinn pde.model fitzhugh_nagumo_cable | hh_cable): the cosine
hand-over between windows, the residual against finite differences of the same field, the hand-
over's continuity, resume, bad configs, and a short FitzHugh–Nagumo run measured against its
reference (simulate's solve)."""

from __future__ import annotations

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import invoke
from neurocli.config.base import ConfigError, validate
from neurocli.config.pinn import TrainPinnConfig
from neurocli.pinn import cable_run
from neurocli.pinn.cable_reference import conduction_velocity, solve_reference
from neurocli.pinn.cosine_series import CosineSeries, cosine_coefficients
from neurocli.run_dir import RunDirectory
from neurocli.training import engine
from pinn_helpers import keep_global_jax_state, train  # noqa: F401 (an autouse fixture)


def cable_config(**sections) -> TrainPinnConfig:
    data = {
        "pde": {"model": "fitzhugh_nagumo_cable", "cable": {"length": 10.0, "nx": 101},
                "stimulus": {"kind": "pulse", "start": 0.5, "duration": 1.0, "amplitude": 2.0}, "T": 6.0, "windows": 3,
                "velocity_points": [0.25, 0.45]},
        "network": {"kind": "mlp", "width": 24, "depth": 2},
        "collocation": {"batch": 256, "lbfgs_points": 256},
        "phases": [{"optimizer": "adam", "iterations": 20, "lr": 3e-3, "schedule": "cosine"}],
        "output": {"nt": 31, "nx": 51, "log_every": 5, "checkpoint_every": 10},
        "runtime": {"precision": "float32", "seed": 1},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return validate(TrainPinnConfig, data, "test")


def _leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


# -- the cosine hand-over ---------------------------------------------------------------------


def _sealed(x, L):
    """exp(cos(πx/L)) + 0.3 exp(2 cos(2πx/L)): smooth, every odd derivative zero at both ends; and
    its second derivative (h = exp(a cos kx): h'' = (a² k² sin² kx − a k² cos kx) h)."""
    value, second = 0.0, 0.0
    for weight, a, k in ((1.0, 1.0, np.pi / L), (0.3, 2.0, 2 * np.pi / L)):
        h = weight * np.exp(a * np.cos(k * x))
        value = value + h
        second = second + (a * a * k * k * np.sin(k * x) ** 2 - a * k * k * np.cos(k * x)) * h
    return value, second


def test_cosine_series_interpolates_and_differentiates_a_sealed_field():
    L = 7.0
    f, _ = _sealed(np.linspace(0.0, L, 513), L)
    with jax.enable_x64(True):
        series = CosineSeries(jnp.asarray(cosine_coefficients(f[None], 64)), L)
        xq = jnp.asarray(np.linspace(0.0, L, 301))
        values = np.asarray(jax.vmap(series)(xq))[:, 0]
        second = np.asarray(jax.vmap(series.second_derivative)(xq))[:, 0]
    g, g_xx = _sealed(np.asarray(xq), L)
    assert np.max(np.abs(values - g)) < 1e-10
    assert np.max(np.abs(second - g_xx)) < 1e-8


def test_cosine_series_of_all_modes_reproduces_the_samples():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(2, 33))
    c = cosine_coefficients(samples, 33)
    with jax.enable_x64(True):
        series = CosineSeries(jnp.asarray(c), 3.0)
        back = np.asarray(jax.vmap(series)(jnp.linspace(0.0, 3.0, 33))).T
    np.testing.assert_allclose(back, samples, atol=1e-10)


# -- the residual -------------------------------------------------------------------------------


def test_residual_matches_finite_differences_of_the_field():
    """r = (y_t − e₀ D y_xx − f) Δ / s with autodiff inside; here y_t and v_xx by central differences
    of `state` itself, f by FitzHugh–Nagumo's formula written out."""
    cfg = cable_config(runtime={"precision": "float64", "seed": 1})
    with jax.enable_x64(True):
        task = cable_run.trainer(cfg)
        fields = task.fields
        net = eqx.combine(jax.tree_util.tree_map(lambda a: a[1], task.params0), task.static)
        rng = np.random.default_rng(1)
        base = CosineSeries(jnp.asarray(rng.normal(size=(2, 16)) * np.exp(-np.arange(16))[None, :] * 0.5), 10.0)
        start, h = 2.0, 1e-4
        for t, x in [(2.7, 0.7), (3.9, 6.1), (2.2, 9.3)]:
            y = lambda tt, xx: np.asarray(fields.state(net, base, start, jnp.asarray(tt), jnp.asarray(xx)))  # noqa: E731
            y0 = y(t, x)
            y_t = (y(t + h, x) - y(t - h, x)) / (2 * h)
            v_xx = (y(t, x + h)[0] - 2 * y0[0] + y(t, x - h)[0]) / h**2
            current = float(fields.stimulus(jnp.asarray(t))) * (x <= 2.0)  # the default stimulated extent
            v, w = y0
            f = np.array([v - v**3 / 3 - w + current, (v + 0.7 - 0.8 * w) / 12.5])
            want = (y_t - np.array([1.0 * v_xx, 0.0]) - f) * fields.window / np.array([2.0, 1.0])
            got = np.asarray(fields.residual(net, base, start, jnp.asarray(t), jnp.asarray(x)))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_windows_hand_over_their_end_state_and_resume_exactly(tmp_path):
    cfg = cable_config()
    task = cable_run.trainer(cfg)
    full = train(task)
    # window w starts where window w − 1 ended (up to the cosine truncation), on the line
    x = np.linspace(0.0, 10.0, 41)
    for w in (1, 2):
        t = np.full_like(x, w * task.window)
        end = task.evaluate(full.state.params, full.state.bases, np.full(x.size, w - 1), t, x)
        start = task.evaluate(full.state.params, full.state.bases, np.full(x.size, w), t, x)
        np.testing.assert_allclose(start, end, atol=2e-4)
    # interrupted in the second window and resumed: the uninterrupted run's parameters and log
    run = RunDirectory.create(tmp_path, "train-pinn", "mid", [], 0)

    def stop(cursor):
        if cursor.step == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cable_run.trainer(cfg), run, on_step=stop)
    other = cable_run.trainer(cfg)
    restored = engine.restore(other.skeleton, other.identity, other.columns, run)
    assert restored.header["step"] == 30
    resumed = train(other, run, restored=restored)
    for got, want in zip(_leaves(resumed.state), _leaves(full.state)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(resumed.history.array, full.history.array)


# -- bad configs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "key"), [
    ({"pde": {"model": "hodgkin"}}, "pde.model"),
    ({"pde": {"cable": {"name": "hh_cable"}}}, "pde.cable.name"),
    ({"pde": {"cable": {"D": -1.0}}}, "pde.cable.D"),
    ({"pde": {"windows": 0}}, "pde.windows"),
    ({"pde": {"scales": {"V": 100.0}}}, "pde.scales.V"),
    ({"pde": {"stimulus": {"kind": "none"}}}, "pde.stimulus.kind"),
    ({"output": {"nx": 50}}, "output.nx"),
    ({"conditions": {"kind": "soft"}}, "conditions"),
    ({"sweep": {"parameter": "pde.a", "values": [0.1, 0.2]}}, "sweep"),
    ({"derivatives": "reverse"}, "derivatives"),
    ({"reference": {"solver": {"name": "tsit5"}}}, "reference.solver.name"),
])
def test_bad_cable_configs_name_the_key(change, key):
    base = {
        "pde": {"model": "fitzhugh_nagumo_cable", "cable": {"length": 10.0, "nx": 101},
                "stimulus": {"kind": "pulse", "start": 0.5, "duration": 1.0, "amplitude": 2.0}, "T": 6.0},
        "output": {"nt": 31, "nx": 51},
    }
    for section, value in change.items():
        if section == "pde":
            pde = {**base["pde"], **value}
            if "cable" in value:
                pde["cable"] = {**base["pde"]["cable"], **value["cable"]}
            base["pde"] = pde
        else:
            base[section] = {**base.get(section, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError) as err:
        validate(TrainPinnConfig, base, "cable.yaml")
    assert [k for k, _ in err.value.problems] == [key], err.value.problems


def test_cable_reference_solver_defaults_to_imex_in_the_resolved_config():
    cfg = cable_config()
    assert cfg.reference.solver.name == "kencarp5" and cfg.reference.solver.dtmax == 0.05
    assert cfg.member_count == 1


# -- a run, measured ------------------------------------------------------------------------


@pytest.mark.slow  # a 3600-step run; the residual, hand-over and resume above are checked fast
def test_train_pinn_fhn_cable_run_is_measured_against_simulate(tmp_path):
    """A short run through the CLI: every file of the contract, its errors computed from its own
    predictions against the reference, and a trained network well below an untrained one."""
    import yaml

    cfg = cable_config(phases=[{"optimizer": "adam", "iterations": 1200, "lr": 3e-3, "schedule": "cosine"}],
                       output={"nt": 31, "nx": 51, "log_every": 100, "checkpoint_every": 9000})
    path = tmp_path / "fhn.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    result, run = invoke("train-pinn", "--config", path, "--output-root", tmp_path / "out")
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    pred, ref = np.load(run / "predictions.npz"), np.load(run / "reference.npz")
    assert pred["v"].shape == ref["v"].shape == (31, 51) and pred["u"].shape == (1, 31, 51)
    rel = np.linalg.norm(pred["v"] - ref["v"]) / np.linalg.norm(ref["v"])
    assert metrics["rel_l2_v"] == pytest.approx(rel, rel=1e-9)
    assert metrics["members"][0]["rel_l2"] == metrics["rel_l2_v"]
    assert metrics["rel_l2_v"] < 0.05, metrics["rel_l2_v"]  # untrained: ~1; 1500 steps: 0.010
    assert metrics["rel_l2_w"] < 0.05, metrics["rel_l2_w"]
    # the reference is simulate's solve of the same cable (its own velocity, independently timed)
    simulated = solve_reference(cfg)
    np.testing.assert_allclose(ref["v"], simulated.fields[0], atol=1e-12)
    c_ref = conduction_velocity(cfg, simulated.t, simulated.x, simulated.fields[0])
    assert 0.6 < c_ref < 1.0 and metrics["reference_conduction_velocity_m_per_s"] == pytest.approx(c_ref, rel=1e-12)
    assert metrics["conduction_velocity_m_per_s"] == pytest.approx(c_ref, rel=0.05)
    assert {p.name for p in (run / "figures").iterdir()} == {"heatmaps.pdf", "heatmaps_error.pdf", "spikes.pdf",
                                                             "loss.pdf"}
    rows = (run / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,member,window,loss,residual_v,residual_w"
