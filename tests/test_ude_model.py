"""The UDE model, its config and the evaluation's reference current (no training here)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.config.base import ConfigError, load_config, validate
from neurocli.config.ude import STATE_NAMES, TrainUDEConfig
from neurocli.models import HodgkinHuxley, ReducedHodgkinHuxley
from neurocli.models.stimulus import PulseStimulus
from neurocli.ude.model import GUARD_V, ScaledMLP, TrueCurrent, make_ude, with_true_current
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude.data import Recording

BASE = {
    "model": {"name": "hh_reduced"},
    "stimulus": {"kind": "pulse", "start": 10.0, "duration": 1.0, "amplitude": 20.0},
    "train": {"phases": [{"optimizer": "adam", "iterations": 3}]},
}


def _net(k, key=0):
    return ScaledMLP([-50.0] * k, [25.0] * k, 100.0, 8, 1, "tanh", jax.random.key(key))


def test_state_names_match_models():
    assert STATE_NAMES["hh"] == HodgkinHuxley.state_names
    assert STATE_NAMES["hh_reduced"] == ReducedHodgkinHuxley.state_names


@pytest.mark.parametrize(
    "known, replaced, inputs",
    [
        (ReducedHodgkinHuxley(), "sodium", ("V",)),
        (ReducedHodgkinHuxley(), "potassium", ("V", "n")),
        (HodgkinHuxley(), "sodium", ("V", "m", "h")),
        (HodgkinHuxley(), "potassium", ("V", "n")),
    ],
)
def test_true_current_network_reproduces_known_model(known, replaced, inputs):
    ude = with_true_current(make_ude(known, _net(len(inputs)), replaced, inputs))
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = known.initial_state() + jnp.asarray(rng.normal(size=len(known.state_names)) * np.r_[10.0, [0.05] * (len(known.state_names) - 1)])
        np.testing.assert_allclose(ude.vector_field(0.0, y, 3.0), known.vector_field(0.0, y, 3.0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ude.initial_state(), known.initial_state(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("known", [ReducedHodgkinHuxley(), HodgkinHuxley()])
def test_guard_keeps_the_jacobian_finite_far_outside_physiology(known):
    """A rejected trial stage can reach V ~ 1e16 mV, gates ~ 1e42 (seen in the seed recipe's run);
    reverse mode multiplies the Jacobian there by a zero cotangent, so it must be finite."""
    k = len(known.state_names)
    ude = make_ude(known, _net(1), "sodium", ("V",))
    jac = jax.jacfwd(ude.vector_field, argnums=1)
    for y in ([6.7e16] + [-1.8e42] * (k - 1), [-1e300] + [1e300] * (k - 1), [GUARD_V + 1.0] + [3.0] * (k - 1)):
        y = jnp.asarray(y)
        assert np.isfinite(np.asarray(ude.vector_field(0.0, y, 20.0))).all()
        assert np.isfinite(np.asarray(jac(0.0, y, 20.0))).all()
    # inside the guard box the field and its Jacobian are the unguarded ones
    def unguarded(t, y, i_ext):
        return known.vector_field(t, y, i_ext).at[0].set((i_ext - ude.ionic_current(y)) / known.C_m)

    y = known.initial_state() + jnp.asarray([30.0] + [0.1] * (k - 1))
    np.testing.assert_array_equal(ude.vector_field(0.0, y, 20.0), unguarded(0.0, y, 20.0))
    np.testing.assert_array_equal(jac(0.0, y, 20.0), jax.jacfwd(unguarded, argnums=1)(0.0, y, 20.0))


def test_true_sodium_current_matches_seed_formula():
    """TrueCurrent against the seed's equations written out independently in numpy."""
    ude = make_ude(ReducedHodgkinHuxley(), _net(1), "sodium", ("V",))
    V = np.linspace(-80.0, 20.0, 41)
    V[7] = -55.0  # a removable singularity of α_n; -40 (α_m's) is in the grid already
    with np.errstate(invalid="ignore", divide="ignore"):
        am = 0.1 * (V + 40) / (1 - np.exp(-(V + 40) / 10))
    am = np.where(np.isclose(V, -40.0), 1.0, am)
    bm = 4.0 * np.exp(-(V + 65) / 18)
    ah = 0.07 * np.exp(-(V + 65) / 20)
    bh = 1 / (1 + np.exp(-(V + 35) / 10))
    expected = 120.0 * (am / (am + bm)) ** 3 * (ah / (ah + bh)) * (V - 50.0)
    got = np.asarray(jax.vmap(TrueCurrent(ude))(jnp.asarray(V)[:, None]))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_network_scaling():
    net = ScaledMLP([-50.0], [25.0], 100.0, 4, 1, "tanh", jax.random.key(1))
    raw = net.mlp(jnp.asarray([(-30.0 + 50.0) / 25.0]))
    assert float(net(jnp.asarray([-30.0]))) == pytest.approx(100.0 * float(raw), rel=1e-14)
    small = ScaledMLP([-50.0], [25.0], 100.0, 4, 1, "tanh", jax.random.key(1), final_layer_scale=0.1)
    np.testing.assert_allclose(small.mlp.layers[-1].weight, 0.1 * net.mlp.layers[-1].weight)


@pytest.mark.slow
def test_current_evaluation_is_exact_for_the_true_current():
    known = ReducedHodgkinHuxley()
    ude = with_true_current(make_ude(known, _net(1), "sodium", ("V",)))
    t = np.linspace(0.0, 30.0, 151)
    stim = PulseStimulus(jnp.asarray(10.0), jnp.asarray(1.0), jnp.asarray(20.0))
    from neurocli.config.common import SolverConfig

    solver = SolverConfig(rtol=1e-10, atol=1e-10)
    y0 = np.asarray(known.initial_state())
    clean, _ = ude_evaluate.solve_on(known, stim, y0, t, solver)
    rec = Recording(("V", "n"), t, clean, clean)
    cmp = ude_evaluate.compare_current(ude, rec)
    assert cmp.along == "voltage grid"
    assert cmp.voltage.min() == pytest.approx(clean[:, 0].min()) and cmp.voltage.max() == pytest.approx(clean[:, 0].max())
    assert cmp.rmse == 0.0 and cmp.max_err == 0.0
    assert cmp.true.min() < -50.0  # the comparison covers the depolarisation, not just rest
    val = ude_evaluate.validate(ude, known, PulseStimulus(jnp.asarray(5.0), jnp.asarray(2.0), jnp.asarray(10.0)), rec, solver)
    assert val.failed is None and val.sse < 1e-16
    # multi-input networks are compared at the recorded states
    ude_k = with_true_current(make_ude(known, _net(2), "potassium", ("V", "n")))
    cmp_k = ude_evaluate.compare_current(ude_k, rec)
    assert cmp_k.along == "recorded states" and cmp_k.inputs.shape == (151, 2) and cmp_k.rmse == 0.0


def test_config_names_bad_keys():
    with pytest.raises(ConfigError) as err:
        validate(TrainUDEConfig, {**BASE, "data": {"kind": "simulated", "noise": {"W": 1.0}}}, "x.yaml")
    assert "data.noise.W" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate(TrainUDEConfig, {**BASE, "ude": {"network": {"inputs": ["V", "m"]}}}, "x.yaml")
    assert "ude.network.inputs" in str(err.value) and "V, n" in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate(TrainUDEConfig, {**BASE, "train": {"phases": [{"optimizer": "lbfgs", "iterations": 5}]},
                                  "loss": {"curriculum": {"start_ms": 10.0, "iterations": 3}}}, "x.yaml")
    assert "loss.curriculum.iterations" in str(err.value)
    two = {"phases": [{"optimizer": "adam", "iterations": 5}, {"optimizer": "lbfgs", "iterations": 5}]}
    shoot = {"segment_ms": 1.0, "iterations": 5}
    assert validate(TrainUDEConfig, {**BASE, "train": two, "loss": {"shooting": shoot}}, "x.yaml").loss.shooting
    for loss, key in (({"shooting": {**shoot, "iterations": 4}}, "loss.shooting.iterations"),
                      ({"shooting": {**shoot, "iterations": 10}}, "loss.shooting.iterations"),
                      ({"shooting": shoot, "curriculum": {"start_ms": 1.0, "iterations": 5}}, "loss.shooting")):
        with pytest.raises(ConfigError) as err:
            validate(TrainUDEConfig, {**BASE, "train": two, "loss": loss}, "x.yaml")
        message = str(err.value)
        assert f"x.yaml: {key}:" in message and ("phase boundary" in message or "not both" in message)
    cfg = validate(TrainUDEConfig, {**BASE, "model": {"name": "hh"}}, "x.yaml")
    assert cfg.network_inputs == ("V", "m", "h")


def test_csv_recording(tmp_path):
    from neurocli.ude.data import read_csv

    path = tmp_path / "rec.csv"
    path.write_text("n,t,V,extra\n0.31,0.0,-65.0,1\n0.32,0.1,-64.0,2\n0.33,0.2,-63.0,3\n")
    rec = read_csv(str(path), ("V", "n"), "cfg.yaml")
    np.testing.assert_array_equal(rec.t, [0.0, 0.1, 0.2])
    np.testing.assert_array_equal(rec.y, [[-65.0, 0.31], [-64.0, 0.32], [-63.0, 0.33]])
    assert rec.clean is None and list(rec.y0) == [-65.0, 0.31]
    bad = tmp_path / "bad.csv"
    bad.write_text("t,V\n0.0,-65.0\n0.1,-64.0\n0.2,-63.0\n")
    with pytest.raises(ConfigError, match="missing columns n"):
        read_csv(str(bad), ("V", "n"), "cfg.yaml")
    cfg = validate(TrainUDEConfig, {**BASE, "data": {"kind": "csv", "path": str(path)}}, "x.yaml")
    from neurocli.commands import train_ude

    assert train_ude.prepare(cfg, "x.yaml").csv.t.size == 3


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "configs").glob("ude_*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg, _ = load_config(TrainUDEConfig, path)
    assert cfg.runtime.precision == "float64" and cfg.train.iterations > 0
