"""train-ude on a recording with a `sweep` of seeds (neurocli/ude/recording_sweep.py): every member
trained at once by one vmapped step, each as its single run with that seed trains; fitted
parameters per member, their median and spread across members; bad sweeps refused (exit 2)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from conftest import CONFIGS, invoke
from neurocli.commands import train_ude
from neurocli.config.base import ConfigError, validate
from neurocli.config.ude import TrainUDEConfig
from neurocli.models import HodgkinHuxley
from neurocli.run_dir import RunDirectory
from neurocli.training import Engine, engine
from neurocli.training.checkpoint import CheckpointError
from neurocli.ude import recording_fit as rf
from neurocli.ude import recording_run, synthetic

FIT = CONFIGS / "fit_conductances.yaml"
SPREAD = ("median", "min", "max", "q25", "q75", "iqr", "mad")


@pytest.fixture(scope="module")
def short_csv(tmp_path_factory) -> str:
    """Full HH, two 13 ms steps (−3 and 10 µA/cm²) in 20 ms, 1 mV noise."""
    syn = synthetic.current_clamp(HodgkinHuxley(), amplitudes=(-3.0, 10.0), t1=20.0, dt=0.1, start=2.0, stop=15.0,
                                  noise_mV=1.0, seed=1)
    path = tmp_path_factory.mktemp("rec") / "short.csv"
    synthetic.write_csv(path, syn)
    return str(path)


def raw_config(path: str, sweep=None, **fit) -> dict:
    raw = yaml.safe_load(FIT.read_text())
    raw["data"]["path"] = path
    raw["fit"]["parameters"] = {"g_K": {"init": 30.0, "bounds": [1.0, 300.0]},
                                "g_L": {"init": 0.5, "bounds": [0.01, 10.0]}}
    raw["fit"].update({"init_jitter": 0.2, **fit})
    raw["train"] = {"phases": [{"optimizer": "levenberg_marquardt", "iterations": 4}], "checkpoint_every": 4}
    raw["loss"].pop("shooting")  # one phase: the whole record
    if sweep is not None:
        raw["sweep"] = sweep
    return raw


def _single(raw: dict, tmp_path, name: str) -> dict:
    """A run without a sweep, in this process: its fitted values."""
    cfg = validate(TrainUDEConfig, raw, "single.yaml")
    prep = train_ude.prepare(cfg, "single.yaml")
    _, task = recording_run.setup(cfg, prep, None)
    cur = Engine(task, RunDirectory.create(tmp_path, "train-ude", name, [], 0)).run(engine.start(task))
    return {k: float(v) for k, v in rf.physical_values(task.loss_fn.specs, cur.best).items()}


def _run(raw: dict, tmp_path, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    result, run = invoke("train-ude", "--config", path, "--output-root", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    return run, json.loads((run / "metrics.json").read_text())


def test_start_values_jitter_by_the_seed_inside_the_bounds():
    cfg = validate(TrainUDEConfig, raw_config("x.csv", init_jitter=0.5), "c.yaml")
    specs = rf.param_specs(cfg)
    assert rf.start_values(specs, 0.0, 3) == {"g_K": 30.0, "g_L": 0.5}  # no jitter: the init itself
    a, b = rf.start_values(specs, 0.5, 3), rf.start_values(specs, 0.5, 4)
    assert a == rf.start_values(specs, 0.5, 3) and a != b
    z = np.random.default_rng(3).standard_normal(2)
    assert a["g_K"] == pytest.approx(30.0 * np.exp(0.5 * z[0])) and a["g_L"] == pytest.approx(0.5 * np.exp(0.5 * z[1]))
    wide = rf.start_values(specs, 50.0, 3)  # clipped inside the bounds (a millesimal margin in log space)
    assert all(s.lo < wide[s.name] < s.hi for s in specs)


@pytest.mark.slow
def test_a_seed_sweep_trains_each_member_as_its_single_run(short_csv, tmp_path):
    """runtime.seed [3, 7] with fit.init_jitter 0.2 (no network: two different starts) zipped with
    data.seed [0, 1] (0.5 mV of noise added to the recording, a draw each), one vmapped LM fit: each
    member's fitted values are its single run's (4 LM steps each); metrics.json's median and spread
    are numpy's over the members; members.csv has a column per fitted parameter."""
    raw = raw_config(short_csv, sweep={"parameters": [{"parameter": "runtime.seed", "values": [3, 7]},
                                                      {"parameter": "data.seed", "values": [0, 1]}],
                                       "combine": "zip"})
    raw["data"]["noise"] = {"V": 0.5}
    run, m = _run(raw, tmp_path, "sweep")
    assert m["member_count"] == 2 and m["swept"] == ["runtime.seed", "data.seed"]
    assert m["top_level_metrics_are"] == "median over members"
    singles = []
    for seed in (3, 7):
        one = {k: v for k, v in raw.items() if k != "sweep"}
        one["runtime"] = {**raw["runtime"], "seed": seed}
        one["data"] = {**raw["data"], "seed": (3, 7).index(seed)}
        singles.append(_single(one, tmp_path, f"seed{seed}"))
    assert singles[0]["g_K"] != pytest.approx(singles[1]["g_K"], rel=1e-6)  # the starts differ, 4 steps do not converge
    for i, member in enumerate(m["members"]):
        assert member["runtime.seed"] == (3, 7)[i] and member["data.seed"] == i
        for name in ("g_K", "g_L"):
            assert member["fitted_parameters"][name]["value"] == pytest.approx(singles[i][name], rel=1e-7), (i, name)
            assert member["fitted_parameters"][name]["stderr"] > 0
        assert member["fit_sse"] == pytest.approx(sum(member["fit_sse_per_sweep"]), rel=1e-9)
    for name in ("g_K", "g_L"):
        values = np.array([mem["fitted_parameters"][name]["value"] for mem in m["members"]])
        summary = m["fitted_parameters"][name]
        q25, q75 = np.percentile(values, [25, 75])
        med = np.median(values)
        expect = {"median": med, "min": values.min(), "max": values.max(), "q25": q25, "q75": q75,
                  "iqr": q75 - q25, "mad": np.median(np.abs(values - med))}
        for key in SPREAD:
            assert summary[key] == pytest.approx(expect[key], rel=1e-12, abs=1e-15), (name, key)
        assert summary["value"] == summary["median"] and summary["values"] == pytest.approx(values.tolist())
    assert m["best_loss"] == pytest.approx(np.median([mem["best_loss"] for mem in m["members"]]))
    with open(run / "members.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["runtime.seed", "data.seed", "best_loss", "final_loss", "fit_sse", "heldout_sse", "current_rmse",
                             "fit_residual_sd", "fitted_g_K", "fitted_g_L"]
    assert [int(r["runtime.seed"]) for r in rows] == [3, 7]
    for r, member in zip(rows, m["members"]):
        assert float(r["fitted_g_L"]) == member["fitted_parameters"]["g_L"]["value"]
    assert (run / "figures" / "parameters.pdf").is_file() and (run / "figures" / "loss.pdf").is_file()


