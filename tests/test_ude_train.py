"""The UDE training loop on tiny problems: rejection, loss decrease, checkpoints, resume."""

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.config.optim import PhaseConfig
from neurocli.ude.model import with_true_current
from neurocli.run_dir import RunDirectory
from neurocli.ude.task import MIN_DAMPING, init_state, make_step
from neurocli.ude.objective import split_network
from neurocli.ude.setup import build_network, network_shape
from neurocli.training import BEST, LATEST, TrainingFailed, checkpoint
from neurocli.training.engine import read_header
from ude_helpers import build, fit, smoke_config

@pytest.fixture(scope="module")
def smoke():
    cfg = smoke_config()
    return (cfg, *build(cfg))


def new_run(tmp_path: Path, name: str) -> RunDirectory:
    return RunDirectory.create(tmp_path, "train-ude", name, [], 0)


class Toy(eqx.Module):
    """A loss that "fails" (+inf) for w >= 2: a stand-in for a solve that breaks down."""

    def __call__(self, params, iteration):
        w = params["w"]
        value = jnp.sum((w - 3.0) ** 2)
        return jnp.where(jnp.all(w < 2.0), value, jnp.inf), jnp.zeros((), jnp.int32)


def test_rejected_steps_fall_back_to_the_last_good_parameters():
    phase = PhaseConfig(optimizer="adam", iterations=30, lr=1.0)
    step = make_step(phase, max_traces=1)  # raises if a step is traced twice
    state = init_state({"w": jnp.zeros(2)}, optax_opt(phase))
    rejected = 0
    for i in range(30):
        good_before = state.params if bool(jnp.all(state.params["w"] < 2.0)) else state.prev_params
        new, stats = step(state, Toy(), jnp.asarray(i, jnp.int64))
        assert not np.isnan(float(stats.loss))
        if not bool(stats.accepted):
            rejected += 1
            assert float(stats.loss) == np.inf
            # the step went back to the last accepted parameters and halved the update
            assert float(new.damping) == pytest.approx(max(MIN_DAMPING, 0.5 * float(state.damping)))
            np.testing.assert_array_equal(new.prev_params["w"], good_before["w"])
        state = new
    assert rejected >= 2
    assert float(jnp.max(state.prev_params["w"])) < 2.0  # training never settles on a failing point


def optax_opt(phase):
    from neurocli.training.optim import make_optimizer

    return make_optimizer(phase)


@pytest.fixture(scope="module")
def smoke_fit(smoke):
    """The smoke config trained, its later phases compiled in the background (the default)."""
    cfg, loss, params, _ = smoke
    return fit(loss, params, cfg)


def test_loss_decreases(smoke, smoke_fit):
    cfg, loss, params, header = smoke
    result = smoke_fit
    losses = result.history["loss"]
    assert result.iterations == cfg.train.iterations == len(losses)
    assert np.isfinite(losses).all() and result.failed_solves == 0
    assert result.best_loss < 0.7 * losses[0]
    assert result.final_loss <= losses[-1]  # L-BFGS's line search and LM only accept decreases
    lm = result.history["phase"] == 2
    assert np.all(np.diff(losses[lm]) <= 0.0)


