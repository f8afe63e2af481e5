"""The UDE training loop on tiny problems: rejection, loss decrease, checkpoints, resume."""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from neurocli import checkpoint
from neurocli.commands import train_ude
from neurocli.config.base import validate
from neurocli.config.optim import PhaseConfig
from neurocli.config.ude import TrainUDEConfig
from neurocli.run_dir import RunDirectory
from neurocli.train import ude_data
from neurocli.train.ude import BEST, LATEST, Trainer, TrainingFailed, TrainSettings, init_state, make_step
from neurocli.train.ude_objective import split_network
from neurocli.train.ude_setup import build_network, build_ude, make_loss, network_description, network_shape, settings

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "ude_smoke.yaml"


def smoke_config(**updates) -> TrainUDEConfig:
    raw = yaml.safe_load(SMOKE.read_text())
    for dotted, value in updates.items():
        node = raw
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return validate(TrainUDEConfig, raw, str(SMOKE))


def build(cfg: TrainUDEConfig):
    prep = train_ude.prepare(cfg, "test")
    rec = ude_data.load(cfg, prep.truth, prep.stimulus, prep.csv)
    desc = network_description(cfg, rec)
    net = build_network(desc, cfg.runtime.seed)
    params, static = split_network(net)
    loss = make_loss(cfg, build_ude(cfg, prep.truth, net), rec, prep.stimulus, static)
    header = {"network_shape": network_shape(cfg), "network": desc}
    return loss, params, header


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
            assert float(new.damping) == pytest.approx(0.5 * float(state.damping))
            np.testing.assert_array_equal(new.prev_params["w"], good_before["w"])
        state = new
    assert rejected >= 2
    assert float(jnp.max(state.prev_params["w"])) < 2.0  # training never settles on a failing point


def optax_opt(phase):
    from neurocli.optim import make_optimizer

    return make_optimizer(phase)


def test_loss_decreases(smoke):
    cfg, loss, params, header = smoke
    result = Trainer(loss, settings(cfg)).fit(params)
    losses = result.history[:, 2]
    assert result.iterations == cfg.train.iterations == len(losses)
    assert np.isfinite(losses).all() and result.failed_solves == 0
    assert result.best_loss < 0.7 * losses[0]
    assert result.final_loss <= losses[-1]  # L-BFGS's line search only accepts decreases


def test_resume_equals_uninterrupted(smoke, tmp_path):
    cfg, loss, params, header = smoke
    full = Trainer(loss, settings(cfg), new_run(tmp_path, "full"), header=header).fit(params)
    for stop_at in (6, 10):  # inside the Adam phase, and inside the L-BFGS phase
        run = new_run(tmp_path, f"stop{stop_at}")

        def interrupt(iteration):
            if iteration == stop_at:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            Trainer(loss, settings(cfg), run, header=header, on_iteration=interrupt).fit(params)
        assert checkpoint.load_header(run.file(LATEST))["iteration"] == stop_at
        assert len(run.file("loss.csv").read_text().splitlines()) == stop_at + 1
        resumed = Trainer(loss, settings(cfg), run, header=header).fit(params, resume=True)
        assert resumed.final_loss == pytest.approx(full.final_loss, rel=1e-8)
        assert resumed.best_loss == pytest.approx(full.best_loss, rel=1e-8)
        # every logged number but the wall clock is the same
        np.testing.assert_array_equal(np.delete(resumed.history, 5, axis=1), np.delete(full.history, 5, axis=1))


def test_checkpoint_round_trip_and_shape_check(smoke, tmp_path):
    cfg, loss, params, header = smoke
    run = new_run(tmp_path, "ckpt")
    result = Trainer(loss, TrainSettings([PhaseConfig(optimizer="adam", iterations=3, lr=1e-2)]), run,
                     header=header).fit(params)
    head = checkpoint.load_header(run.file(BEST))
    assert head["network_shape"] == network_shape(cfg)
    skeleton = build_network(head["network"], seed=123)  # other initial values, same shape
    _, restored = checkpoint.load(run.file(BEST), skeleton, expect={"network_shape": network_shape(cfg)})
    for a, b in zip(jax.tree.leaves(eqx.filter(restored, eqx.is_array)), jax.tree.leaves(result.best_params)):
        np.testing.assert_array_equal(a, b)
    other = smoke_config(**{"ude.network.width": 7})
    with pytest.raises(checkpoint.CheckpointMismatch, match="network_shape"):
        checkpoint.load(run.file(BEST), skeleton, expect={"network_shape": network_shape(other)})


def test_failing_solves_stop_the_run_with_a_clear_error(tmp_path):
    # a network whose output is ~1e7 µA/cm²: the solver gives up (max_steps), every step is rejected
    cfg = smoke_config(**{"ude.network.output_scale": 1.0e7, "ude.network.final_layer_scale": 1.0,
                          "solve.solver": {"name": "tsit5", "rtol": 1e-6, "atol": 1e-6, "max_steps": 200},
                          "train.max_consecutive_failures": 3})
    loss, params, header = build(cfg)
    run = new_run(tmp_path, "nan")
    with pytest.raises(TrainingFailed, match="3 steps in a row rejected"):
        Trainer(loss, settings(cfg), run, header=header).fit(params)
    rows = run.file("loss.csv").read_text().splitlines()
    assert len(rows) == 4 and all(r.endswith(",1") for r in rows[1:])
    assert all(",inf," in r for r in rows[1:])
