"""train-ude sweeps (seeds, data noise): config errors, members trained at once matching each
member trained alone, per-member outputs, resume."""

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import CONFIGS, invoke as _invoke
from neurocli.commands import train_ude
from neurocli.config.optim import PhaseConfig
from neurocli.run_dir import RunDirectory
from neurocli.training import CheckpointMismatch, Engine, TrainingFailed, engine
from neurocli.training.engine import Record, Settings
from neurocli.ude import setup as ude_setup
from neurocli.ude.sweep import member, member_config
from neurocli.training.optim import hyper, make_optimizer
from neurocli.ude.task import init_state, raw_step
from ude_helpers import smoke_config

SMOKE = CONFIGS / "ude_smoke.yaml"
ADAM = [{"optimizer": "adam", "iterations": 6, "lr": 0.01, "schedule": "constant"}]
ADAM_SET = "train.phases=[{optimizer: adam, iterations: 6, lr: 0.01, schedule: constant}]"
METRICS = ["best_loss", "final_loss", "current_rmse", "current_max_err", "validation_sse"]


def invoke(*args):
    return _invoke("train-ude", *args)


def config(sweep, **more):
    return smoke_config(**{"train.phases": ADAM, "sweep": sweep, **more})


def train(cfg, run=None, on_step=None):
    """(task, final cursor) of cfg trained with the engine."""
    prep = train_ude.prepare(cfg, "test")
    _, task = ude_setup.setup(cfg, prep, None)
    return task, Engine(task, run, on_step=on_step).run(engine.start(task))


def assert_same_member(sweep_cur, m, alone_cur, rtol=1e-10):
    np.testing.assert_allclose(sweep_cur.best_loss[m], alone_cur.best_loss[0], rtol=rtol)
    np.testing.assert_allclose(sweep_cur.final_loss[m], alone_cur.final_loss[0], rtol=rtol)
    for a, b in zip(jax.tree.leaves(member(sweep_cur.best, m)), jax.tree.leaves(alone_cur.best)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("setting, key", [
    ("sweep={parameter: model.g_Na, values: [100, 120]}", "sweep.parameter"),
    ("sweep={parameters: [{parameter: runtime.seed, values: [0, 1]}, {parameter: data.noise.X, values: [0, 1]}],"
     " combine: zip}", "sweep.parameters[1].parameter"),
    ("sweep={parameter: runtime.seed, values: [0, 1.5]}", "sweep.values[1]"),
    ("sweep={parameter: runtime.seed, values: [4294967296]}", "sweep.values[0]"),
    ("sweep={parameter: data.noise.V, values: [-1]}", "sweep.values[0]"),
    ("sweep={parameter: data.seed, values: [0, 1]}", "sweep"),  # no noise: the seed draws nothing
    ("sweep={parameter: runtime.seed, linspace: {start: 0, stop: 999999, num: 1000000}}", "sweep"),
])
def test_bad_sweeps_exit_2_before_anything_runs(tmp_path, setting, key):
    result, _ = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", ADAM_SET, "--set", setting)
    assert result.exit_code == 2, result.output
    assert f"{key}:" in result.output and "ude_smoke.yaml" in result.output
    assert not (tmp_path / "train-ude").exists()  # refused before a run directory (or a compile)


def test_a_sweep_names_what_can_be_swept_and_refuses_csv_data(tmp_path):
    result, _ = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", ADAM_SET,
                       "--set", "sweep={parameter: stimulus.amplitude, values: [1, 2]}")
    assert result.exit_code == 2 and "runtime.seed, data.seed, data.noise.V, data.noise.n" in result.output
    data = tmp_path / "data.csv"
    data.write_text("t,V,n\n0,-65,0.3\n1,-64,0.3\n2,-63,0.3\n")
    result, _ = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", ADAM_SET,
                       "--set", f"data={{kind: csv, path: {data}}}", "--set", "initial_state=null",
                       "--set", "sweep={parameter: data.noise.V, values: [0, 1]}")
    assert result.exit_code == 2 and "sweep.parameter" in result.output and "simulated data" in result.output
    assert not (tmp_path / "train-ude").exists()