def test_later_phases_compiled_in_the_background_train_as_compiled_on_entry(smoke, smoke_fit):
    """Issue 23: while Adam trains, the L-BFGS and Levenberg–Marquardt steps are compiled in
    background threads (neurocli.training.engine); the run is, to the bit, the run that compiles
    each phase's step as the phase starts."""
    cfg, loss, params, _ = smoke
    plain = fit(loss, params, cfg, prefetch=False)
    assert plain.compiled_by == {0: "MainThread", 1: "MainThread", 2: "MainThread"}
    assert smoke_fit.compiled_by == {0: "MainThread", 1: "neurocli-prefetch-1", 2: "neurocli-prefetch-2"}
    keep = [i for i, c in enumerate(plain.history.columns) if c != "wall_s"]
    assert len(plain.history) == len(smoke_fit.history) == cfg.train.iterations
    np.testing.assert_array_equal(smoke_fit.history.array[:, keep], plain.history.array[:, keep])
    for a, b in zip(jax.tree.leaves(smoke_fit.best_params), jax.tree.leaves(plain.best_params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert smoke_fit.final_loss == plain.final_loss and smoke_fit.best_loss == plain.best_loss


@pytest.mark.slow
def test_resume_equals_uninterrupted(smoke, tmp_path):
    cfg, loss, params, header = smoke
    full = fit(loss, params, cfg, new_run(tmp_path, "full"), identity=header)
    for stop_at in (6, 10, 14):  # inside the Adam, the L-BFGS and the Levenberg–Marquardt phase
        run = new_run(tmp_path, f"stop{stop_at}")

        def interrupt(cursor):
            if cursor.step == stop_at:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            fit(loss, params, cfg, run, identity=header, on_step=interrupt)
        assert read_header(run)["step"] == stop_at
        assert len(run.file("loss.csv").read_text().splitlines()) == stop_at + 1
        resumed = fit(loss, params, cfg, run, identity=header, resume=True)
        assert resumed.final_loss == pytest.approx(full.final_loss, rel=1e-8)
        assert resumed.best_loss == pytest.approx(full.best_loss, rel=1e-8)
        # every logged number but the wall clock is the same
        for column in full.history.columns:
            if column != "wall_s":
                np.testing.assert_array_equal(resumed.history[column], full.history[column])


def test_checkpoint_round_trip_and_shape_check(smoke, tmp_path):
    cfg, loss, params, header = smoke
    run = new_run(tmp_path, "ckpt")
    result = fit(loss, params, [PhaseConfig(optimizer="adam", iterations=3, lr=1e-2)], run, identity=header)
    data = run.read_bytes(BEST)
    head = checkpoint.decode_header(data, BEST)
    assert head["network_shape"] == network_shape(cfg)
    skeleton = build_network(head["network"], seed=123)  # other initial values, same shape
    _, restored = checkpoint.decode(data, BEST, skeleton, expect={"network_shape": network_shape(cfg)})
    for a, b in zip(jax.tree.leaves(eqx.filter(restored, eqx.is_array)), jax.tree.leaves(result.best_params)):
        np.testing.assert_array_equal(a, b)
    other = smoke_config(**{"ude.network.width": 7})
    with pytest.raises(checkpoint.CheckpointMismatch, match="network_shape"):
        checkpoint.decode(data, BEST, skeleton, expect={"network_shape": network_shape(other)})
    with pytest.raises(checkpoint.CheckpointCorrupt, match="truncated"):
        checkpoint.decode(data[:-7], BEST, skeleton)


def test_failing_solves_stop_the_run_with_a_clear_error(tmp_path):
    # a network whose output is ~1e7 µA/cm²: the solver gives up (max_steps), every step is rejected
    # Adam alone, as test_ude_cli's failing run: a run that fails in its first phase left its later
    # phases' steps (this broken network's own programs) compiling in the background, 23 s of CPU
    # in `make test` that no test used
    cfg = smoke_config(**{"ude.network.output_scale": 1.0e7, "ude.network.final_layer_scale": 1.0,
                          "solve.solver": {"name": "tsit5", "rtol": 1e-6, "atol": 1e-6, "max_steps": 200},
                          "train.max_consecutive_failures": 3,
                          "train.phases": [{"optimizer": "adam", "iterations": 8, "lr": 0.01, "schedule": "cosine",
                                            "final_lr": 1.0e-3}]})
    loss, params, header = build(cfg)
    run = new_run(tmp_path, "nan")
    with pytest.raises(TrainingFailed, match="3 steps in a row rejected"):
        fit(loss, params, cfg, run, identity=header)
    rows = run.file("loss.csv").read_text().splitlines()
    assert len(rows) == 4 and all(r.endswith(",1") for r in rows[1:])
    assert all(",inf," in r for r in rows[1:])


def test_rejections_halve_the_update_down_to_a_floor():
    class OnlyAtZero(eqx.Module):  # every point but the start "fails": rejections in a row
        def __call__(self, params, iteration):
            w = params["w"]
            return jnp.where(jnp.all(w == 0.0), jnp.sum((w - 1.0) ** 2), jnp.inf), jnp.zeros((), jnp.int32)

    phase = PhaseConfig(optimizer="adam", iterations=20, lr=0.1)
    step = make_step(phase, max_traces=None)
    state = init_state({"w": jnp.zeros(2)}, optax_opt(phase))
    dampings = []
    for i in range(15):
        state, stats = step(state, OnlyAtZero(), jnp.asarray(i, jnp.int64))
        dampings.append(float(state.damping))
    assert dampings[:3] == [1.0, 0.5, 0.25]
    assert dampings[-1] == MIN_DAMPING and min(dampings) == MIN_DAMPING


def _grad(loss, params):
    return eqx.filter_jit(jax.value_and_grad(lambda p: loss(p, jnp.asarray(0))[0]))(params)


@pytest.mark.slow
def test_gradient_adjoints_agree_with_finite_differences():
    """The three gradient methods against each other and against central differences of the loss
    (tight tolerances, so the solver's discretisation error is far below the difference step's)."""
    tight = {"name": "tsit5", "rtol": 1e-10, "atol": 1e-10, "max_steps": 4096}
    grads = {}
    for adjoint in ("recursive_checkpoint", "direct", "backsolve"):
        cfg = smoke_config(**{"solve.solver": tight, "solve.adjoint": adjoint})
        loss, params, _ = build(cfg)
        value, grads[adjoint] = _grad(loss, params)
    flat = {k: jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)]) for k, g in grads.items()}
    ref = flat["recursive_checkpoint"]
    np.testing.assert_allclose(flat["direct"], ref, rtol=1e-9, atol=1e-9 * float(jnp.max(jnp.abs(ref))))
    np.testing.assert_allclose(flat["backsolve"], ref, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(ref))))
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(7), len(leaves))
    direction = jax.tree.unflatten(treedef, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    f = eqx.filter_jit(lambda p: loss(p, jnp.asarray(0))[0])
    h = 1e-5
    plus = f(jax.tree.map(lambda p, d: p + h * d, params, direction))
    minus = f(jax.tree.map(lambda p, d: p - h * d, params, direction))
    fd = float(plus - minus) / (2 * h)
    grad = grads["recursive_checkpoint"]
    ad = sum(float(jnp.vdot(g, d)) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction)))
    assert abs(ad) > 1.0  # a non-trivial directional derivative
    assert fd == pytest.approx(ad, rel=1e-5)


