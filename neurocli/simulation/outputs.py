"""`neurocli simulate` for one solve: the run's outputs (trajectory.csv or solution.npz, figures,
metrics) for neuron and PDE models. The problem: `neurocli.simulation.problem`; sweeps:
`neurocli.simulation.sweep`; a single cable run: `cable_outputs`."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from neurocli.analysis.front import front_speed
from neurocli.analysis.spikes import RATE_UNDEFINED, firing_rate_hz, spike_times
from neurocli.models import AbstractNeuronModel
from neurocli.numerics.solve import SolveOutput
from neurocli.plotting import figure_worker
from neurocli.plotting import neuron as neuron_plots
from neurocli.plotting import pde as pde_plots
from neurocli.run_dir import RunDirectory
from neurocli.simulation.problem import FRONT_UNDEFINED, front_nodes, phase_plane_data, rate_window


# -- neuron models ----------------------------------------------------------------------------


def neuron_outputs(cfg, problem, out: SolveOutput, run: RunDirectory) -> dict:
    """One neuron run (sweeps: neurocli/simulation/sweep.py): trajectory.csv, figures, metrics."""
    model: AbstractNeuronModel = problem.model
    names = type(model).state_names
    t, ys = out.ts, out.ys
    thr = cfg.analysis.spike_threshold_mV
    window = rate_window(cfg)
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
    i, j = front_nodes(cfg, x)
    speed = front_speed(out.ts, x, u, cfg.model.a, (x[i], x[j]))
    return {
        "nx": int(x.size),
        "nt": int(out.ts.size),
        "num_steps": int(out.num_steps),
        "num_rejected_steps": int(out.num_rejected_steps),
        "u_min": float(u.min()),
        "u_max": float(u.max()),
        "front_speed": speed,
        **({"front_speed_note": FRONT_UNDEFINED} if not np.isfinite(speed) else {}),
        "excited_fraction": float(np.mean(u[-1] >= cfg.model.a)),
        "front_points": [float(x[i]), float(x[j])],
        "compile_s": out.compile_s,
        "run_s": out.run_s,
    }
