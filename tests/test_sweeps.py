"""Sweeps at scale: the member table, analysis inside the compiled solve, chunks, members.csv,
resume, several processes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from neurocli.numerics import solve
from neurocli.cli import app
from neurocli.config.base import ConfigError, validate
from neurocli.config.simulate import SimulateConfig
from neurocli.members.file import MembersFile
from neurocli.models import HodgkinHuxley, build_stimulus
from neurocli.analysis.spikes import voltage_summary
from reference_analysis import firing_rate_hz, spike_times

HH = {
    "model": {"name": "hh"},
    "stimulus": {"kind": "step", "start": 0.0, "amplitude": 0.0},
    "time": {"t0": 0.0, "t1": 40.0, "save_every": 0.1},
    "solver": {"name": "tsit5", "rtol": 1e-7, "atol": 1e-7},
    "analysis": {"rate_window_ms": 25.0},
}


def _cfg(sweep: dict, **sections) -> SimulateConfig:
    return validate(SimulateConfig, {**HH, "sweep": sweep, **sections}, "test.yaml")


# -- the member table ---------------------------------------------------------------------------


def test_grid_zip_logspace_and_samples_tables():
    grid = _cfg({"parameters": [
        {"parameter": "model.temperature_C", "values": [6.3, 10.0]},
        {"parameter": "stimulus.amplitude", "linspace": {"start": 0.0, "stop": 2.0, "num": 3}},
    ]}).sweep
    # the first parameter varies slowest
    np.testing.assert_array_equal(grid.table(), [[6.3, 0], [6.3, 1], [6.3, 2], [10, 0], [10, 1], [10, 2]])
    assert grid.names == ["model.temperature_C", "stimulus.amplitude"] and grid.is_grid

    zipped = _cfg({"combine": "zip", "parameters": [
        {"parameter": "model.g_Na", "logspace": {"start": 10.0, "stop": 1000.0, "num": 3}},
        {"parameter": "stimulus.amplitude", "values": [1.0, 2.0, 3.0]},
    ]}).sweep
    np.testing.assert_allclose(zipped.table(), [[10, 1], [100, 2], [1000, 3]], rtol=1e-12)

    sampled = _cfg({"samples": 50, "seed": 3, "parameters": [
        {"parameter": "stimulus.amplitude", "uniform": [0.0, 20.0]},
        {"parameter": "model.g_Na", "log_uniform": [60.0, 240.0]},
    ]}).sweep
    table = sampled.table()
    assert table.shape == (50, 2)
    np.testing.assert_array_equal(table, sampled.table())  # seeded
    # Latin hypercube: exactly one member in each of the 50 strata of each parameter
    strata_a = np.floor(table[:, 0] / 20.0 * 50).astype(int)
    strata_g = np.floor(np.log(table[:, 1] / 60.0) / np.log(4.0) * 50).astype(int)
    assert sorted(strata_a) == list(range(50)) and sorted(strata_g) == list(range(50))

    one = _cfg({"parameter": "stimulus.amplitude", "linspace": {"start": 0.0, "stop": 20.0, "num": 201}}).sweep
    assert one.member_values() == [0.0 + i * 0.1 for i in range(201)]  # the original arithmetic


@pytest.mark.parametrize("sweep, key", [
    ({"parameters": [{"parameter": "stimulus.amplitude", "values": [1.0]},
                     {"parameter": "stimulus.amplitude", "values": [2.0]}]}, "sweep.parameters[1].parameter"),
    ({"parameters": [{"parameter": "model.nothing", "values": [1.0]}]}, "sweep.parameters[0].parameter"),
    ({"combine": "zip", "parameters": [{"parameter": "stimulus.amplitude", "values": [1.0, 2.0]},
                                       {"parameter": "model.g_Na", "values": [1.0]}]}, "sweep.parameters[1]"),
    ({"parameters": [{"parameter": "stimulus.amplitude", "uniform": [0.0, 1.0]}]}, "sweep.parameters[0]"),
    ({"samples": 4, "parameters": [{"parameter": "stimulus.amplitude", "values": [1.0]}]}, "sweep.parameters[0]"),
    ({"samples": 4, "parameters": [{"parameter": "model.g_Na", "log_uniform": [5.0, 1.0]}]},
     "sweep.parameters[0].log_uniform"),
    ({"parameters": [{"parameter": "model.g_Na", "logspace": {"start": 0.0, "stop": 1.0, "num": 3}}]},
     "sweep.parameters[0].logspace.start"),
    ({"parameter": "stimulus.amplitude", "values": [1.0], "samples": 3}, "sweep.samples"),
    ({"parameters": []}, "sweep.parameters"),
])
def test_bad_sweeps_name_the_key_path(sweep, key):
    with pytest.raises(ConfigError) as err:
        _cfg(sweep)
    assert [k for k, _ in err.value.problems] == [key], err.value


# -- analysis inside the compiled solve ---------------------------------------------------------


def _problem():
    return solve.Problem(HodgkinHuxley(), build_stimulus(validate(SimulateConfig, HH, "x").stimulus))


def test_in_solve_spike_analysis_equals_numpy_on_the_same_trajectory():
    ts = np.arange(0.0, 40.0 + 1e-9, 0.1)
    amplitudes = np.array([0.0, 4.0, 7.0, 12.0, 30.0])
    out = solve.run_solve(_problem(), solve.SolveSpec(validate(SimulateConfig, HH, "x").solver, 0.0, 40.0, ts, (0.0,)),
                          "stimulus.amplitude", amplitudes)
    v = out.ys[:, :, 0]
    window = (15.0, 40.0)
    summary = jax.vmap(lambda vv: voltage_summary(jnp.asarray(ts), vv, 0.0, window, 4))(jnp.asarray(v))
    got = {k: np.asarray(a) for k, a in summary.items()}
    for i in range(len(amplitudes)):
        times = spike_times(ts, v[i], 0.0)
        assert got["spike_count"][i] == times.size
        k = min(4, times.size)
        np.testing.assert_allclose(got["spike_times_ms"][i, :k], times[:k], rtol=0, atol=1e-12)
        assert np.isnan(got["spike_times_ms"][i, k:]).all()
        expected = firing_rate_hz(times, window)  # None: fewer than 2 spikes in the window
        if expected is None:
            assert np.isnan(got["firing_rate_hz"][i])
        else:
            assert abs(got["firing_rate_hz"][i] - expected) < 1e-9
        assert got["peak_V_mV"][i] == v[i].max() and got["min_V_mV"][i] == v[i].min()
    assert got["spike_count"][0] == 0 and got["spike_count"][-1] >= 3 and got["firing_rate_hz"][-1] > 50


@pytest.fixture
def own_programs(tmp_path, monkeypatch):
    """An empty program directory for this test: its cache outcomes and trace counts are those of
    a cold cache whatever earlier runs stored (the JAX compilation cache stays shared)."""
    from neurocli.numerics import program_cache

    monkeypatch.setattr(program_cache, "program_dir", lambda: tmp_path / "programs")


def test_chunks_equal_one_solve_and_compile_once(own_programs):
    cfg = _cfg({"parameter": "stimulus.amplitude", "values": [0.0, 3.0, 7.0, 10.0, 25.0]})
    from neurocli.simulation.sweep import chunk_analysis

    problem = _problem()
    save, analyse, _ = chunk_analysis(cfg, problem)
    spec = solve.SolveSpec(cfg.solver, 0.0, 40.0, cfg.time.grid, (0.0,), save=save)
    table = cfg.sweep.table()

    traces = []

    def counted(ts, saved, member):  # called once per trace of the chunk function
        traces.append(len(ts))
        return analyse(ts, saved, member)

    def collect(chunk):
        got = {}
        times = solve.run_chunks(problem, spec, cfg.sweep.names, table, counted, solve.ChunkPlan(5, chunk),
                                 lambda i, a, b, out: got.setdefault(i, out))
        merged = {k: np.concatenate([got[i][k] for i in sorted(got)]) for k in got[0]}
        return merged, times

    whole, _ = collect(5)
    before = len(traces)
    chunked, times = collect(2)  # chunks of 2, 2, 1 (the last padded)
    assert times.chunks_run == 3 and times.cache_status == "miss"
    assert len(traces) - before == 1  # one trace served all three chunks
    for key in whole:
        np.testing.assert_array_equal(chunked[key], whole[key], err_msg=key)
    assert whole["spike_count"].tolist()[0] == 0 and whole["spike_count"][-1] > 3


def test_which_parameter_a_sweep_moves_is_an_input_of_its_program(own_programs):
    """solve.swept_slots: a sweep of the stimulus amplitude and one of g_Na (the same model, members
    and grid) run one compiled solve, traced once; each member's numbers are those of the program
    that builds it with set_fields (the paths inside the program), to the bit."""
    from neurocli.simulation.problem import build_problem
    from neurocli.simulation.sweep import chunk_analysis

    cfg = _cfg({"parameter": "stimulus.amplitude", "values": [0.0, 1.0]})
    problem = build_problem(cfg)
    save, analyse, _ = chunk_analysis(cfg, problem)
    spec = solve.SolveSpec(cfg.solver, 0.0, 40.0, cfg.time.grid, (0.0,), save=save)

    def sweep(path, values):
        got = {}
        times = solve.run_chunks(problem, spec, [path], np.asarray(values)[:, None], analyse, solve.ChunkPlan(2, 2),
                                 lambda i, a, b, out: got.update(out))
        return got, times

    amplitude, first = sweep("stimulus.amplitude", [0.0, 25.0])
    g_na, second = sweep("model.g_Na", [100.0, 140.0])
    assert first.cache_status == "miss" and second.cache_status == "hit"  # not traced: the first sweep's program (a miss were it its own)
    assert amplitude["spike_count"].tolist()[0] == 0 and amplitude["spike_count"][1] > 3
    assert not np.array_equal(g_na["peak_V_mV"], amplitude["peak_V_mV"])
    with pytest.MonkeyPatch.context() as patch:  # the path inside the program, as before swept_slots
        patch.setattr(solve, "swept_slots", lambda *args: None)
        inside, _ = sweep("model.g_Na", [100.0, 140.0])
    for key in g_na:
        np.testing.assert_array_equal(g_na[key], inside[key], err_msg=key)


def test_swept_slots_name_the_scalar_leaf_of_each_path_or_give_up():
    from neurocli.simulation.problem import build_problem

    import equinox as eqx

    problem = build_problem(_cfg({"parameter": "stimulus.amplitude", "values": [0.0, 1.0]}))
    dynamic, _ = eqx.partition(problem, eqx.is_array)
    leaves = jax.tree_util.tree_leaves(dynamic)
    scalars, where = solve.swept_slots(dynamic, ["model.g_Na", ("stimulus", "amplitude"), None], jnp.float64)
    assert float(leaves[scalars[where[0]]]) == float(problem.model.g_Na)
    assert float(leaves[scalars[where[1]]]) == float(problem.stimulus.amplitude)
    assert where[2] == len(scalars) and where[0] != where[1]  # no field: written nowhere (a final time)
    for paths in (["model"], ["model.nope"], ["model.g_Na", "model.g_Na"]):  # no scalar leaf, twice
        assert solve.swept_slots(dynamic, paths, jnp.float64) is None, paths
    assert solve.swept_slots(dynamic, ["model.g_Na"], jnp.float32) is None  # rows of another dtype
    weak = eqx.tree_at(lambda p: p.model.g_K, dynamic, jnp.asarray(36.0))  # from a Python float: weakly typed
    assert jnp.asarray(36.0).weak_type
    assert solve.swept_slots(weak, ["model.g_Na"], jnp.float64) is None  # its rewritten copy would be strong


@pytest.mark.slow
def test_rates_within_0p01_hz_of_a_tight_reference():
    """The f–I settings (tsit5 1e-7, V every 0.1 ms, rate from interpolated crossings) against
    rtol = atol = 1e-11 and V every 0.01 ms, on 300 ms (rate over the last 200 ms)."""
    amplitudes = [7.0, 10.0, 15.0, 20.0]

    def rates(tol, every):
        cfg = _cfg({"parameter": "stimulus.amplitude", "values": amplitudes},
                   time={"t0": 0.0, "t1": 300.0, "save_every": every},
                   solver={"name": "tsit5", "rtol": tol, "atol": tol}, analysis={"rate_window_ms": 200.0})
        from neurocli.simulation.sweep import chunk_analysis

        save, analyse, _ = chunk_analysis(cfg, _problem())
        spec = solve.SolveSpec(cfg.solver, 0.0, 300.0, cfg.time.grid, (0.0,), save=save)
        got = {}
        solve.run_chunks(_problem(), spec, cfg.sweep.names, cfg.sweep.table(), analyse, solve.ChunkPlan(4, 4),
                         lambda i, a, b, out: got.update(out))
        return got["firing_rate_hz"]

    fast, reference = rates(1e-7, 0.1), rates(1e-11, 0.01)
    assert (reference > 50).all()
    np.testing.assert_allclose(fast, reference, rtol=0, atol=0.01)


# -- the command: members.csv, figures, resume ------------------------------------------------------

GRID = {"parameters": [
    {"parameter": "model.temperature_C", "values": [6.3, 18.0]},
    {"parameter": "stimulus.amplitude", "values": [0.0, 5.0, 12.0]},
]}


def _run(tmp_path, cfg, *extra, code=0, name="cfg"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path / "out"), *extra])
    assert result.exit_code == code, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def _cut(tmp_path, monkeypatch, cfg, after_chunk: int, name="cut") -> Path:
    """A run of cfg interrupted (exit 130) right after chunk `after_chunk` was written."""
    append = MembersFile.append

    def interrupt(self, index, rows):
        append(self, index, rows)
        if index == after_chunk:
            raise KeyboardInterrupt

    monkeypatch.setattr(MembersFile, "append", interrupt)
    run = _run(tmp_path, cfg, code=130, name=name)
    monkeypatch.undo()
    return run


def test_two_parameter_grid_writes_members_csv_maps_and_kept_trajectories(tmp_path):
    cfg = {**HH, "sweep": GRID, "output": {"trajectory_members": 2}, "runtime": {"chunk_size": 4}}
    run = _run(tmp_path, cfg)
    lines = (run / "members.csv").read_text().splitlines()
    assert lines[0].startswith("model.temperature_C,stimulus.amplitude,spike_count,firing_rate_hz,peak_V_mV,min_V_mV,"
                               "num_steps,num_rejected_steps,spike_1_ms")
    rows = [line.split(",") for line in lines[1:]]
    assert [(float(r[0]), float(r[1])) for r in rows] == [(6.3, 0.0), (6.3, 5.0), (6.3, 12.0),
                                                          (18.0, 0.0), (18.0, 5.0), (18.0, 12.0)]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["swept"] == ["model.temperature_C", "stimulus.amplitude"] and metrics["values"][4] == [18.0, 5.0]
    assert metrics["members"] == 6 and metrics["chunks"] == 2 and metrics["chunk_size"] == 4
    assert [int(r[2]) for r in rows] == metrics["spike_count"] and metrics["spike_count"][0] == 0
    assert metrics["firing_rate_hz"][2] > 50 and metrics["firing_rate_hz"][0] is None  # no spikes: undefined
    assert metrics["firing_rate_note"].startswith("null for ")
    # trajectories of the kept members only (first and last), their spikes as the chunks counted
    traj = np.loadtxt(run / "trajectory.csv", delimiter=",", skiprows=1)
    assert sorted(set(traj[:, 0].astype(int))) == [0, 5]
    last = traj[traj[:, 0] == 5]
    assert spike_times(last[:, 3], last[:, 4], 0.0).size == metrics["spike_count"][5]
    figures = {p.name for p in (run / "figures").glob("*.pdf")}
    assert {"map_firing_rate_hz.pdf", "map_spike_count.pdf", "voltage.pdf", "states.pdf"} <= figures


@pytest.mark.slow
def test_interrupted_sweep_resumes_skipping_finished_chunks(tmp_path, monkeypatch):
    cfg = {**HH, "sweep": GRID, "runtime": {"chunk_size": 2}}
    whole = _run(tmp_path, cfg, name="whole")
    cut = _cut(tmp_path, monkeypatch, cfg, after_chunk=1)
    assert json.loads((cut / "run.json").read_text())["status"] == "interrupted"
    assert len((cut / "members.csv").read_text().splitlines()) == 1 + 4
    with open(cut / "members.csv", "a") as f:  # a crash in the middle of the next chunk's append
        f.write("18.0,0.0,1,23.4")

    result = CliRunner().invoke(app, ["simulate", "--resume", str(cut)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["chunks"] == 3 and metrics["chunks_run"] == 1
    assert (cut / "members.csv").read_text() == (whole / "members.csv").read_text()
    # kept members of the finished chunks ran again (an extra chunk, the same executable)
    assert (cut / "trajectory.csv").read_text() == (whole / "trajectory.csv").read_text()
    assert json.loads((cut / "run.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_cable_sweep_velocity_in_chunk_equals_numpy_analysis():
    """Per member, on that member's own grid: a swept length moves the velocity points with it."""
    import reference_analysis
    from neurocli.simulation.sweep import chunk_analysis
    from neurocli.models import build_model

    cfg = validate(SimulateConfig, {
        "model": {"name": "hh_cable", "nx": 41, "length_cm": 4.0},
        "stimulus": {"kind": "pulse", "start": 0.5, "duration": 0.5, "amplitude": 300.0},
        "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.02},
        "solver": {"name": "kencarp5", "rtol": 1e-6, "atol": 1e-6, "dtmax": 0.05},
        "sweep": {"combine": "zip", "parameters": [
            {"parameter": "model.diameter_um", "values": [300.0, 600.0, 300.0, 600.0]},
            {"parameter": "model.length_cm", "values": [4.0, 4.0, 6.0, 6.0]},
            {"parameter": "stimulus.amplitude", "values": [20.0, 300.0, 300.0, 300.0]}]},
    }, "cable.yaml")
    problem = solve.Problem(build_model(cfg.model), build_stimulus(cfg.stimulus))
    save, analyse, _ = chunk_analysis(cfg, problem)
    ts, table = cfg.time.grid, cfg.sweep.table()
    got = {}
    spec = solve.SolveSpec(cfg.solver, 0.0, 5.0, ts, (0.5, 1.0), save=save)
    solve.run_chunks(problem, spec, cfg.sweep.names, table, analyse, solve.ChunkPlan(4, 4),
                     lambda i, a, b, out: got.update(out))
    full = solve.run_solve(problem, solve.SolveSpec(cfg.solver, 0.0, 5.0, ts, (0.5, 1.0),
                                                    save=lambda t, y: problem.model.full_field(y)),
                           cfg.sweep.names, table)
    for i, (_, length, _) in enumerate(table):
        x = np.linspace(0.0, length, 41)
        ref = reference_analysis.analyse(ts, x, full.ys[i], rest=float(full.ys[i, 0, 20]), threshold=0.0,
                                     positions=(length / 3, 2 * length / 3), site=length / 2)
        assert got["reached_far_end"][i] == ref.reached_far_end
        assert got["spike_count"][i] == len(ref.spike_times_ms)
        np.testing.assert_allclose(got["conduction_velocity_m_per_s"][i], ref.velocity_m_per_s, rtol=1e-12)
        np.testing.assert_allclose(got["spike_half_width_ms"][i], ref.half_width_ms, rtol=1e-12)
        np.testing.assert_allclose(got["peak_V_mV"][i], ref.peak_V_mV, rtol=1e-12)
    velocity = got["conduction_velocity_m_per_s"]
    assert got["reached_far_end"].tolist() == [False, True, True, True]
    assert velocity[3] > velocity[2] > 0  # c ∝ √d
    np.testing.assert_allclose(velocity[3], velocity[1], rtol=0.02)  # a longer axon, the same speed


