"""train-pinn sweeps over several PDE parameters (a × k): schema errors, the member table, one
reference per member, members independent of the sweep around them, members.csv end to end, and
the checkpoint identity that refuses another sweep."""

from __future__ import annotations

import json

import equinox as eqx
import jax
import numpy as np
import pytest
from conftest import CONFIGS, invoke

from neurocli.config.base import ConfigError, load_config
from neurocli.config.pinn import TrainPinnConfig
from neurocli.pinn.members import constants, members_of
from neurocli.pinn.reference import output_grid, solve_reference
from neurocli.pinn.setup import build_setup
from neurocli.pinn.train import Trainer, member_keys
from neurocli.run_dir import RunDirectory
from neurocli.training import checkpoint, engine
from pinn_helpers import keep_global_jax_state, tiny_config, train  # noqa: F401 (autouse fixture)

SMOKE = str(CONFIGS / "pinn_smoke.yaml")
A_K = {"parameters": [{"parameter": "pde.a", "values": [0.1, 0.3]}, {"parameter": "pde.k", "values": [5.0, 20.0]}]}
SCALAR = "pde.a=0.2"  # pinn_smoke's pde.a is a list, which a sweep section may not be given with


def _leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


@pytest.mark.parametrize(
    "overrides, key, words",
    [
        ([SCALAR, "sweep={parameter: pde.length, values: [1, 2]}"], "sweep.parameter", "pde.a, pde.k, pde.T"),
        ([SCALAR, "sweep={parameter: pde.T, values: [1, -2]}"], "sweep.values[1]", "> 0"),
        ([SCALAR, "sweep={parameter: pde.T, values: [1, 2]}", "output.profile_times=[0.0, 0.5]"],
         "output.profile_times", "own T"),
        ([SCALAR, "sweep={parameters: [{parameter: pde.a, values: [0.1]}, {parameter: model.k, values: [5]}]}"],
         "sweep.parameters[1].parameter", "pde.a, pde.k"),
        ([SCALAR, "sweep={parameters: [{parameter: pde.a, values: [0.1, 1.5]}, {parameter: pde.k, values: [5]}]}"],
         "sweep.parameters[0].values[1]", "(0, 1)"),
        ([SCALAR, "sweep={parameters: [{parameter: pde.a, values: [0.1]}, {parameter: pde.k, values: [5, 0]}]}"],
         "sweep.parameters[1].values[1]", "> 0"),
        ([SCALAR, "sweep={parameter: pde.k, linspace: {start: -1, stop: 5, num: 3}}"], "sweep.linspace", "> 0"),
        ([SCALAR, "sweep={parameters: [{parameter: pde.a, uniform: [0, 0.5]}], samples: 4}"],
         "sweep.parameters[0].uniform", "(0, 1)"),
        ([SCALAR, "sweep={parameter: pde.k, linspace: {start: 1, stop: 50, num: 1000000000}}"], "sweep", "at most"),
        (["sweep={parameter: pde.a, values: [0.1, 0.2]}"], "pde.a", "is a list"),  # both forms
        (["sweep={parameter: pde.k, values: [5, 10]}"], "pde.a", "is a list"),
        (["pde.a=0.3", "sweep={parameter: pde.a, values: [0.1, 0.2]}"], "pde.a", "is not used"),
        ([SCALAR, "sweep={parameters: [{parameter: pde.a, values: [0.1]}, {parameter: pde.a, values: [0.2]}]}"],
         "sweep.parameters[1].parameter", "swept twice"),
    ],
)
def test_bad_sweep_exits_2_naming_the_key(tmp_path, overrides, key, words):
    args = [a for o in overrides for a in ("--set", o)]
    result, _ = invoke("train-pinn", "--config", SMOKE, *args, "--output-root", tmp_path)
    assert result.exit_code == 2, result.output
    assert f": {key}:" in result.output and words in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "train-pinn").exists()  # refused before a run directory exists


def test_member_table_fills_in_what_is_not_swept():
    cfg = tiny_config(pde={"a": 0.2}, sweep=A_K)
    m = members_of(cfg)
    assert m.names == ("pde.a", "pde.k") and cfg.member_count == 4
    np.testing.assert_array_equal(m.values, [[0.1, 5], [0.1, 20], [0.3, 5], [0.3, 20]])  # a slowest
    np.testing.assert_array_equal(constants(cfg, m), [[0.1, 5, 1, 0], [0.1, 20, 1, 0], [0.3, 5, 1, 0], [0.3, 20, 1, 0]])
    only_k_cfg = tiny_config(pde={"a": 0.25}, sweep={"parameter": "pde.k", "values": [3.0, 7.0]})
    only_k = members_of(only_k_cfg)
    assert only_k.names == ("pde.k",)
    np.testing.assert_array_equal(constants(only_k_cfg, only_k), [[0.25, 3.0, 1.0, 0.0], [0.25, 7.0, 1.0, 0.0]])
    default_cfg = tiny_config()  # the list form: a one-parameter sweep over pde.a, k from pde.k
    default = members_of(default_cfg)
    assert default.names == ("pde.a",)
    np.testing.assert_array_equal(constants(default_cfg, default), [[0.1, 5.0, 1.0, 0.0], [0.3, 5.0, 1.0, 0.0]])
    # a resolved config (every default spelled out, pde.a and pde.k at their defaults) loads again
    again = TrainPinnConfig.model_validate(cfg.model_dump(mode="json"))
    np.testing.assert_array_equal(members_of(again).values, m.values)