@pytest.mark.slow  # three CLI runs; guarded in make test by test_ude_sweep.py's noise sweep (each member its own
# draw) and this module's interrupted recording sweep (the recording-mode sweep's numbers)
def test_a_noise_seed_sweep_on_simulated_data_trains_each_member_on_its_own_draw(tmp_path):
    """data.seed [0, 1] with fitted parameters on simulated data (one sweep, every state): each
    member fits its own noise draw as the single run with that data.seed does."""
    raw = yaml.safe_load((CONFIGS / "ude_smoke.yaml").read_text())
    raw["ude"] = {"replaced": "none"}
    raw["data"]["noise"] = {"V": 1.0}
    raw["fit"] = {"parameters": {"g_L": {"init": 0.4, "bounds": [0.01, 10.0]}, "E_L": {"init": -60.0}}}
    raw["train"] = {"phases": [{"optimizer": "levenberg_marquardt", "iterations": 2}], "checkpoint_every": 2}
    raw["sweep"] = {"parameter": "data.seed", "values": [0, 1]}
    _, m = _run(raw, tmp_path, "noise")
    fitted = []
    for seed in (0, 1):
        one = {k: v for k, v in raw.items() if k != "sweep"}
        one["data"] = {**raw["data"], "seed": seed}
        fitted.append(_single(one, tmp_path, f"data{seed}"))
    assert fitted[0]["g_L"] != pytest.approx(fitted[1]["g_L"], rel=1e-6)  # different noise, different fits
    for i, member in enumerate(m["members"]):
        for name in ("g_L", "E_L"):
            assert member["fitted_parameters"][name]["value"] == pytest.approx(fitted[i][name], rel=1e-7), (i, name)
    for name in ("g_L", "E_L"):
        values = np.array([fitted[0][name], fitted[1][name]])
        assert m["fitted_parameters"][name]["median"] == pytest.approx(np.median(values), rel=1e-7)
        assert m["fitted_parameters"][name]["iqr"] == pytest.approx(np.subtract(*np.percentile(values, [75, 25])), rel=1e-5)


