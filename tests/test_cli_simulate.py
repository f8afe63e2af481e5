"""`neurocli simulate` end to end: every file RUNS.md promises, reruns, sweeps, sharding."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from neurocli.cli import app

HH = {
    "model": {"name": "hh"},
    "stimulus": {"kind": "pulse", "start": 2.0, "duration": 1.0, "amplitude": 20.0},
    "time": {"t0": 0.0, "t1": 15.0, "save_every": 0.05},
    "solver": {"name": "tsit5", "rtol": 1e-8, "atol": 1e-8},
}
NEURON_KEYS = {"spike_count", "spike_times_ms", "peak_V_mV", "min_V_mV", "num_steps",
               "num_rejected_steps", "compile_s", "run_s"}
TIMINGS = {"compile_s", "run_s"}


def run_cli(tmp_path: Path, cfg: dict, *extra: str, name="cfg") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path / "out"), *extra])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    assert run.is_dir() and run.parent == tmp_path / "out" / "simulate"
    return run


def test_single_neuron_run_writes_every_promised_file(tmp_path):
    run = run_cli(tmp_path, HH)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["command"] == "simulate"
    assert {"python", "jax", "diffrax", "equinox", "optax", "numpy"} <= set(info["versions"])
    assert info["jax_backend"] == "cpu" and info["devices"] and info["started"] and info["finished"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert NEURON_KEYS <= set(metrics)
    assert metrics["spike_count"] == 1 and 35 < metrics["peak_V_mV"] < 45
    header = (run / "trajectory.csv").read_text().splitlines()[0]
    assert header == "t,V,m,h,n"
    assert {p.name for p in (run / "figures").glob("*.pdf")} == {"voltage.pdf", "states.pdf"}

    # the resolved config reruns to the same metrics
    rerun = run_cli(tmp_path, yaml.safe_load((run / "config.yaml").read_text()), name="rerun")
    again = json.loads((rerun / "metrics.json").read_text())
    assert {k: v for k, v in again.items() if k not in TIMINGS} == {k: v for k, v in metrics.items() if k not in TIMINGS}
    assert rerun != run  # two runs in the same second get distinct directories


def test_overrides_are_applied_and_recorded(tmp_path):
    run = run_cli(tmp_path, HH, "--set", "stimulus.amplitude=2", "--set", "solver.rtol=1e-9", "--name", "weak")
    assert run.name.endswith("_weak")
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["stimulus"]["amplitude"] == 2.0 and resolved["solver"]["rtol"] == 1e-9
    assert json.loads((run / "metrics.json").read_text())["spike_count"] == 0


def test_sweep_runs_members_in_one_solve(tmp_path):
    cfg = {**HH, "sweep": {"parameter": "stimulus.amplitude", "values": [2.0, 20.0, 40.0]}}
    run = run_cli(tmp_path, cfg)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["swept"] == "stimulus.amplitude" and metrics["values"] == [2.0, 20.0, 40.0]
    assert metrics["spike_count"] == [0, 1, 1] and len(metrics["firing_rate_hz"]) == 3
    lines = (run / "trajectory.csv").read_text().splitlines()
    assert lines[0] == "member,stimulus.amplitude,t,V,m,h,n"
    assert len(lines) == 1 + 3 * 301
    assert (run / "figures" / "rate_curve.pdf").is_file()


def test_two_dimensional_model_gets_a_phase_plane(tmp_path):
    cfg = {**HH, "model": {"name": "hh_reduced"}, "initial_state": {"V": -65.0, "n": 0.3177}}
    run = run_cli(tmp_path, cfg)
    assert (run / "figures" / "phase_plane.pdf").is_file()
    assert (run / "trajectory.csv").read_text().splitlines()[0] == "t,V,n"


def test_pde_run_writes_solution_npz(tmp_path):
    cfg = {"model": {"name": "reaction_diffusion", "nx": 41, "boundary": "neumann"},
           "time": {"t0": 0.0, "t1": 0.2, "save_every": 0.05},
           "solver": {"name": "kencarp4", "rtol": 1e-6, "atol": 1e-6},
           "sweep": {"parameter": "model.a", "values": [0.1, 0.3]}}
    run = run_cli(tmp_path, cfg)
    sol = np.load(run / "solution.npz")
    assert sol["t"].shape == (5,) and sol["x"].shape == (41,) and sol["u"].shape == (2, 5, 41)
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"nx", "nt", "num_steps", "compile_s", "run_s", "u_min", "u_max"} <= set(metrics)
    assert metrics["u_max"] == float(sol["u"].max())
    members = np.loadtxt(run / "members.csv", delimiter=",", skiprows=1)
    assert (run / "members.csv").read_text().startswith("model.a,u_min,u_max,front_speed,excited_fraction,num_steps,num_rejected_steps\n")
    np.testing.assert_array_equal(members[:, 2], sol["u"].max(axis=(1, 2)))
    np.testing.assert_array_equal(sol["member"], [0, 1])


def test_failed_solve_exits_1_with_the_reason(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({**HH, "solver": {**HH["solver"], "max_steps": 5}}))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "maximum number of solver steps" in result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_sweep_sharded_over_two_devices_matches_one_device(tmp_path):
    cfg = {**HH, "sweep": {"parameter": "stimulus.amplitude", "values": [5.0, 10.0, 20.0]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))

    def run(devices: int) -> Path:
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        proc = subprocess.run([sys.executable, "-m", "neurocli", "simulate", "--config", str(path),
                               "--output-root", str(tmp_path / f"out{devices}")],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return Path(proc.stdout.strip().splitlines()[-1])

    one, two = run(1), run(2)
    assert len(json.loads((two / "run.json").read_text())["devices"]) == 2
    m1, m2 = (json.loads((r / "metrics.json").read_text()) for r in (one, two))
    np.testing.assert_allclose(m2["peak_V_mV"], m1["peak_V_mV"], rtol=1e-10)
    assert m2["spike_count"] == m1["spike_count"]