def test_reference_of_a_member_is_its_own_solve():
    cfg = tiny_config(pde={"a": 0.2}, sweep=A_K)
    swept = solve_reference(cfg)
    np.testing.assert_array_equal(swept.a, [0.1, 0.1, 0.3, 0.3])
    np.testing.assert_array_equal(swept.k, [5, 20, 5, 20])
    for i in (1, 2):  # (0.1, 20) and (0.3, 5)
        alone = solve_reference(tiny_config(pde={"a": float(swept.a[i]), "k": float(swept.k[i])}))
        assert alone.u.shape == (1,) + swept.u.shape[1:]
        np.testing.assert_allclose(swept.u[i], alone.u[0], rtol=0, atol=1e-12)
    # k matters: the members with the same a differ by far more than the tolerance
    assert np.abs(swept.u[2] - swept.u[3]).max() > 1e-2


@pytest.mark.slow  # make test keeps a sweep's member against its lone run (test_pinn_train.py, a sweep of a)
def test_member_in_an_a_k_sweep_trains_as_it_would_alone():
    phases = [{"optimizer": "adam", "iterations": 20, "lr": 1e-2, "schedule": "cosine"}]
    cfg = tiny_config(pde={"a": 0.2}, sweep=A_K, phases=phases)
    keys = member_keys(cfg.runtime.seed, 4)
    trainer = Trainer(build_setup(cfg), members_of(cfg), keys)
    assert trainer.columns[:4] == ("step", "member", "a", "k")
    result = train(trainer)
    assert [phase for phase, _ in trainer._compiled] == [0]  # one compiled step for every (a, k)
    h = result.history
    for m in (0, 3):  # (0.1, 5) and (0.3, 20): member 0 has index 0 either way; member 3 gets its key
        a, k = trainer.constants[m][:2]
        alone_cfg = tiny_config(pde={"a": float(a), "k": float(k)}, phases=phases)
        alone = train(Trainer(build_setup(alone_cfg), [a], keys[m : m + 1]))
        swept = jax.tree_util.tree_map(lambda v: v[m : m + 1], result.state.params)
        for got, want in zip(_leaves(alone.state.params), _leaves(swept)):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
        np.testing.assert_allclose(alone.history["loss"], h["loss"][h["member"] == m], rtol=1e-4)
        assert (h["k"][h["member"] == m] == k).all()


T_SWEEP = {"parameter": "pde.T", "values": [0.5, 2.0]}


