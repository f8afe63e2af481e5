"""`neurocli train-pinn` end to end (CliRunner into tmp_path): every promised file, an interrupt
that leaves a resumable run, and the resume that finishes it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import CONFIGS, invoke
from pinn_helpers import keep_global_jax_state  # noqa: F401 (autouse fixture)

FAST = ["--set", "output.nx=16", "--set", "output.nt=16", "--set", "reference.nx=61"]
FIGURES = ("heatmaps", "heatmaps_reference", "heatmaps_error", "profiles", "loss")


def _run(args):
    return invoke(*args)


@pytest.mark.slow
def test_smoke_run_writes_every_promised_file(tmp_path, monkeypatch):
    from neurocli.plotting import figure_worker

    monkeypatch.setenv(figure_worker.ENV, "1")
    assert figure_worker.start()  # as the CLI starts it when a core idles: the figures are drawn there
    result, run = _run(["train-pinn", "--config", str(CONFIGS / "pinn_smoke.yaml"), *FAST, "--output-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert run.parent == tmp_path / "train-pinn" and run.name.endswith("_pinn_smoke")
    for name in ("config.yaml", "run.json", "metrics.json", "loss.csv", "predictions.npz", "reference.npz",
                 "checkpoints/latest.eqx", "checkpoints/best.eqx", *(f"figures/{f}.pdf" for f in FIGURES)):
        assert (run / name).is_file(), name
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["command"] == "train-pinn"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["output"]["nx"] == 16 and cfg["runtime"]["precision"] == "float32"

    m = json.loads((run / "metrics.json").read_text())
    assert [e["a"] for e in m["members"]] == [0.1, 0.3]
    for e in m["members"]:
        assert {"a", "final_loss", "rel_l2", "max_abs_err", "rel_l2_T"} <= e.keys()
        assert 0 < e["rel_l2"] < 1 and np.isfinite(e["final_loss"])
    for key in ("compile_s", "train_s", "s_per_step"):
        assert m[key] > 0
    assert m["steps"] == 65 and m["reference_boundary"] == "dirichlet"

    pred, ref = np.load(run / "predictions.npz"), np.load(run / "reference.npz")
    for f in (pred, ref):
        assert f["t"].shape == (16,) and f["x"].shape == (16,) and f["u"].shape == (2, 16, 16)
        np.testing.assert_allclose(f["a"], [0.1, 0.3])
    np.testing.assert_allclose(pred["u"][:, 0], ref["u"][:, 0], atol=1e-5)  # u(0, x) = φ(x), exactly by construction
    # the metrics are those of the files
    err = np.sqrt(((pred["u"] - ref["u"]) ** 2).sum(axis=(1, 2)) / (ref["u"] ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(err, [e["rel_l2"] for e in m["members"]], rtol=1e-6)

    rows = (run / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,member,a,loss,residual"
    assert len(rows) - 1 == 2 * (60 // 10 + 1)  # every 10th step of 60 Adam steps, and the last of L-BFGS
    assert rows[-1].startswith("65,1,0.3,")


def test_boundary_none_says_what_its_reference_is(tmp_path):
    result, run = _run(["train-pinn", "--config", str(CONFIGS / "pinn_smoke.yaml"), *FAST, "--set", "pde.boundary=none",
                        "--set", "pde.a=0.2", "--set", "phases=[{optimizer: adam, iterations: 5}]", "--output-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    m = json.loads((run / "metrics.json").read_text())
    assert m["boundary"] == "none" and m["reference_boundary"] == "neumann" and "neumann" in m["reference_note"]
    assert np.load(run / "predictions.npz")["u"].shape == (1, 16, 16)


@pytest.mark.slow  # the same contract through real signals: test_lifecycle.py's SIGINT/SIGTERM train-pinn resumes
def test_interrupt_then_resume(tmp_path, monkeypatch):
    from contextlib import contextmanager

    import neurocli.training.engine as command

    real = command.progress

    @contextmanager
    def interrupting(total, desc, start=0):
        with real(total, desc, start=start) as update:
            def wrapped(step, **fields):
                update(step, **fields)
                if step == 30:
                    raise KeyboardInterrupt
            yield wrapped

    monkeypatch.setattr(command, "progress", interrupting)
    result, run = _run(["train-pinn", "--config", str(CONFIGS / "pinn_smoke.yaml"), *FAST, "--output-root", str(tmp_path)])
    assert result.exit_code == 130, result.output
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert (run / "checkpoints/latest.eqx").is_file()
    steps = [int(r.split(",")[0]) for r in (run / "loss.csv").read_text().splitlines()[1:]]
    assert max(steps) == 30

    monkeypatch.setattr(command, "progress", real)
    result, again = _run(["train-pinn", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert again == run
    m = json.loads((run / "metrics.json").read_text())
    assert m["steps"] == 65 and m["steps_this_session"] == 35
    steps = [int(r.split(",")[0]) for r in (run / "loss.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and len(steps) == 2 * 7  # no step logged twice
