"""`neurocli train-ude` end to end on the smoke config: files, determinism, failures, SIGINT, resume."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, figures_handed_to_worker, invoke as _invoke

SMOKE = ROOT / "configs" / "ude_smoke.yaml"
METRIC_KEYS = ("best_loss", "final_loss", "iterations", "failed_solves", "current_rmse", "current_max_err",
               "validation_sse", "compile_s", "train_s", "s_per_iter")


def invoke(*args):
    return _invoke("train-ude", *args)


def loss_table(run_dir: Path) -> list[dict]:
    with open(run_dir / "loss.csv", newline="") as f:
        return list(csv.DictReader(f))


FIGURES = ("loss", "fit", "current", "validation")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke run, its figures drawn by a figure worker (the CLI starts one for train-ude when a
    core idles); test_cli_writes_every_promised_file finds them."""
    from neurocli.plotting import figure_worker

    out = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(figure_worker.ENV, "1")
        handed = figures_handed_to_worker(mp)
        assert figure_worker.start()
        result, run_dir = invoke("--config", SMOKE, "--output-root", out)
    assert result.exit_code == 0, result.output
    assert sorted(handed) == sorted(FIGURES) and not figure_worker.active()
    return out, run_dir


def test_cli_writes_every_promised_file(smoke_run):
    _, run_dir = smoke_run
    for name in ("config.yaml", "run.json", "metrics.json", "loss.csv", "fit.csv", "current.csv", "validation.csv",
                 "checkpoints/latest.eqx", "checkpoints/best.eqx", "figures/loss.pdf", "figures/fit.pdf",
                 "figures/current.pdf", "figures/validation.pdf"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(METRIC_KEYS) <= set(metrics)
    assert metrics["iterations"] == 16 and metrics["failed_solves"] == 0
    rows = loss_table(run_dir)
    assert list(rows[0]) == ["step", "phase", "optimizer", "loss", "grad_norm", "lr", "wall_s", "rejected"]
    assert [int(r["step"]) for r in rows] == list(range(16))
    assert {r["optimizer"] for r in rows} == {"adam", "lbfgs", "levenberg_marquardt"}
    assert min(float(r["loss"]) for r in rows) == pytest.approx(metrics["best_loss"], rel=1e-12) or \
        metrics["best_loss"] <= min(float(r["loss"]) for r in rows)


def test_same_config_twice_gives_the_same_loss_csv(smoke_run):
    out, first = smoke_run
    result, second = invoke("--config", SMOKE, "--output-root", out)
    assert result.exit_code == 0 and second != first
    a, b = loss_table(first), loss_table(second)
    for row in a + b:
        row.pop("wall_s")  # the only column that is a measurement of the machine
    assert a == b


def test_checkpoint_of_another_network_shape_is_refused(smoke_run):
    out, run_dir = smoke_run
    result, _ = invoke("--config", SMOKE, "--output-root", out, "--set", "ude.network.width=7",
                       "--set", f"ude.network.init_from={run_dir / 'checkpoints' / 'best.eqx'}")
    assert result.exit_code == 2
    assert "ude.network.init_from" in result.output and "'width': 6" in result.output and "'width': 7" in result.output


def test_failing_solves_fail_the_run_with_exit_1(tmp_path):
    result, run_dir = invoke("--config", SMOKE, "--output-root", tmp_path, "--set", "ude.network.output_scale=1.0e7",
                             "--set", "ude.network.final_layer_scale=1.0", "--set", "solve.solver.max_steps=200",
                             "--set", "train.max_consecutive_failures=3",
                             # the run fails in its first phase: no later phase to compile (in the background)
                             "--set", "train.phases=[{optimizer: adam, iterations: 8, lr: 0.01, schedule: cosine, "
                                      "final_lr: 1.0e-3}]")
    assert result.exit_code == 1
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "3 steps in a row rejected" in info["error"]
    assert [r["rejected"] for r in loss_table(run_dir)] == ["1", "1", "1"]
    assert (run_dir / "figures" / "loss.pdf").is_file() and (run_dir / "checkpoints" / "latest.eqx").is_file()


@pytest.mark.slow
def test_sigint_then_resume_reaches_the_uninterrupted_loss(smoke_run, tmp_path):
    """A real SIGINT to a real process: exit 130, status interrupted, then --resume finishes the run."""
    longer = ["--set", "train.phases=[{optimizer: adam, iterations: 150, lr: 0.01, schedule: cosine, final_lr: 0.001},"
                       " {optimizer: lbfgs, iterations: 4}]", "--set", "train.checkpoint_every=5"]
    result, reference = invoke("--config", SMOKE, "--output-root", tmp_path / "ref", *longer)
    assert result.exit_code == 0, result.output
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "neurocli", "train-ude", "--config", str(SMOKE), "--output-root", str(tmp_path / "int"),
           *longer]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 300
    ckpts = []
    while time.monotonic() < deadline and proc.poll() is None and not ckpts:
        time.sleep(0.2)
        ckpts = list((tmp_path / "int").glob("train-ude/*/checkpoints/latest.eqx"))
    assert ckpts, "no checkpoint appeared"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    run_dir = Path(stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    done = len(loss_table(run_dir))
    assert 0 < done < 154
    result, resumed = invoke("--resume", run_dir)
    assert result.exit_code == 0, result.output
    assert resumed == run_dir
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    final = json.loads((run_dir / "metrics.json").read_text())["final_loss"]
    want = json.loads((reference / "metrics.json").read_text())["final_loss"]
    assert final == pytest.approx(want, rel=1e-8)
    assert [r["loss"] for r in loss_table(run_dir)] == [r["loss"] for r in loss_table(reference)]
