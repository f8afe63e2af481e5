"""Firing rates: undefined (null, with the reason) below two spikes in the window, never 0.0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from neurocli.cli import app
from neurocli.simulation.sweep_figures import _onset
from neurocli.analysis.spikes import voltage_summary


def _spikes_at(times, t1=50.0, dt=0.5):
    """t on a 0.5 grid and v (-10 or +10) with upward crossings at exactly `times`."""
    t = np.arange(0.0, t1 + dt / 2, dt)
    v = np.full(t.shape, -10.0)
    for s in times:  # -10 at s - dt/2, +10 at s + dt/2: crossing at s
        v[int(round((s + dt / 2) / dt))] = 10.0
    return t, v


def _summary(times, window):
    t, v = _spikes_at(times)
    return {k: np.asarray(x) for k, x in voltage_summary(t, v, 0.0, window, 4).items()}


def test_rate_is_the_inverse_mean_interval_inside_the_window():
    got = _summary([5.25, 15.25, 25.25, 35.25], (10.0, 40.0))
    np.testing.assert_allclose(got["firing_rate_hz"], 100.0, rtol=1e-12)
    assert got["spike_count"] == 4
    np.testing.assert_allclose(got["spike_times_ms"], [5.25, 15.25, 25.25, 35.25], rtol=1e-12)


def test_rate_is_undefined_below_two_spikes():
    assert np.isnan(_summary([], (0.0, 50.0))["firing_rate_hz"])
    assert np.isnan(_summary([12.25], (0.0, 50.0))["firing_rate_hz"])
    assert np.isnan(_summary([5.25, 45.25], (10.0, 40.0))["firing_rate_hz"])  # both outside the window


def test_onset_treats_undefined_rates_as_not_firing():
    assert _onset([0.0, 5.0, 10.0, 15.0], [None, None, 60.0, 70.0]) == 10.0
    assert _onset([0.0, 5.0], [None, None]) is None


def test_spike_times_interpolate_the_crossing():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    v = np.array([-10.0, 10.0, -10.0, -10.0])
    got = voltage_summary(t, v, 0.0, (0.0, 3.0), 2)
    np.testing.assert_allclose(np.asarray(got["spike_times_ms"])[:1], [0.5])
    assert np.isnan(np.asarray(got["spike_times_ms"])[1]) and int(got["spike_count"]) == 1


def test_one_spike_run_reports_null_rate_with_reason(tmp_path: Path):
    cfg = {"model": {"name": "hh"}, "stimulus": {"kind": "pulse", "start": 2.0, "duration": 1.0, "amplitude": 20.0},
           "time": {"t0": 0.0, "t1": 15.0, "save_every": 0.05}, "solver": {"name": "tsit5", "rtol": 1e-8, "atol": 1e-8}}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["spike_count"] == 1
    assert metrics["firing_rate_hz"] is None and "fewer than 2 spikes" in metrics["firing_rate_note"]
