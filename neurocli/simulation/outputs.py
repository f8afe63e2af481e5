"""`neurocli simulate` for one solve: the problem and solve settings from a config, and the run's
outputs (trajectory.csv or solution.npz, figures, metrics) for neuron and PDE models. Sweeps:
`neurocli.simulation.sweep`; a single cable run: `cable_outputs`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.analysis.front import front_speed
from neurocli.analysis.spikes import RATE_UNDEFINED, firing_rate_hz, spike_times
from neurocli.config.base import ConfigError
from neurocli.config.models import CABLE_MODELS
from neurocli.config.simulate import SimulateConfig
from neurocli.models import AbstractNeuronModel, build_model, build_stimulus
from neurocli.numerics.solve import Problem, SolveOutput, SolveSpec
from neurocli.plotting import figure_worker
from neurocli.plotting import neuron as neuron_plots
from neurocli.plotting import pde as pde_plots
from neurocli.run_dir import RunDirectory
from neurocli.simulation import sweep


def build_problem(cfg: SimulateConfig, source: str = "config") -> Problem:
    model = build_model(cfg.model)
    stimulus = build_stimulus(cfg.stimulus)
    if not cfg.initial_state:
        return Problem(model, stimulus)
    names = type(model).state_names
    unknown = [k for k in cfg.initial_state if k not in names]
    if unknown:
        raise ConfigError(source, [(f"initial_state.{unknown[0]}", f"unknown state; expected one of {', '.join(names)}")])
    index = tuple(names.index(k) for k in cfg.initial_state)
    values = jnp.asarray(list(cfg.initial_state.values()), dtype=float)
    return Problem(model, stimulus, values, index)


def make_spec(cfg: SimulateConfig, problem: Problem) -> SolveSpec:
    tc = cfg.time
    ts = tc.grid
    # cable models: keep V only (full_field depends on the static grid size alone, so the base
    # model's method serves every sweep member)
    save = None
    if cfg.model.name in CABLE_MODELS:
        model = problem.model
        save = lambda t, y: model.full_field(y)  # noqa: E731
    return SolveSpec(cfg.solver, tc.t0, tc.t1, ts, sweep.jump_times(cfg), save=save)


# -- neuron models ----------------------------------------------------------------------------


def neuron_outputs(cfg, problem, out: SolveOutput, run: RunDirectory) -> dict:
    """One neuron run (sweeps: neurocli/simulation/sweep.py): trajectory.csv, figures, metrics."""
    model: AbstractNeuronModel = problem.model
    names = type(model).state_names
    t, ys = out.ts, out.ys
    thr = cfg.analysis.spike_threshold_mV
    window = sweep.rate_window(cfg)
    # figures first: a figure worker (neurocli.plotting.figure_worker) draws them while this
    # process writes the rest
    current = problem.stimulus.trace(t)  # NumPy: the same formula, no compile
    units = dict(v_unit=model.voltage_unit, t_unit=model.time_unit, i_unit=model.current_unit)
    figure_worker.save(run, "voltage", neuron_plots.voltage_trace, t, ys[:, 0], current, **units)
    if len(names) > 1:
        figure_worker.save(run, "states", neuron_plots.state_variables, t, ys[:, 1:], names[1:], t_unit=model.time_unit)
    if len(names) == 2:
        figure_worker.save(run, "phase_plane", neuron_plots.phase_plane, *phase_plane_data(model, ys, names),
                           x_unit=model.voltage_unit)
    spikes = spike_times(t, ys[:, 0], thr)
    run.write_csv("trajectory.csv", ["t", *names], np.column_stack([t, ys]).tolist())
    rate = firing_rate_hz(spikes, window)
    return {
        "spike_count": int(spikes.size),
        "spike_times_ms": spikes.tolist(),
        "peak_V_mV": float(ys[:, 0].max()),
        "min_V_mV": float(ys[:, 0].min()),
        "firing_rate_hz": rate,
        **({"firing_rate_note": RATE_UNDEFINED} if rate is None else {}),
        "rate_window_ms": list(window),
        "num_steps": int(out.num_steps),
        "num_rejected_steps": int(out.num_rejected_steps),
        "compile_s": out.compile_s,
        "run_s": out.run_s,
    }


def phase_plane_data(model, traj, names):
    """The arguments of neuron_plots.phase_plane (but x_unit): the trajectory, the grid, the field."""
    traj = np.asarray(traj)
    lo, hi = traj.min(axis=0), traj.max(axis=0)
    pad = 0.15 * (hi - lo) + np.array([5.0 if model.voltage_unit == "mV" else 0.3, 0.05])
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
    pts = jnp.stack([jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel())], axis=1)
    field = np.asarray(jax.vmap(lambda y: model.vector_field(0.0, y, 0.0))(pts))
    dx, dy = field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape)
    return traj, gx, gy, dx, dy, list(names)


# -- PDE models ---------------------------------------------------------------------------------


def pde_outputs(cfg, problem, out: SolveOutput, run: RunDirectory) -> dict:
    """One PDE run (sweeps: neurocli/simulation/sweep.py): solution.npz, figures, metrics."""
    model = problem.model
    x = np.asarray(model.grid())
    u = np.asarray(model.full_field(jnp.asarray(out.ys)))
    run.write_npz("solution.npz", t=out.ts, x=x, u=u)
    label = "u (dimensionless)"
    title = f"a = {cfg.model.a:g}, k = {cfg.model.k:g}, {cfg.model.boundary}"
    figure_worker.save(run, "heatmap", pde_plots.heatmap_grid, out.ts, x, u[None], [title], label=label)
    times = np.linspace(out.ts[0], out.ts[-1], 5)
    figure_worker.save(run, "profiles", pde_plots.profiles, out.ts, x, u, times=times, title=title, label=label)
    i, j = sweep.front_nodes(cfg, x)
    speed = front_speed(out.ts, x, u, cfg.model.a, (x[i], x[j]))
    return {
        "nx": int(x.size),
        "nt": int(out.ts.size),
        "num_steps": int(out.num_steps),
        "num_rejected_steps": int(out.num_rejected_steps),
        "u_min": float(u.min()),
        "u_max": float(u.max()),
        "front_speed": speed,
        **({"front_speed_note": sweep.FRONT_UNDEFINED} if not np.isfinite(speed) else {}),
        "excited_fraction": float(np.mean(u[-1] >= cfg.model.a)),
        "front_points": [float(x[i]), float(x[j])],
        "compile_s": out.compile_s,
        "run_s": out.run_s,
    }