@pytest.mark.parametrize("change, key, message", [
    ({"sweep": {"parameter": "data.seed", "values": [0, 1]}}, "sweep",
     "data.seed is swept but no noise is added (data.noise"),
    ({"data.noise": {"m": 1.0}}, "data.noise.m", "has no samples of m (has V)"),
    ({"sweep": {"parameter": "runtime.seed", "values": [0, 1]}, "fit.init_jitter": 0.0}, "sweep",
     "runtime.seed is swept but seeds nothing here"),
    ({"sweep": {"parameter": "model.g_L", "values": [0.3, 0.4]}}, "sweep.parameter",
     "'model.g_L' cannot be swept in train-ude"),
    ({"sweep": {"parameter": "runtime.seed", "values": [0, 1.5]}}, "sweep.values[1]", "takes whole numbers"),
    ({"fit.init_jitter": -0.1}, "fit.init_jitter", "greater than or equal to 0"),
])
def test_bad_recording_sweeps_exit_2_naming_the_key_before_compiling(short_csv, tmp_path, change, key, message):
    raw = raw_config(short_csv)
    for dotted, value in change.items():
        if dotted == "sweep":
            raw["sweep"] = value
        else:
            section, name = dotted.split(".")
            raw[section][name] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        train_ude.prepare(validate(TrainUDEConfig, raw, str(path)), str(path))
    assert err.value.problems[0][0] == key and message in str(err.value), str(err.value)
    result, _ = invoke("train-ude", "--config", path, "--output-root", tmp_path / "runs")
    assert result.exit_code == 2 and key in result.output and str(path) in result.output
    assert not (tmp_path / "runs").exists()


def _cut_raw(short_csv) -> dict:
    """A recording sweep for the resume tests: runtime.seed [3, 7] zipped with data.seed [0, 1]
    (0.5 mV of noise added to the recording), the recipe's two phases shortened (2 LM iterations
    of multiple shooting, then 2 on the whole record), checkpointed every step."""
    raw = raw_config(short_csv, sweep={"parameters": [{"parameter": "runtime.seed", "values": [3, 7]},
                                                      {"parameter": "data.seed", "values": [0, 1]}],
                                       "combine": "zip"})
    raw["data"]["noise"] = {"V": 0.5}
    raw["loss"]["shooting"] = {"segment_ms": 1.0, "iterations": 2}
    raw["train"] = {"phases": [{"optimizer": "levenberg_marquardt", "iterations": 2},
                               {"optimizer": "levenberg_marquardt", "iterations": 2}], "checkpoint_every": 1}
    return raw


def _stop_at(step: int):
    def stop(cursor):
        if cursor.step == step:
            raise KeyboardInterrupt
    return stop


