"""Firing rates: undefined (null, with the reason) below two spikes in the window, never 0.0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from neurocli.cli import app
from neurocli.simulation.sweep_figures import _onset
from neurocli.analysis.spikes import firing_rate_hz, is_firing, spike_times


def test_rate_is_the_inverse_mean_interval_inside_the_window():
    assert firing_rate_hz(np.array([5.0, 15.0, 25.0, 35.0]), (10.0, 40.0)) == 100.0


def test_rate_is_undefined_below_two_spikes():
    assert firing_rate_hz(np.array([]), (0.0, 50.0)) is None
    assert firing_rate_hz(np.array([12.0]), (0.0, 50.0)) is None
    assert firing_rate_hz(np.array([5.0, 45.0]), (10.0, 40.0)) is None  # both outside the window
    assert not is_firing(None) and not is_firing(0.0) and is_firing(12.5)


def test_onset_treats_undefined_rates_as_not_firing():
    assert _onset([0.0, 5.0, 10.0, 15.0], [None, None, 60.0, 70.0]) == 10.0
    assert _onset([0.0, 5.0], [None, None]) is None


def test_spike_times_interpolate_the_crossing():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    v = np.array([-10.0, 10.0, -10.0, -10.0])
    np.testing.assert_allclose(spike_times(t, v, 0.0), [0.5])


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