@pytest.fixture(scope="module")
def seed_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    result, run_dir = invoke("--config", SMOKE, "--output-root", out, "--set", ADAM_SET,
                             "--set", "sweep={parameter: runtime.seed, linspace: {start: 0, stop: 2, num: 3}}")
    assert result.exit_code == 0, result.output
    return run_dir


def test_seed_sweep_writes_members_csv_and_per_member_outputs(seed_sweep):
    run_dir = seed_sweep
    with open(run_dir / "members.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["runtime.seed", *METRICS]
    assert [r["runtime.seed"] for r in rows] == ["0", "1", "2"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [m["runtime.seed"] for m in metrics["members"]] == [0, 1, 2]
    for key in METRICS:
        per_member = [float(r[key]) for r in rows]
        assert [m[key] for m in metrics["members"]] == per_member
        assert metrics[key] == pytest.approx(np.median(per_member))
        assert metrics[f"{key}_max"] == max(per_member) and metrics[f"{key}_min"] == min(per_member)
    assert len({float(r["current_rmse"]) for r in rows}) == 3  # different initialisations, different fits
    assert metrics["iterations"] == 6 and metrics["member_count"] == 3
    with open(run_dir / "loss.csv", newline="") as f:
        loss = list(csv.DictReader(f))
    assert list(loss[0])[:2] == ["step", "member"] and len(loss) == 6 * 3
    with open(run_dir / "current.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[-3:] == ["learned_0", "learned_1", "learned_2"]
    for name in ("loss", "current"):
        assert (run_dir / "figures" / f"{name}.pdf").is_file()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


def test_every_members_evaluation_is_its_run_alones(seed_sweep, tmp_path):
    """The sweep evaluates all members in one vmapped solve per protocol; member 1's metrics are
    those of the config run alone with seed 1 (a separate single run, its own solves)."""
    result, alone = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", ADAM_SET, "--set", "runtime.seed=1")
    assert result.exit_code == 0, result.output
    single = json.loads((alone / "metrics.json").read_text())
    member1 = json.loads((seed_sweep / "metrics.json").read_text())["members"][1]
    for key in METRICS:
        assert member1[key] == pytest.approx(single[key], rel=1e-9, abs=1e-12), key


def test_a_sweeps_best_networks_are_no_warm_start(seed_sweep, tmp_path):
    result, _ = invoke("--config", SMOKE, "--output-root", tmp_path,
                       "--set", f"ude.network.init_from={seed_sweep / 'checkpoints' / 'best.eqx'}")
    assert result.exit_code == 2 and "3-member sweep" in result.output


@pytest.mark.slow
def test_a_member_trained_in_a_sweep_matches_it_trained_alone():
    cfg = config({"parameter": "runtime.seed", "values": [3, 1]})
    task, cur = train(cfg)
    assert task.members == 2
    for m, seed in enumerate((3, 1)):
        _, alone = train(smoke_config(**{"train.phases": ADAM, "runtime.seed": seed}))
        assert_same_member(cur, m, alone)


@pytest.mark.slow
def test_lbfgs_and_levenberg_marquardt_phases_train_a_sweep_as_each_member_alone():
    """The smoke config's adam, lbfgs and LM phases; the network's input scaling is configured, so
    the noisy member's network is the one it would have alone."""
    fixed = {"ude.network.input_centre": {"V": -40.0}, "ude.network.input_scale": {"V": 40.0}}
    cfg = smoke_config(**fixed, sweep={"parameters": [{"parameter": "runtime.seed", "values": [0, 1]},
                                                      {"parameter": "data.noise.V", "values": [0.0, 1.0]}],
                                       "combine": "zip"})
    assert [p.optimizer for p in cfg.train.phases] == ["adam", "lbfgs", "levenberg_marquardt"]
    task, cur = train(cfg)
    for m in range(2):
        _, alone = train(member_config(task.sweep, cfg, m))
        assert_same_member(cur, m, alone, rtol=1e-9)
        mine = cur.history.where(cur.history["member"] == m)
        np.testing.assert_allclose(mine["loss"], alone.history["loss"], rtol=1e-9)


def test_a_noise_sweep_gives_members_their_own_data():
    cfg = config({"parameters": [{"parameter": "data.noise.V", "values": [0.0, 2.0]},
                                 {"parameter": "data.seed", "values": [5, 6]}], "combine": "zip"})
    task, cur = train(cfg)
    clean, noisy = (np.asarray(d) for d in task.data)
    assert task.data.shape[0] == 2 and not np.array_equal(clean, noisy)
    np.testing.assert_array_equal(clean, task.recordings[0].clean)
    assert np.std(noisy[:, 0] - clean[:, 0]) == pytest.approx(2.0, rel=0.3)
    np.testing.assert_array_equal(noisy[:, 1], clean[:, 1])  # only V is noisy
    _, alone = train(smoke_config(**{"train.phases": ADAM}))  # the noise-free single run
    assert_same_member(cur, 0, alone)
    assert not np.isclose(cur.best_loss[1], alone.best_loss[0])


def test_one_members_rejection_leaves_the_others_alone():
    """The one-member step, vmapped: member 0's step goes non-finite and falls back; member 1
    steps exactly as it would alone."""

    class Toy:
        def __call__(self, params, iteration):
            w = params["w"]
            return jnp.where(jnp.all(w < 2.0), jnp.sum((w - 3.0) ** 2), jnp.inf), jnp.zeros((), jnp.int32)

    phase = PhaseConfig(optimizer="adam", iterations=5, lr=0.5)
    step, opt = raw_step(phase), make_optimizer(phase)
    params = {"w": jnp.array([[1.9], [0.0]])}
    state = jax.vmap(lambda p: init_state(p, opt))(params)
    alone = init_state({"w": jnp.array([0.0])}, opt)
    h = hyper(phase)
    vstep = jax.jit(jax.vmap(lambda s: step(s, Toy(), jnp.asarray(0), h)))
    one = jax.jit(lambda s: step(s, Toy(), jnp.asarray(0), h))
    accepted0 = []
    for _ in range(4):
        state, stats = vstep(state)
        alone, solo = one(alone)
        accepted0.append(bool(stats.accepted[0]))
        np.testing.assert_array_equal(state.params["w"][1], alone.params["w"])
        assert bool(stats.accepted[1]) and float(stats.loss[1]) == float(solo.loss)
    assert not all(accepted0)  # member 0 was rejected at least once
    assert float(state.damping[0]) < 1.0 and float(state.damping[1]) == 1.0


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    cfg = config({"parameters": [{"parameter": "runtime.seed", "values": [0, 1]},
                                 {"parameter": "data.noise.V", "values": [0.5, 1.0]}], "combine": "zip"},
                 **{"train.checkpoint_every": 2})
    prep = train_ude.prepare(cfg, "test")
    full_run = RunDirectory.create(tmp_path, "train-ude", "full", [], 0)
    full = train_ude.execute(prep, cfg, full_run, None)

    run = RunDirectory.create(tmp_path, "train-ude", "cut", [], 0)

    def interrupt(cursor):
        if cursor.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, on_step=interrupt)
    assert engine.read_header(run)["step"] == 3
    other = config({"parameters": [{"parameter": "runtime.seed", "values": [0, 2]},
                                   {"parameter": "data.noise.V", "values": [0.5, 1.0]}], "combine": "zip"})
    with pytest.raises(CheckpointMismatch, match="another sweep"):
        ude_setup.restore(other, run)
    restored = ude_setup.restore(cfg, run)
    resumed = train_ude.execute(prep, cfg, run, restored)
    assert resumed["iterations_this_session"] == 3
    for a, b in zip(resumed["members"], full["members"]):
        for key in METRICS:
            assert a[key] == pytest.approx(b[key], rel=1e-10)
    assert run.file("loss.csv").read_text().count("\n") == 1 + 6 * 2


@pytest.mark.slow
def test_a_sweep_whose_steps_keep_failing_exits_1_with_its_loss_figure(tmp_path):
    result, run_dir = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", ADAM_SET,
                             "--set", "sweep={parameter: runtime.seed, values: [0, 1]}",
                             "--set", "ude.network.output_scale=1.0e7", "--set", "ude.network.final_layer_scale=1.0",
                             "--set", "solve.solver.max_steps=200", "--set", "train.max_consecutive_failures=3")
    assert result.exit_code == 1
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "3 steps in a row rejected for a member" in info["error"]
    assert "member 0 (runtime.seed = 0)" in info["error"]
    assert (run_dir / "figures" / "loss.pdf").is_file() and (run_dir / "checkpoints" / "latest.eqx").is_file()


class _Alternating:
    """An engine task of two members, each rejected on alternate steps (never twice in a row)."""

    members = 2
    columns = ("step", "member", "loss")
    identity: dict = {}

    def __init__(self, iterations: int, max_failures: int):
        self.settings = Settings((iterations,), checkpoint_every=1000, log_every=1, max_consecutive_failures=max_failures)

    def initial_state(self):
        return jnp.zeros(2)

    def params(self, state):
        return state

    def enter_phase(self, phase, state, best):
        return state

    def compile(self, phase, state):
        return lambda st, step: (st + 1.0, step)

    def record(self, step, phase, stats, wall_s):
        accepted = np.array([step % 2 == 0, step % 2 == 1])
        return Record([{"step": step, "member": m, "loss": 1.0} for m in range(2)], np.ones(2), accepted)

    def select(self, mask, params, best):
        return jnp.where(jnp.asarray(mask), params, best)

    def final_loss(self, cur):
        return np.ones(2)

    def failure(self, cur, rec):
        return f"{int(cur.consecutive.max())} in a row"

    def to_host(self, tree):
        return tree

    def to_device(self, tree):
        return tree

    def best_artefact(self, cur):
        return {}, cur.best

    def loss_csv(self, history):
        return history.csv({}, self.columns)


def test_members_rejected_on_alternate_steps_count_their_own_failures(tmp_path):
    """Each member counts its own rejected steps in a row: two members rejected on alternate steps
    never stop a run that allows 2 in a row, though some member is rejected at every step."""
    run = RunDirectory.create(tmp_path, "train-ude", "alternating", [], 0)
    cur = Engine(_Alternating(6, 2), run, "alternating").run(engine.start(_Alternating(6, 2)))
    assert cur.step == 6 and cur.failed == 6 and cur.consecutive.tolist() in ([1, 0], [0, 1])
    with pytest.raises(TrainingFailed, match="1 in a row"):  # one allowed: the first rejection stops it
        Engine(_Alternating(6, 1), RunDirectory.create(tmp_path, "train-ude", "strict", [], 0), "strict").run(
            engine.start(_Alternating(6, 1)))


@pytest.mark.slow
def test_a_sweep_on_two_devices_trains_each_member_as_on_one(tmp_path):
    """runtime.cpu_devices: 2 pads the member axis (3 members -> 4) and shards it over two CPU
    devices (neurocli/members/placement.py); loss.csv, members.csv and the checkpointed networks
    hold the three real members, as the one-device run does."""
    import subprocess
    import sys
    from pathlib import Path

    args = ["--set", ADAM_SET, "--set", "sweep={parameter: runtime.seed, values: [0, 1, 2]}"]

    def run(devices: int) -> Path:
        cmd = [sys.executable, "-m", "neurocli", "train-ude", "--config", str(SMOKE), *args,
               "--set", f"runtime.cpu_devices={devices}", "--output-root", str(tmp_path / f"out{devices}")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return Path(proc.stdout.strip().splitlines()[-1])

    one, two = run(1), run(2)
    assert json.loads((two / "run.json").read_text())["devices"] == ["cpu:0", "cpu:1"]
    rows = [list(csv.DictReader((r / "loss.csv").open())) for r in (one, two)]
    assert len(rows[0]) == len(rows[1]) == 3 * 6 and {r["member"] for r in rows[1]} == {"0", "1", "2"}
    for a, b in zip(*rows):
        assert a["member"] == b["member"] and a["step"] == b["step"]
        np.testing.assert_allclose(float(b["loss"]), float(a["loss"]), rtol=1e-9)
    m1, m2 = (list(csv.DictReader((r / "members.csv").open())) for r in (one, two))
    assert len(m2) == 3
    for a, b in zip(m1, m2):
        np.testing.assert_allclose(float(b["best_loss"]), float(a["best_loss"]), rtol=1e-9)