def test_an_interrupted_recording_sweep_resumes_to_the_uninterrupted_result(short_csv, tmp_path):
    """`_cut_raw`'s sweep in one phase (4 whole-record LM iterations: one compiled step, ~23 s
    with an empty compilation cache), interrupted after step 3 and resumed as `--resume` does
    (train_ude.restore, then engine.resume; the CLI's whole path, both phases, is
    `test_an_interrupted_recording_sweep_resumes_through_the_cli`): every member's best and final
    loss, fitted parameters and starting-V offsets equal an uninterrupted run's to 1e-10 relative,
    and a checkpoint of another sweep is refused."""
    raw = _cut_raw(short_csv)
    raw["loss"].pop("shooting")
    raw["train"]["phases"] = [{"optimizer": "levenberg_marquardt", "iterations": 4}]
    cfg = validate(TrainUDEConfig, raw, "cut.yaml")
    prep = train_ude.prepare(cfg, "cut.yaml")
    _, task = recording_run.setup(cfg, prep, None)
    full = Engine(task).run(engine.start(task))
    run = RunDirectory.create(tmp_path, "train-ude", "cut", [], 0)
    with pytest.raises(KeyboardInterrupt):  # one task for all three runs: its steps compile once
        Engine(task, run, on_step=_stop_at(3)).run(engine.start(task))
    other = validate(TrainUDEConfig, {**raw, "sweep": {"parameter": "runtime.seed", "values": [3, 8]}}, "other.yaml")
    with pytest.raises(CheckpointError):
        train_ude.restore(train_ude.prepare(other, "other.yaml"), other, run)
    restored = train_ude.restore(prep, cfg, run)
    assert restored is not None and restored.header["step"] == 3
    resumed = Engine(task, run).run(engine.resume(task, restored))
    assert resumed.step == full.step == 4 and resumed.steps_this_session == 1
    np.testing.assert_allclose(np.asarray(resumed.best_loss), np.asarray(full.best_loss), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(resumed.final_loss), np.asarray(full.final_loss), rtol=1e-10)
    for name in ("g_K", "g_L"):
        np.testing.assert_allclose(np.asarray(resumed.best["parameters"][name]),
                                   np.asarray(full.best["parameters"][name]), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(resumed.best["v0"]), np.asarray(full.best["v0"]), rtol=1e-10, atol=1e-13)
    assert np.asarray(full.best["parameters"]["g_K"]).shape == (2,)  # one value per member


@pytest.mark.slow
def test_an_interrupted_recording_sweep_resumes_through_the_cli(short_csv, tmp_path, monkeypatch):
    """`_cut_raw`'s sweep through the CLI, interrupted after step 3 of 4 (exit 130, as by Ctrl-C),
    then `neurocli train-ude --resume`: every member's fitted values and standard errors, losses,
    starting-V offsets and loss.csv rows (but the wall time) equal an uninterrupted run's (to 1e-10
    relative). Three CLI runs with their outputs: about 60 s of CPU with an empty compilation cache
    (19 s warm), so marked slow."""
    raw = _cut_raw(short_csv)
    full_run, full = _run(raw, tmp_path, "full")

    class Interrupted(Engine):  # the CLI's engine, stopped after step 3 as by Ctrl-C
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.on_step = self._stop

        @staticmethod
        def _stop(cursor):
            if cursor.step == 3:
                raise KeyboardInterrupt

    path = tmp_path / "cut.yaml"
    path.write_text(yaml.safe_dump(raw))
    with monkeypatch.context() as patch:
        patch.setattr(train_ude, "Engine", Interrupted)
        result, run = invoke("train-ude", "--config", path, "--output-root", tmp_path / "cut")
    assert result.exit_code == 130, result.output
    assert engine.read_header(RunDirectory.open(run))["step"] == 3
    assert not (run / "metrics.json").exists()
    result, again = invoke("train-ude", "--resume", run)
    assert result.exit_code == 0, result.output
    assert again == run
    m = json.loads((run / "metrics.json").read_text())
    assert m["iterations_this_session"] == 1 and m["iterations"] == 4
    assert len(m["members"]) == len(full["members"]) == 2
    for a, b in zip(m["members"], full["members"]):
        for key in ("best_loss", "final_loss", "fit_sse", "fit_residual_sd"):
            assert a[key] == pytest.approx(b[key], rel=1e-10), key
        for name in ("g_K", "g_L"):
            for field in ("value", "stderr"):
                assert a["fitted_parameters"][name][field] == pytest.approx(b["fitted_parameters"][name][field],
                                                                            rel=1e-10), (name, field)
        np.testing.assert_allclose(a["fitted_v0_offsets"], b["fitted_v0_offsets"], rtol=1e-10, atol=1e-13)

    def rows(d):  # loss.csv without the wall-time column
        with open(d / "loss.csv") as f:
            return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(f)]

    assert rows(run) == rows(full_run) and len(rows(run)) == 2 * 4
