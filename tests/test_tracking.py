"""runtime.tracking end to end: a real tiny train-pinn run mirrored into TensorBoard event files
(read back with tensorboard's EventAccumulator) and a real MLflow sqlite store (queried with
MlflowClient); a tracking failure is a warning; `neurocli runs` over the real runs."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, invoke

TINY_PINN = ["--set", "pde.a=0.2", "--set", "phases=[{optimizer: adam, iterations: 20, lr: 0.003}]",
             "--set", "output.nx=16", "--set", "output.nt=16", "--set", "reference.nx=61", "--set", "output.log_every=5"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked")
    result, run = invoke("train-pinn", "--config", CONFIGS / "pinn_smoke.yaml", *TINY_PINN, "--output-root", root,
                         "--set", "runtime.tracking.tensorboard=true", "--set", "runtime.tracking.mlflow=true")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr
    return root, run


def _loss_csv(run: Path) -> list[dict]:
    with open(run / "loss.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_tensorboard_event_files_hold_the_loss_rows_metrics_and_figures(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, run = tracked
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    rows = _loss_csv(run)
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    loss = events.Scalars("loss")  # one member: plain tags
    assert [e.step for e in loss] == [5, 10, 15, 20]
    np.testing.assert_allclose([e.value for e in loss], [float(r["loss"]) for r in rows], rtol=1e-6)  # float32 in TB
    metrics = json.loads((run / "metrics.json").read_text())
    (final,) = events.Scalars("metrics/rel_l2_max")
    assert final.step == 20 and final.value == pytest.approx(metrics["rel_l2_max"], rel=1e-6)
    assert events.Scalars("metrics/train_s")[0].value == pytest.approx(metrics["train_s"], rel=1e-6)
    figures = sorted(p.stem for p in (run / "figures").glob("*.pdf"))
    assert sorted(t.removeprefix("figures/") for t in events.Tags()["images"]) == figures and len(figures) == 5
    image = events.Images("figures/loss")[0]
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and image.width > 300 and image.height > 200


def test_mlflow_store_holds_params_step_metrics_metrics_and_the_run_directory(tracked):
    from mlflow.tracking import MlflowClient

    root, run = tracked
    assert (root / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("train-pinn")
    (found,) = client.search_runs([experiment.experiment_id])
    state = json.loads((run / "tracking.json").read_text())["mlflow"]
    assert found.info.run_id == state["run_id"] and found.info.run_name == run.name
    assert found.info.status == "FINISHED"
    tags, params = found.data.tags, found.data.params
    assert tags["neurocli.run_dir"] == str(run.resolve()) and tags["neurocli.status"] == "completed"
    assert params["phases.0.lr"] == "0.003" and params["pde.a"] == "0.2" and params["runtime.tracking.tensorboard"] == "True"
    history = client.get_metric_history(found.info.run_id, "loss")
    rows = _loss_csv(run)
    assert [m.step for m in history] == [5, 10, 15, 20]
    assert [m.value for m in history] == [float(r["loss"]) for r in rows]
    metrics = json.loads((run / "metrics.json").read_text())
    assert found.data.metrics["rel_l2_max"] == metrics["rel_l2_max"]
    assert found.data.metrics["max_abs_err_max"] == metrics["members"][0]["max_abs_err"]
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "run.json", "metrics.json", "loss.csv", "figures", "tensorboard"} <= artifacts
    assert (root / "mlflow-artifacts").is_dir()  # next to the store, not ./mlruns


def test_a_tracking_failure_is_a_warning_and_the_run_completes(tmp_path, monkeypatch):
    for name in [n for n in sys.modules if n == "tensorboard" or n.startswith("tensorboard.")] or ["tensorboard"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    (tmp_path / "a-file").write_text("")  # a store that cannot be made: its directory would lie under a file
    result, run = invoke("simulate", "--config", CONFIGS / "smoke_simulate.yaml", "--output-root", tmp_path,
                         "--set", "runtime.tracking.tensorboard=true",
                         "--set", f"runtime.tracking.mlflow=sqlite:///{tmp_path}/a-file/mlflow.db")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: tracking:")]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith("warning: tracking: tensorboard: not installed (tensorboard")
    assert warnings[1].startswith("warning: tracking: mlflow:") and "the run directory has everything" in warnings[1]
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert (run / "metrics.json").is_file() and not (run / "tensorboard").exists()
    assert not (run / "tracking.json").exists()


def test_a_bad_tracking_key_is_a_config_error(tmp_path):
    result, _ = invoke("simulate", "--config", CONFIGS / "smoke_simulate.yaml", "--output-root", tmp_path,
                       "--set", "runtime.tracking.wandb=true")
    assert result.exit_code == 2 and "runtime.tracking.wandb: unknown key" in result.stderr
    result, _ = invoke("simulate", "--config", CONFIGS / "smoke_simulate.yaml", "--output-root", tmp_path,
                       "--set", "runtime.tracking.experiment=x")
    assert result.exit_code == 2 and "runtime.tracking.experiment: is not used here" in result.stderr
    assert not (tmp_path / "simulate").exists()


def test_runs_lists_filters_and_compares_the_real_runs(tracked):
    root, run = tracked
    metrics = json.loads((run / "metrics.json").read_text())
    result, _ = invoke("simulate", "--config", CONFIGS / "smoke_simulate.yaml", "--output-root", root)
    assert result.exit_code == 0
    result, _ = invoke("runs", "--output-root", root, "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["command"] for r in rows] == ["train-pinn", "simulate"]
    assert rows[0]["metrics"]["rel_l2_max"] == metrics["rel_l2_max"] and rows[0]["status"] == "completed"
    assert rows[1]["metrics"]["spike_count_max"] == 1  # 5 and 20 µA/cm²: one spike at 20
    result, _ = invoke("runs", "--output-root", root, "--format", "csv", "--where", f"rel_l2_max<={metrics['rel_l2_max']}")
    assert result.stdout.count("\n") == 2 and run.name in result.stdout
    result, last = invoke("runs", "compare", run, rows[1]["path"], "--output-root", root)
    assert result.exit_code == 0 and "pde.a" in result.stdout and last.parent == root / "comparisons"


def test_a_resumed_run_continues_its_mlflow_run_with_the_new_rows(tmp_path):
    """Two sessions of one run (interrupted, then resumed): one MLflow run, each loss row once."""
    from mlflow.tracking import MlflowClient

    from neurocli.config.base import load_config
    from neurocli.config.pinn import TrainPinnConfig
    from neurocli.run_dir import RunDirectory
    from neurocli.tracking.mlflow import MlflowTracker

    cfg, _ = load_config(TrainPinnConfig, CONFIGS / "pinn_smoke.yaml")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = RunDirectory.create(tmp_path, "train-pinn", "resumed", ["neurocli"], 0)
    rows = [f"{10 * (i + 1)},0,0.1,{1.0 / (i + 1)!r},0.5" for i in range(5)]
    for session, (n, status) in enumerate([(3, "interrupted"), (5, "completed")]):
        run.write_text("loss.csv", "step,member,a,loss,residual\n" + "\n".join(rows[:n]) + "\n")
        run.write_json("metrics.json", {"members": [{"a": 0.1, "rel_l2": 0.1 / (session + 1)}]})
        run.mark(status)
        MlflowTracker.open(uri, "resume-test", "train-pinn", cfg).finish(run)
    client = MlflowClient(tracking_uri=uri)
    (found,) = client.search_runs([client.get_experiment_by_name("resume-test").experiment_id])
    assert found.info.run_id == json.loads((run.path / "tracking.json").read_text())["mlflow"]["run_id"]
    assert found.info.status == "FINISHED" and found.data.tags["neurocli.status"] == "completed"
    history = client.get_metric_history(found.info.run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(10 * (i + 1), 1.0 / (i + 1)) for i in range(5)]
    assert found.data.metrics["rel_l2_max"] == 0.05  # the latest metrics.json
    run.close()
