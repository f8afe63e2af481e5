"""The figure worker (neurocli.plotting.figure_worker): it draws the same PDF files as this
process would, a figure it fails to draw fails the run (exit 1, the reason named), and figures
are drawn here when it cannot start or dies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import figures_handed_to_worker
from neurocli.plotting import figure_worker
from neurocli.plotting import neuron as neuron_plots
from neurocli.run_dir import RunDirectory

from conftest import CONFIGS, invoke, spawn


@pytest.fixture(autouse=True)
def _no_worker_left(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # matplotlib: PDFs without a creation date, comparable
    monkeypatch.setenv(figure_worker.ENV, "1")  # whatever the machine's load
    yield
    figure_worker.abandon()


def _run(tmp_path: Path, name: str) -> RunDirectory:
    return RunDirectory.create(tmp_path, "simulate", name, ["test"], 0)


def _figures(t):
    v = -65.0 + 100.0 * np.exp(-((t - 12.0) ** 2))
    current = np.where((t >= 10.0) & (t < 11.0), 20.0, 0.0)
    gates = np.column_stack([np.sin(t) ** 2, np.cos(t) ** 2, 0.5 + 0.0 * t])
    return [("voltage", neuron_plots.voltage_trace, (t, v, current), {"v_unit": "mV"}),
            ("states", neuron_plots.state_variables, (t, gates, ["m", "h", "n"]), {"t_unit": "ms"})]


def test_worker_draws_the_same_files_as_this_process(tmp_path):
    t = np.linspace(0.0, 50.0, 5001)
    here, there = _run(tmp_path, "here"), _run(tmp_path, "there")
    for name, draw, args, kwargs in _figures(t):
        figure_worker.save(here, name, draw, *args, **kwargs)  # no worker: drawn in this process
    assert figure_worker.start() and figure_worker.active()
    for name, draw, args, kwargs in _figures(t):
        figure_worker.save(there, name, draw, *args, **kwargs)
    tmp = Path(figure_worker._state["worker"].tmp)
    figure_worker.wait()
    assert not figure_worker.active() and not tmp.exists()  # the hand-over files are gone
    for name in ("voltage", "states"):
        a, b = here.read_bytes(f"figures/{name}.pdf"), there.read_bytes(f"figures/{name}.pdf")
        assert a.startswith(b"%PDF") and a == b
    assert not list(there.path.rglob("*.tmp"))


def test_a_figure_the_worker_cannot_draw_raises_with_the_reason(tmp_path):
    run = _run(tmp_path, "bad")
    t = np.linspace(0.0, 1.0, 11)
    assert figure_worker.start()
    figure_worker.save(run, "voltage", neuron_plots.voltage_trace, t, t[:5], t)  # shapes do not match
    figure_worker.save(run, "states", neuron_plots.state_variables, t, t[:, None], ["m"])
    with pytest.raises(figure_worker.FigureError, match="figure voltage: ValueError"):
        figure_worker.wait()
    assert run.file("figures/states.pdf").is_file() and not run.file("figures/voltage.pdf").exists()


def test_figures_are_drawn_here_when_the_worker_dies(tmp_path):
    run = _run(tmp_path, "died")
    t = np.linspace(0.0, 1.0, 11)
    assert figure_worker.start()
    worker = figure_worker._state["worker"]
    worker.proc.kill()
    worker.proc.wait()
    for name, draw, args, kwargs in _figures(t):
        figure_worker.save(run, name, draw, *args, **kwargs)
    figure_worker.wait()
    assert run.file("figures/voltage.pdf").is_file() and run.file("figures/states.pdf").is_file()


def test_figures_are_drawn_here_when_the_worker_cannot_start(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert not figure_worker.start() and not figure_worker.active()
    run = _run(tmp_path, "nostart")
    for name, draw, args, kwargs in _figures(np.linspace(0.0, 1.0, 11)):
        figure_worker.save(run, name, draw, *args, **kwargs)
    figure_worker.wait()
    assert run.file("figures/voltage.pdf").is_file() and run.file("figures/states.pdf").is_file()


def test_a_worker_given_no_figure_leaves_no_temporary_directory(tmp_path):
    assert figure_worker.start()
    assert figure_worker._state["worker"].tmp is None
    figure_worker.wait()  # no figures: stopped, not waited for
    assert not figure_worker.active()


def test_disabled_by_the_environment(monkeypatch):
    monkeypatch.setenv(figure_worker.ENV, "0")
    assert not figure_worker.start() and not figure_worker.active()


@pytest.mark.parametrize("setting", [None, "auto"])
def test_by_default_only_when_a_core_idles(monkeypatch, setting):
    if setting is None:
        monkeypatch.delenv(figure_worker.ENV)
    else:
        monkeypatch.setenv(figure_worker.ENV, setting)
    runnable_others = figure_worker._runnable_others  # the real count, before any stand-in
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(figure_worker, "_runnable_others", lambda: 0)
    monkeypatch.setattr("os.getloadavg", lambda: (4.5, 4.0, 3.0))  # other work keeps both cores busy
    assert not figure_worker.enabled()
    monkeypatch.setattr("os.getloadavg", lambda: (2.0, 0.5, 0.5))  # both cores busy all minute
    assert not figure_worker.enabled()
    for load in (1.1, 1.8):  # this run's predecessors, one after another
        monkeypatch.setattr("os.getloadavg", lambda load=load: (load, 0.5, 0.5))
        assert figure_worker.enabled()
    monkeypatch.setattr(figure_worker, "_runnable_others", lambda: 1)  # another task running now
    assert not figure_worker.enabled()
    monkeypatch.setattr(figure_worker, "_runnable_others", lambda: 0)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # one core: nothing to overlap with
    assert not figure_worker.enabled()
    import io

    for text, others in (("0.50 0.40 0.30 3/200 12345\n", 2), ("0.1 0.1 0.1 1/100 5\n", 0), ("garbled\n", 0)):
        monkeypatch.setattr(figure_worker, "open", lambda path, text=text: io.StringIO(text), raising=False)
        assert runnable_others() == others  # /proc/loadavg's running tasks, less this one


def test_a_figure_failure_in_the_worker_fails_the_run(tmp_path, monkeypatch):
    """Through the runner: exit 1, status failed, the figure named in run.json's error."""
    monkeypatch.setattr(neuron_plots, "voltage_trace", neuron_plots.state_variables)  # wrong arguments
    assert figure_worker.start()
    result, run_dir = invoke("simulate", "--config", CONFIGS / "hh_pulse.yaml", "--output-root", tmp_path,
                             "--set", "time.t1=5.0")
    assert result.exit_code == 1, result.output
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "figure voltage: TypeError" in info["error"]
    assert not figure_worker.active()


