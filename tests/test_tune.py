"""`neurocli tune`: a real Optuna sqlite study over a tiny simulate config, interrupted (a real
SIGINT to tune mid-trial, and a trial left RUNNING as a killed tune leaves it) and continued to N
trials; bad input exits 2 before any trial runs."""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import invoke, spawn

# one HH solve of 5 ms: a trial costs a process start and a cached compile
TINY_HH = {"model": {"name": "hh"}, "stimulus": {"kind": "pulse", "start": 1.0, "duration": 1.0, "amplitude": 20.0},
           "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.1}, "solver": {"name": "tsit5", "rtol": 1e-6, "atol": 1e-6}}


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "hh_tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_HH))
    space = tmp_path / "space.yaml"
    space.write_text("stimulus.amplitude: {low: 2.0, high: 40.0}\nstimulus.duration: {choices: [0.5, 1.0]}\n")
    return config, space


def tune(config, space, root, trials, *extra):
    return invoke("tune", "--config", config, "--space", space, "--trials", trials, "--objective", "peak_V_mV",
                  "--direction", "maximize", "--output-root", root, *extra)


@pytest.mark.slow
def test_an_interrupted_study_continues_to_n_trials(files, tmp_path):
    config, space = files
    root = tmp_path / "out"
    storage = f"sqlite:///{root / 'tune.db'}"
    # 1. a real Ctrl-C (SIGINT to tune) while its first trial runs: forwarded, the trial stops
    proc = spawn("tune", "--config", config, "--space", space, "--trials", 2, "--objective", "peak_V_mV",
                 "--direction", "maximize", "--output-root", root)
    deadline = time.monotonic() + 120
    while not any((root / "simulate").glob("*_hh_tiny-trial0000")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    first_dir = Path(out.strip().splitlines()[-1])
    assert json.loads((first_dir / "run.json").read_text())["status"] == "interrupted"
    study = optuna.load_study(study_name="hh_tiny", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL", "WAITING"]  # the stopped trial, queued again
    first_params = dict(study.trials[0].params)
    assert "interrupted" in study.trials[0].user_attrs and study.trials[1].system_attrs["fixed_params"] == first_params
    # 2. what a tune killed outright leaves behind: a trial RUNNING, its parameters drawn
    stale = study.ask()
    stale_params = {"stimulus.amplitude": stale.suggest_float("stimulus.amplitude", 2.0, 40.0),
                    "stimulus.duration": stale.suggest_categorical("stimulus.duration", [0.5, 1.0])}
    assert stale.number == 1 and stale_params == first_params  # it took the queued parameters

    result, tune_dir = tune(config, space, root, 3)
    assert result.exit_code == 0, result.output
    assert "0 of 3 trials done; 1 left running by a stopped tune, queued again" in result.stderr
    study = optuna.load_study(study_name="hh_tiny", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert "interrupted" in study.trials[1].user_attrs
    assert study.trials[1].user_attrs["retry_of"] == 0  # the killed trial was the first one's retry
    assert study.trials[2].user_attrs["retry_of"] == 1 and study.trials[2].params == stale_params  # run again first
    assert all("retry_of" not in t.user_attrs for t in study.trials[3:])  # then new parameters
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    run_dirs = [Path(t.user_attrs["run_dir"]) for t in complete]
    assert len(set(run_dirs)) == 3 and first_dir not in run_dirs and all(d.parent == root / "simulate" for d in run_dirs)
    for t, d in zip(complete, run_dirs):
        link = json.loads((d / "tune_trial.json").read_text())
        assert link["trial"] == t.number and link["study"] == "hh_tiny" and link["params"] == t.params
        assert d.name.endswith(f"_hh_tiny-trial{t.number:04d}")
        assert yaml.safe_load((d / "config.yaml").read_text())["stimulus"]["amplitude"] == t.params["stimulus.amplitude"]
        assert json.loads((d / "metrics.json").read_text())["peak_V_mV"] == t.value
    # the tune's own directory: the whole study
    assert tune_dir.parent == root / "tune" and tune_dir.name.endswith("_hh_tiny")
    with open(tune_dir / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["fail", "fail", "complete", "complete", "complete"]
    metrics = json.loads((tune_dir / "metrics.json").read_text())
    best = max(complete, key=lambda t: t.value)
    assert metrics["trials"] == 3 and metrics["complete"] == 3 and metrics["interrupted"] == 2
    assert metrics["best_value"] == best.value and metrics["best_run_dir"] == best.user_attrs["run_dir"]
    assert (tune_dir / "figures" / "history.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads((tune_dir / "run.json").read_text())["status"] == "completed"
    # and `runs` sees the trials and the tune
    result, _ = invoke("runs", "--output-root", root, "--command", "tune", "--format", "csv")
    assert result.stdout.count("\n") == 3  # the header and two tune sessions
    result, _ = tune(config, space, root, 3)  # done already: no trial runs
    assert result.exit_code == 0 and len(optuna.load_study(study_name="hh_tiny", storage=storage).trials) == 5


@pytest.mark.parametrize("space_text, args, named", [
    ("model.g_Nax: {low: 100, high: 130}\n", [], "model.g_Nax: the config refuses model.g_Nax=100 (model.g_Nax: unknown key)"),
    ("solver.rtol: {low: -1.0, high: 1.0}\n", [], "solver.rtol: the config refuses solver.rtol=-1.0"),
    ("stimulus.amplitude: {low: 5, hi: 9}\n", [], "stimulus.amplitude: unknown key hi"),
    ("stimulus.amplitude: {low: 0.0, high: 9.0, log: true}\n", [], "log: true needs low > 0"),
    ("stimulus.amplitude: {choices: []}\n", [], "choices: expected a non-empty list"),
    ("stimulus.amplitude: {low: 2.0, high: 40.0}\n", ["--objective", "rel_l2_max"],
     "--objective: 'rel_l2_max' is not a metric key of `neurocli simulate`"),
    ("stimulus.amplitude: {low: 2.0, high: 40.0}\n", ["--storage", "sqlite:///{tmp}/a-file/tune.db"],
     "--storage sqlite:///{tmp}/a-file/tune.db: cannot be opened"),
    ("stimulus.amplitude: {low: 2.0, high: 40.0}\n", ["--storage", "nosuchdb://x"], "--storage nosuchdb://x: cannot be opened"),
    ("stimulus.amplitude: {low: 2.0, high: 40.0}\n", ["--direction", "up"], "--direction: 'up': expected minimize"),
    ("stimulus.amplitude: {low: 2.0, high: 40.0}\n", ["--study", "s" * 95], "--study: 'sssss"),  # + -trialNNNN > 100
])
def test_bad_input_exits_2_before_any_trial(files, tmp_path, space_text, args, named):
    config, _ = files
    space = tmp_path / "bad_space.yaml"
    space.write_text(space_text)
    (tmp_path / "a-file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result, _ = invoke("tune", "--config", config, "--space", space, "--trials", 2, "--objective", "peak_V_mV",
                       "--output-root", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert named.replace("{tmp}", str(tmp_path)) in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "simulate").exists() and not (tmp_path / "out" / "tune").exists()


def test_a_study_is_not_continued_with_another_objective(files, tmp_path):
    config, space = files
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    optuna.create_study(study_name="hh_tiny", storage=storage, direction="maximize").set_user_attr("objective", "spike_count")
    result, _ = tune(config, space, tmp_path / "out", 2, "--storage", storage)
    assert result.exit_code == 2 and "has objective 'spike_count', not 'peak_V_mV'" in result.stderr
    result, _ = invoke("tune", "--config", config, "--space", space, "--trials", 2, "--objective", "peak_V_mV",
                       "--storage", storage, "--output-root", tmp_path / "out")  # minimize, the default
    assert result.exit_code == 2 and "was made to maximize, not minimize" in result.stderr


def test_a_missing_space_file_is_named_as_the_space(files, tmp_path):
    config, _ = files
    result, _ = invoke("tune", "--config", config, "--space", tmp_path / "nope.yaml", "--trials", 2,
                       "--objective", "peak_V_mV", "--output-root", tmp_path / "out")
    assert result.exit_code == 2 and f"--space {tmp_path / 'nope.yaml'}: file not found" in result.stderr


def test_the_shipped_space_files_fit_their_configs():
    """configs/spaces/*.yaml: every range end and choice is a config the schema accepts."""
    from neurocli.config.base import read_yaml
    from neurocli.config.pinn import TrainPinnConfig
    from neurocli.tune.space import check_space, load_space

    configs = Path(__file__).resolve().parent.parent / "configs"
    space = configs / "spaces" / "pinn.yaml"
    params = load_space(space)
    assert {p.key for p in params} >= {"phases[0].lr", "network.width"}
    check_space(params, TrainPinnConfig, read_yaml(configs / "pinn_smoke.yaml"), str(space))


def test_a_fractional_step_makes_a_float_range():
    from neurocli.tune.space import Param

    assert Param("k", 1, 10, step=2).is_int and not Param("k", 1, 10, step=0.5).is_int