# -- PDE sweeps ----------------------------------------------------------------------------------

RD = {
    "model": {"name": "reaction_diffusion", "nx": 41, "boundary": "neumann"},
    "time": {"t0": 0.0, "t1": 0.2, "save_every": 0.05},
    "solver": {"name": "kencarp4", "rtol": 1e-6, "atol": 1e-6},
    "sweep": {"parameter": "model.a", "values": [0.1, 0.2, 0.3, 0.4]},
    "output": {"trajectory_members": 3},
}


@pytest.mark.slow
def test_interrupted_pde_sweep_resumes_to_the_files_of_one_run(tmp_path, monkeypatch):
    """A PDE sweep runs in chunks like any other: a sweep cut after its second chunk resumes to the
    files of an uncut run (the kept members' u too), and chunks of 1 agree with one chunk of 4."""
    cfg = {**RD, "runtime": {"chunk_size": 1}}
    whole = _run(tmp_path, cfg, name="whole")
    cut = _cut(tmp_path, monkeypatch, cfg, after_chunk=1)
    assert len((cut / "members.csv").read_text().splitlines()) == 1 + 2
    result = CliRunner().invoke(app, ["simulate", "--resume", str(cut)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["chunks"] == 4 and metrics["chunks_run"] == 2
    assert (cut / "members.csv").read_text() == (whole / "members.csv").read_text()
    assert (cut / "members.csv").read_text().startswith(
        "model.a,u_min,u_max,front_speed,excited_fraction,num_steps,num_rejected_steps\n")
    a, b = np.load(cut / "solution.npz"), np.load(whole / "solution.npz")
    assert a["u"].shape == (3, 5, 41) and a["member"].tolist() == [0, 2, 3]  # output.trajectory_members
    np.testing.assert_allclose(a["values"][:, 0], [0.1, 0.3, 0.4])
    np.testing.assert_array_equal(a["u"], b["u"])
    wide = _run(tmp_path, {**RD, "runtime": {"chunk_size": 4}}, name="wide")
    np.testing.assert_allclose(np.load(wide / "solution.npz")["u"], a["u"], rtol=1e-12, atol=0)
    members, members_wide = (np.genfromtxt(r / "members.csv", delimiter=",", skip_header=1) for r in (cut, wide))
    np.testing.assert_allclose(members_wide, members, rtol=1e-12)
    assert metrics["u_max"] == float(a["u"].max()) and metrics["front_speed"] == [None] * 4  # t1 = 0.2: no front yet
    assert metrics["front_speed_note"].startswith("null for 4 of 4 members: u did not cross a")
    excited = members[:, 4] * 41  # a share of the 41 nodes, counted in float64
    np.testing.assert_allclose(excited, np.round(excited), rtol=0, atol=1e-12)


def test_a_swept_length_gives_each_member_its_grid(tmp_path):
    """solution.npz's x is each kept member's grid when the length is swept, and a PDE sweep keeps
    up to 12 fields unless told (every member of a small sweep, u (members, nt, nx))."""
    cfg = {**RD, "sweep": {"parameter": "model.length", "values": [2.0, 3.0, 4.0]}}
    del cfg["output"]
    run = _run(tmp_path, cfg, name="lengths")
    sol = np.load(run / "solution.npz")
    assert sol["x"].shape == (3, 41) and sol["u"].shape == (3, 5, 41)
    np.testing.assert_allclose(sol["x"][:, -1], [2.0, 3.0, 4.0])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["front_point_fractions"] == [0.7, 0.9] and "front_points" not in metrics
    assert yaml.safe_load((run / "config.yaml").read_text())["output"]["trajectory_members"] == 12


@pytest.mark.slow
def test_front_speed_approaches_mckeans_speed_as_k_grows(tmp_path):
    """The front speed measured inside the chunks against the travelling-wave speed of the step
    H, c = (1 − 2a)/√(a(1 − a)) (McKean; H_k → H as k → ∞): within 2 % at k = 200 and at least
    twice closer than at k = 50, for a = 0.15 and 0.3; a lone run measures what its member did."""
    from neurocli.analysis.front import mckean_speed

    cfg = {
        "model": {"name": "reaction_diffusion", "nx": 401, "boundary": "neumann", "length": 10.0,
                  "initial": {"kind": "sech", "centre": 1.5, "width": 0.5}},
        "time": {"t0": 0.0, "t1": 10.0, "save_every": 0.01},
        "solver": {"name": "kencarp4", "rtol": 1e-5, "atol": 1e-5},
        "analysis": {"velocity_points": [0.5, 0.8]},
    }
    grid = {"parameters": [{"parameter": "model.a", "values": [0.15, 0.3]},
                           {"parameter": "model.k", "values": [50.0, 200.0]}]}
    run = _run(tmp_path, {**cfg, "sweep": grid, "output": {"trajectory_members": 1}}, name="grid")
    metrics = json.loads((run / "metrics.json").read_text())
    speed = np.array(metrics["front_speed"]).reshape(2, 2)  # (a, k)
    error = np.abs(speed / mckean_speed(np.array([[0.15], [0.3]])) - 1)
    assert np.all(error[:, 1] < 0.02), error
    assert np.all(error[:, 1] < error[:, 0] / 2), error
    assert metrics["front_points"] == [5.0, 8.0]
    assert metrics["excited_fraction"][0] == 1.0  # a = 0.15, k = 50: the front has filled the line by t1
    figures = {p.name for p in (run / "figures").glob("*.pdf")}
    assert {"map_front_speed.pdf", "map_excited_fraction.pdf", "heatmap.pdf", "profiles.pdf"} <= figures

    lone = _run(tmp_path, {**cfg, "model": {**cfg["model"], "a": 0.3, "k": 200.0}}, name="lone")
    lone_metrics = json.loads((lone / "metrics.json").read_text())
    np.testing.assert_allclose(lone_metrics["front_speed"], speed[1, 1], rtol=1e-6)


# -- several processes --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_write_the_members_csv_of_one(tmp_path):
    cfg = {**HH, "sweep": GRID, "time": {"t0": 0.0, "t1": 25.0, "save_every": 0.1}, "runtime": {"chunk_size": 4}}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "NEUROCLI_NO_COMPILATION_CACHE": "1"}
    base = [sys.executable, "-m", "neurocli", "simulate", "--config", str(path)]
    one = subprocess.run([*base, "--output-root", str(tmp_path / "one")], capture_output=True, text=True,
                         env=env, timeout=600)
    assert one.returncode == 0, one.stderr
    port = _free_port()
    procs = [subprocess.Popen([*base, "--output-root", str(tmp_path / f"two{i}"), "--coordinator", f"127.0.0.1:{port}",
                               "--num-processes", "2", "--process-id", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    # process 0 alone writes (gloo prints its own connection lines on stdout)
    assert "simulate" not in outs[1][0] and not (tmp_path / "two1").exists()
    two = Path(outs[0][0].strip().splitlines()[-1])
    assert len(json.loads((two / "run.json").read_text())["devices"]) == 2
    single = Path(one.stdout.strip().splitlines()[-1])
    assert (two / "members.csv").read_text() == (single / "members.csv").read_text()


def _two_processes(args_of, env) -> list[tuple[int, str, str]]:
    """Runs `neurocli` as processes 0 and 1 of a two-process job; args_of(i) is process i's
    command line after `neurocli`. Returns (exit code, stdout, stderr) of each."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "neurocli", *args_of(i), "--coordinator", f"127.0.0.1:{port}",
                               "--num-processes", "2", "--process-id", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, *out) for p, out in zip(procs, outs)]


def test_a_process_that_cannot_start_stops_the_others(tmp_path):
    """Process 0 cannot make its run directory (its output root is a file): it exits 2 with the
    reason, and process 1 stops too (exit 1) instead of waiting for it in the sweep's collectives."""
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({**HH, "sweep": GRID}))
    (tmp_path / "a_file").write_text("")
    roots = [tmp_path / "a_file", tmp_path / "out"]
    env = {**os.environ, "NEUROCLI_NO_COMPILATION_CACHE": "1"}
    (code0, _, err0), (code1, _, err1) = _two_processes(
        lambda i: ["simulate", "--config", str(path), "--output-root", str(roots[i])], env)
    assert code0 == 2 and "is a file, not a directory" in err0, err0[-2000:]
    assert code1 == 1 and "another process could not start the run" in err1, err1[-2000:]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_two_processes_resume_a_sweep_one_process_began(tmp_path, monkeypatch):
    cfg = {**HH, "sweep": GRID, "runtime": {"chunk_size": 2}}
    whole = _run(tmp_path, cfg, name="whole")
    cut = _cut(tmp_path, monkeypatch, cfg, after_chunk=0)
    env = {**os.environ, "NEUROCLI_NO_COMPILATION_CACHE": "1"}
    (code0, out0, err0), (code1, out1, err1) = _two_processes(lambda i: ["simulate", "--resume", str(cut)], env)
    assert [code0, code1] == [0, 0], err0[-2000:] + err1[-2000:]
    assert out0.strip().splitlines()[-1] == str(cut) and str(cut) not in out1
    assert (cut / "members.csv").read_text() == (whole / "members.csv").read_text()
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["chunks"] == 3 and metrics["chunks_run"] == 2
    assert json.loads((cut / "run.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_a_sweep_on_two_cpu_devices_writes_the_members_csv_of_one(tmp_path):
    """runtime.cpu_devices: 2 shards each chunk over two CPU devices, each looping over its own
    members on its own core; the results are the one-device run's, byte for byte."""
    cfg = {**HH, "sweep": GRID, "time": {"t0": 0.0, "t1": 25.0, "save_every": 0.1}}
    one = _run(tmp_path, cfg, name="one")  # this process: one CPU device
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump({**cfg, "runtime": {"cpu_devices": 2}}))
    env = {**os.environ, "NEUROCLI_NO_COMPILATION_CACHE": "1"}
    two = subprocess.run([sys.executable, "-m", "neurocli", "simulate", "--config", str(path), "--output-root",
                          str(tmp_path / "two")], capture_output=True, text=True, env=env, timeout=600)
    assert two.returncode == 0, two.stderr[-2000:]
    run = Path(two.stdout.strip().splitlines()[-1])
    assert json.loads((run / "run.json").read_text())["devices"] == ["cpu:0", "cpu:1"]
    assert (run / "members.csv").read_text() == (one / "members.csv").read_text()


@pytest.mark.parametrize("requested, parallel, processes, expected", [
    (None, True, 1, "cores"), (None, False, 1, 1), (None, True, 2, 1), (3, False, 1, 3), (3, True, 2, 3),
])
def test_cpu_devices_one_per_core_for_parallel_members_of_a_lone_process(monkeypatch, requested, parallel,
                                                                        processes, expected):
    from neurocli import runtime

    want = runtime.cpu_cores() if expected == "cores" else expected
    assert runtime.cpu_devices(requested, parallel, processes) == want


def test_stimulus_edges_of_every_member_reach_the_controller():
    from neurocli.simulation.problem import jump_times

    cfg = validate(SimulateConfig, {**HH, "stimulus": {"kind": "pulse", "start": 5.0, "duration": 1.0, "amplitude": 20.0},
                                    "sweep": {"parameters": [
                                        {"parameter": "stimulus.start", "values": [2.0, 5.0]},
                                        {"parameter": "stimulus.amplitude", "linspace": {"start": 0, "stop": 20, "num": 1000}},
                                    ]}}, "x")
    assert jump_times(cfg) == (2.0, 3.0, 5.0, 6.0)
    amplitudes_only = _cfg({"parameter": "stimulus.amplitude", "values": [1.0, 2.0]})
    assert jump_times(amplitudes_only) == (0.0,)


def test_chunk_size_from_the_memory_budget():
    from neurocli.memory import GIB, budget_bytes, simulate_member_bytes

    cfg = validate(SimulateConfig, {**HH, "sweep": GRID, "runtime": {"memory_budget_gb": 0.01}}, "x")
    per_member = simulate_member_bytes(cfg)
    assert budget_bytes(cfg.runtime) == int(0.01 * GIB)
    # 40 ms at 0.1 ms, 4 states, float64: the trajectory dominates
    assert 3 * 401 * 4 * 8 < per_member < 10 * 401 * 4 * 8 * 2
    fit = int(0.01 * GIB) // per_member
    plan = solve.plan_chunks(10_000, per_member, budget_bytes(cfg.runtime))
    assert plan.count == -(-10_000 // fit) and plan.chunk <= fit  # the fewest chunks that fit …
    assert plan.chunk * plan.count - 10_000 < plan.count  # … evened out: under one padded member each
    # on 2 devices a chunk fills both: 35 members in one chunk of 36, not 34 + 34 (mostly padding)
    assert (solve.plan_chunks(35, per_member, 10**12, devices=2).chunk, solve.plan_chunks(35, 1, 10**12, devices=2).count) == (36, 1)
    assert solve.plan_chunks(35, per_member, 10**12, chunk_size=1000, devices=2).chunk == 36
    assert solve.plan_chunks(35, per_member, 10**12, chunk_size=5, devices=2).chunk == 4
    assert solve.plan_chunks(6, per_member, budget_bytes(cfg.runtime)).chunk == 6  # never more than the members
    assert solve.plan_chunks(6, per_member, budget_bytes(cfg.runtime), chunk_size=4).count == 2
    unset = validate(SimulateConfig, HH, "x").runtime
    assert 0 < budget_bytes(unset) <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def test_coordinator_without_process_count_is_a_usage_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**HH, "sweep": GRID}))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--coordinator", "127.0.0.1:1234"])
    assert result.exit_code == 2 and "--num-processes" in result.output


@pytest.mark.parametrize("damage", ["other members", "corrupt record"])
def test_a_refused_sweep_resume_leaves_the_run_untouched(tmp_path, monkeypatch, damage):
    """A resume whose progress record is another sweep's, or corrupt, is refused (exit 2) before
    anything is written: every file of the run stays byte-identical."""
    cfg = {**HH, "sweep": GRID, "runtime": {"chunk_size": 2}}
    run = _cut(tmp_path, monkeypatch, cfg, after_chunk=0)
    progress = run / "sweep_progress.json"
    record = json.loads(progress.read_text())
    if damage == "other members":
        record["members"] = 7
        progress.write_text(json.dumps(record))
    else:
        progress.write_text(progress.read_text()[:20])
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["simulate", "--resume", str(run)])
    assert result.exit_code == 2, result.output
    assert ("different sweep" if damage == "other members" else "is corrupt") in result.output
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("args, says", [
    (["--process-id", "1"], "need --coordinator"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], "expected HOST:PORT"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"], "0 <= I < N"),
])
def test_bad_distributed_options_are_usage_errors(tmp_path, args, says):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**HH, "sweep": GRID}))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), *args])
    text = " ".join(result.output.replace("│", " ").split())  # rich boxes wrap the message
    assert result.exit_code == 2 and says in text, result.output