def test_reference_of_a_final_time_member_is_its_own_solve():
    """pde.T is one binding entry: each member runs on its own clock (models/time_scaled.py), and
    its reference equals a direct solve to its own T on its own times."""
    cfg = tiny_config(pde={"a": 0.2}, sweep=T_SWEEP)
    swept = solve_reference(cfg)
    assert swept.t.shape == (2, 16)
    for i, T in enumerate((0.5, 2.0)):
        alone = solve_reference(tiny_config(pde={"a": 0.2, "T": T}))
        np.testing.assert_allclose(swept.t[i], alone.t, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(swept.u[i], alone.u[0], rtol=0, atol=1e-6)
    assert swept.T.tolist() == [0.5, 2.0]


@pytest.mark.slow
def test_member_in_a_final_time_sweep_trains_as_it_would_alone():
    """A member on its clock s = t · pde.T / T_i sees the same points, network inputs, conditions
    and residual as a run with pde.T = T_i: its losses and parameters agree to float32 rounding."""
    phases = [{"optimizer": "adam", "iterations": 20, "lr": 1e-2, "schedule": "cosine"}]
    cfg = tiny_config(pde={"a": 0.2}, sweep=T_SWEEP, phases=phases, conditions={"kind": "hard", "base": "heat"})
    keys = member_keys(cfg.runtime.seed, 2)
    trainer = Trainer(build_setup(cfg), members_of(cfg), keys)
    assert trainer.columns[:4] == ("step", "member", "a", "T")
    result = train(trainer)
    h = result.history
    t, x = output_grid(cfg)
    swept_u = trainer.predict(result.state.params, t, x)
    for m, T in enumerate((0.5, 2.0)):
        alone_cfg = tiny_config(pde={"a": 0.2, "T": T}, phases=phases, conditions={"kind": "hard", "base": "heat"})
        alone = Trainer(build_setup(alone_cfg), [0.2], keys[m : m + 1])
        alone_result = train(alone)
        np.testing.assert_allclose(alone_result.history["loss"], h["loss"][h["member"] == m], rtol=2e-3)
        alone_u = alone.predict(alone_result.state.params, *output_grid(alone_cfg))
        np.testing.assert_allclose(swept_u[m], alone_u[0], rtol=0, atol=2e-3)
        assert (h["T"][h["member"] == m] == T).all()


def test_resume_with_another_sweep_is_refused(tmp_path):
    phases = [{"optimizer": "adam", "iterations": 4, "lr": 1e-2}]
    cfg = tiny_config(pde={"a": 0.2}, sweep=A_K, phases=phases, output={"checkpoint_every": 2, "log_every": 2})
    trainer = Trainer(build_setup(cfg), members_of(cfg), member_keys(0, 4))
    run = RunDirectory.create(tmp_path, "train-pinn", "sweep", [], 0)
    train(trainer, run)
    assert engine.restore(trainer.skeleton, trainer.identity, trainer.columns, run) is not None  # the same sweep
    other_sweep = {"parameters": [A_K["parameters"][0], {"parameter": "pde.k", "values": [5.0, 10.0]}]}
    other_cfg = tiny_config(pde={"a": 0.2}, sweep=other_sweep, phases=phases, output={"checkpoint_every": 2, "log_every": 2})
    other = Trainer(build_setup(other_cfg), members_of(other_cfg), member_keys(0, 4))
    with pytest.raises(checkpoint.CheckpointMismatch, match="members"):
        engine.restore(other.skeleton, other.identity, other.columns, run)


def test_a_k_sweep_end_to_end(tmp_path):
    sweep = "sweep={parameters: [{parameter: pde.a, values: [0.1, 0.3]}, {parameter: pde.k, values: [5, 20]}]}"
    result, run = invoke("train-pinn", "--config", SMOKE, "--set", SCALAR, "--set", sweep,
                         "--set", "phases=[{optimizer: adam, iterations: 20, lr: 1.0e-2}]",
                         "--set", "output.nx=16", "--set", "output.nt=16", "--set", "reference.nx=61",
                         "--output-root", tmp_path)
    assert result.exit_code == 0, result.output
    lines = (run / "members.csv").read_text().splitlines()
    assert lines[0] == "pde.a,pde.k,final_loss,rel_l2,max_abs_err"
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert rows.shape == (4, 5)
    np.testing.assert_array_equal(rows[:, :2], [[0.1, 5], [0.1, 20], [0.3, 5], [0.3, 20]])
    m = json.loads((run / "metrics.json").read_text())
    assert m["swept"] == ["pde.a", "pde.k"]
    members = m["members"]
    assert [(e["a"], e["k"]) for e in members] == [(0.1, 5), (0.1, 20), (0.3, 5), (0.3, 20)]
    for j, key in enumerate(("final_loss", "rel_l2", "max_abs_err"), start=2):
        np.testing.assert_array_equal(rows[:, j], [e[key] for e in members])  # read back exactly
    pred, ref = np.load(run / "predictions.npz"), np.load(run / "reference.npz")
    for f in (pred, ref):
        np.testing.assert_array_equal(f["a"], [0.1, 0.1, 0.3, 0.3])
        np.testing.assert_array_equal(f["k"], [5, 20, 5, 20])
        assert f["u"].shape == (4, 16, 16)
    err = np.sqrt(((pred["u"] - ref["u"]) ** 2).sum(axis=(1, 2)) / (ref["u"] ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(rows[:, 3], err, rtol=1e-12)
    np.testing.assert_allclose(rows[:, 4], np.abs(pred["u"] - ref["u"]).max(axis=(1, 2)), rtol=1e-12)
    assert (0 < rows[:, 3]).all() and (rows[:, 3] < 1).all()  # 20 steps: rough, but a solution
    assert (run / "loss.csv").read_text().splitlines()[0] == "step,member,a,k,loss,residual"
    for name in ("map_rel_l2", "map_max_abs_err", "heatmaps", "heatmaps_error", "profiles", "loss"):
        assert (run / "figures" / f"{name}.pdf").is_file(), name


def test_shipped_a_k_map_is_a_grid_over_a_and_k():
    cfg, _ = load_config(TrainPinnConfig, CONFIGS / "pinn_a_k_map.yaml")
    assert cfg.swept == ["pde.a", "pde.k"] and cfg.sweep.is_grid and cfg.member_count == 12
    assert sorted(set(members_of(cfg).column("pde.k"))) == [5.0, 10.0, 20.0]
    with pytest.raises(ConfigError):  # a list pde.a on top of it: two sweeps
        load_config(TrainPinnConfig, CONFIGS / "pinn_a_k_map.yaml", ["pde.a=[0.1,0.2]"])


def test_per_member_figures_draw_at_most_twelve_members_evenly():
    from neurocli.pinn.outputs import MAX_PANELS, shown_members

    assert shown_members(6).tolist() == list(range(6))
    big = shown_members(40)
    assert big.size == MAX_PANELS == 12 and big[0] == 0 and big[-1] == 39 and (np.diff(big) > 0).all()