@pytest.mark.slow
def test_curriculum_fits_a_growing_window():
    phases = [{"optimizer": "adam", "iterations": 12, "lr": 0.01}, {"optimizer": "lbfgs", "iterations": 30}]
    cfg = smoke_config(**{"loss.curriculum": {"start_ms": 5.0, "iterations": 8}, "train.phases": phases})
    loss, params, _ = build(cfg)
    assert loss.full_window_from == 8
    ys, _ = loss.predict(params)
    sq = np.asarray((ys - loss.data) ** 2).sum(axis=1)
    t = np.asarray(loss.ts)
    for iteration, end in ((0, 5.0), (4, 5.0 + 0.5 * 15.0), (8, 20.0), (100, 20.0)):
        value = float(loss(params, jnp.asarray(iteration))[0])
        assert value == pytest.approx(sq[t <= end + 1e-9].sum(), rel=1e-12)
    full, _, _ = build(smoke_config())
    assert float(loss(params, jnp.asarray(8))[0]) == pytest.approx(float(full(params, jnp.asarray(0))[0]), rel=1e-12)
    # training on it: the logged loss is the window's, the whole record's loss comes down, and
    # "best" is judged on the whole record only (a short window's small loss is not better)
    result = fit(loss, params, cfg)
    assert result.best_iteration >= 8
    assert result.history["loss"][0] == pytest.approx(float(loss(params, jnp.asarray(0))[0]), rel=1e-12)
    assert result.failed_solves == 0
    start = float(full(params, jnp.asarray(0))[0])
    assert result.best_loss < 0.1 * start
    assert float(full(result.best_params, jnp.asarray(0))[0]) == pytest.approx(result.best_loss, rel=1e-12)