# -- sweepable parameters: one binding entry each ------------------------------------------------


PULSE = {**HH, "stimulus": {"kind": "pulse", "start": 5.0, "duration": 1.0, "amplitude": 20.0},
         "time": {"t0": 0.0, "t1": 20.0, "save_every": 0.1}}


@pytest.mark.parametrize("parameter, values, spikes", [
    ("model.g_Na", [0.0, 120.0], [0, 1]),  # no sodium current: no action potential
    ("model.g_K", [36.0, 18.0], [1, 1]),
])
def test_conductances_are_sweepable_and_each_member_is_its_lone_run(tmp_path, parameter, values, spikes):
    """model.g_Na and model.g_K are swept through the simulate binding (problem.model.<field>):
    each member's numbers equal a lone run with that value set on the model."""
    run = _run(tmp_path, {**PULSE, "sweep": {"parameter": parameter, "values": values}}, name="sweep")
    rows = np.genfromtxt(run / "members.csv", delimiter=",", names=True)
    assert rows["spike_count"].tolist() == spikes
    for i, value in enumerate(values):
        field = parameter.split(".")[1]
        lone = _run(tmp_path, {**PULSE, "model": {"name": "hh", field: value}}, name=f"lone{i}")
        metrics = json.loads((lone / "metrics.json").read_text())
        assert metrics["spike_count"] == spikes[i]
        np.testing.assert_allclose(rows["peak_V_mV"][i], metrics["peak_V_mV"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(rows["min_V_mV"][i], metrics["min_V_mV"], rtol=0, atol=1e-6)
    assert rows["peak_V_mV"][0] != rows["peak_V_mV"][1]


@pytest.mark.parametrize("sweep, key, words", [
    ({"parameter": "model.g_Na", "values": [120.0, -1.0]}, "sweep.values[1]", "must be >= 0"),
    ({"parameter": "model.temperature_C", "linspace": {"start": 6.3, "stop": 60.0, "num": 3}}, "sweep.linspace",
     "must lie in [-20, 50]"),
    ({"parameter": "model.nx", "values": [11.0]}, "sweep.parameter", "cannot be swept in simulate"),
])
def test_swept_values_obey_the_fields_own_bounds(sweep, key, words):
    """The one sweep validator reads each field's bounds from the schema (Field(ge=0), …)."""
    with pytest.raises(ConfigError) as err:
        _cfg(sweep)
    assert [k for k, _ in err.value.problems] == [key] and words in err.value.problems[0][1], err.value