@pytest.mark.slow
def test_the_cli_process_draws_its_figures_in_the_worker(tmp_path, monkeypatch):
    """A real `neurocli simulate` (worker on) and one with NEUROCLI_FIGURE_WORKER=0 leave the same
    files; every figure exists when the process has exited."""
    dirs = []
    for value in ("1", "0"):
        monkeypatch.setenv(figure_worker.ENV, value)
        proc = spawn("simulate", "--config", CONFIGS / "hh_pulse.yaml", "--output-root", tmp_path / value)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        dirs.append(Path(out.strip().splitlines()[-1]))
    for name in ("voltage", "states"):
        assert (dirs[0] / "figures" / f"{name}.pdf").read_bytes() == (dirs[1] / "figures" / f"{name}.pdf").read_bytes()
    assert yaml.safe_load((dirs[0] / "run.json").read_text())["status"] == "completed"
    assert not list(tmp_path.rglob("*.tmp"))


HH = {"model": {"name": "hh"}, "stimulus": {"kind": "pulse", "start": 1.0, "duration": 1.0, "amplitude": 20.0},
      "time": {"t0": 0.0, "t1": 3.0, "save_every": 0.01}, "solver": {"name": "tsit5", "rtol": 1e-8, "atol": 1e-8}}


@pytest.mark.parametrize("cfg, figures", [
    ({**HH, "sweep": {"parameter": "stimulus.amplitude", "values": [2.0, 20.0]}}, {"voltage", "states", "rate_curve"}),
    ({**HH, "model": {"name": "hh_reduced"}, "initial_state": {"V": -65.0, "n": 0.3177}},
     {"voltage", "states", "phase_plane"}),
    ({"model": {"name": "reaction_diffusion", "nx": 41, "boundary": "neumann"},
      "time": {"t0": 0.0, "t1": 0.2, "save_every": 0.05}, "solver": {"name": "kencarp4", "rtol": 1e-6, "atol": 1e-6},
      "sweep": {"parameter": "model.a", "values": [0.1, 0.3]}}, {"heatmap", "profiles", "front_speed"}),
], ids=["neuron-sweep", "phase-plane", "pde-sweep"])
def test_every_simulate_figure_goes_through_the_worker(tmp_path, monkeypatch, cfg, figures):
    handed = figures_handed_to_worker(monkeypatch)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert figure_worker.start()
    result, run_dir = invoke("simulate", "--config", path, "--output-root", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert set(handed) == figures
    for name in figures:
        assert (run_dir / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_a_signal_while_waiting_stops_the_worker_and_removes_its_files(tmp_path):
    run = _run(tmp_path, "interrupted")
    assert figure_worker.start()
    for name, draw, args, kwargs in _figures(np.linspace(0.0, 1.0, 11)):
        figure_worker.save(run, name, draw, *args, **kwargs)
    worker = figure_worker._state["worker"]

    class Interrupting:  # the worker's answers, read when Ctrl-C arrives
        def read(self, *args):
            raise KeyboardInterrupt

        readline = read

        def __iter__(self):
            raise KeyboardInterrupt

        def close(self):
            pass

    real_stdout, worker.proc.stdout = worker.proc.stdout, Interrupting()
    with pytest.raises(KeyboardInterrupt):
        figure_worker.wait()
    real_stdout.close()
    assert not figure_worker.active() and worker.proc.poll() is not None and not Path(worker.tmp).exists()


def test_figures_handed_at_once_are_drawn_by_two_processes(tmp_path):
    """On two or more cores the worker forks a second drawer: four figures handed over together
    are shared between the two, and each file is the one this process draws."""
    from neurocli import runtime

    if runtime.cpu_cores() < 2:
        pytest.skip("one core: the worker draws alone")
    t = np.linspace(0.0, 50.0, 2001)
    here, there = _run(tmp_path, "here"), _run(tmp_path, "there")
    figures = _figures(t) + [(f"{name}_again", draw, args, kwargs) for name, draw, args, kwargs in _figures(t)]
    assert figure_worker.start()
    worker = figure_worker._state["worker"]
    for name, draw, args, kwargs in figures:
        figure_worker.save(there, name, draw, *args, **kwargs)
    figure_worker.wait()
    pids = set(worker.drawn_by.values())
    assert len(worker.drawn_by) == 4 and len(pids) == 2 and worker.proc.pid in pids
    for name, draw, args, kwargs in figures:
        here.save_figure(name, draw(*args, **kwargs))
        assert there.read_bytes(f"figures/{name}.pdf") == here.read_bytes(f"figures/{name}.pdf")