@pytest.mark.slow
def test_full_hh_model_trains():
    """The full model (V, m, h, n) with its sodium current a network of (V, m, h)."""
    cfg = smoke_config(**{"model": {"name": "hh"}, "initial_state": None,
                          "data.time": {"t0": 0.0, "t1": 12.0, "save_every": 0.2}})
    assert cfg.network_inputs == ("V", "m", "h")
    loss, params, _ = build(cfg)
    assert loss.data.shape == (61, 4)
    result = fit(loss, params, cfg)
    losses = result.history["loss"]
    assert np.isfinite(losses).all() and result.failed_solves == 0
    assert result.best_loss < 0.5 * losses[0]


@pytest.fixture(scope="module")
def shooting():
    cfg = smoke_config(**{"loss.shooting": {"segment_ms": 1.0, "iterations": 8}})
    loss, params, _ = build(cfg)
    return loss, params


def test_multiple_shooting_segments(shooting):
    loss, _ = shooting
    n = loss.ts.shape[0]
    assert loss.shooting == (5, 8) and loss.full_window_from == 8  # 1 ms of 0.2 ms samples
    # every sample but the first is counted exactly once, whatever the segment length
    for length in (1, 2, 5, 7, n - 2, n - 1):
        index, counted = dataclasses.replace(loss, shooting=(length, 8)).segments()
        assert index.shape[1] == length + 1 and index.max() == n - 1
        assert sorted(index[counted].tolist()) == list(range(1, n))


# five solves compiled (~25 s cold): slow. make test keeps the shooting objective trained (the
# interrupted recording sweep of test_ude_recording_sweep.py: 2 LM iterations of shooting, then the
# whole record, resumed to the uninterrupted numbers) and this module's segment bookkeeping
@pytest.mark.slow
def test_multiple_shooting_objective(shooting):
    loss, params = shooting
    n = loss.ts.shape[0]
    # one segment over the whole record is the whole-record objective
    whole = loss.for_phase(8)
    assert whole.shooting is None and loss.for_phase(0) is loss
    one = dataclasses.replace(loss, shooting=(n - 1, 8))
    assert float(one(params, jnp.asarray(0))[0]) == pytest.approx(float(whole(params, jnp.asarray(0))[0]), rel=1e-9)
    # the true current scores ~0 in both objectives; a wrong one scores far more when shot
    ude = with_true_current(loss.ude)
    true_params, true_static = split_network(ude.network)
    exact = dataclasses.replace(loss, ude=ude, net_static=true_static)
    assert float(exact(true_params, jnp.asarray(0))[0]) < 1e-6
    assert float(exact.for_phase(8)(true_params, jnp.asarray(0))[0]) < 1e-6
    assert float(loss(params, jnp.asarray(0))[0]) > 1.0


@pytest.mark.slow
def test_multiple_shooting_then_the_whole_record_trains():
    phases = [{"optimizer": "adam", "iterations": 10, "lr": 0.01}, {"optimizer": "lbfgs", "iterations": 30}]
    cfg = smoke_config(**{"loss.shooting": {"segment_ms": 1.0, "iterations": 10}, "train.phases": phases})
    loss, params, _ = build(cfg)
    whole = loss.for_phase(10)
    start = float(whole(params, jnp.asarray(0))[0])
    result = fit(loss, params, cfg)
    assert result.failed_solves == 0 and result.best_iteration >= 10
    assert result.history["loss"][0] == pytest.approx(float(loss(params, jnp.asarray(0))[0]), rel=1e-12)
    assert float(whole(result.best_params, jnp.asarray(0))[0]) == pytest.approx(result.best_loss, rel=1e-12)
    assert result.best_loss < 0.1 * start
