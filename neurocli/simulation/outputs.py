"""`neurocli simulate` without a sweep: the run's outputs (trajectory.csv or solution.npz, figures,
metrics) for neuron and PDE models, read from the chunk driver's results (the run is the one-row
member table: `sweep.solve_lone`; its analysis is the sweeps' own, compiled with the solve). The
problem: `neurocli.simulation.problem`; sweeps: `neurocli.simulation.sweep`; a cable run:
`cable_outputs`."""

from __future__ import annotations

import numpy as np

from neurocli.analysis.spikes import RATE_UNDEFINED
from neurocli.models import AbstractNeuronModel
from neurocli.numerics.solve import ChunkTimes
from neurocli.plotting import figure_worker
from neurocli.plotting import neuron as neuron_plots
from neurocli.plotting import pde as pde_plots
from neurocli.run_dir import RunDirectory
from neurocli.simulation.problem import FRONT_UNDEFINED, front_nodes, phase_plane_data, rate_window


# -- neuron models ----------------------------------------------------------------------------


def neuron_outputs(cfg, problem, result: dict, times: ChunkTimes, run: RunDirectory) -> dict:
    """One neuron run (sweeps: neurocli/simulation/sweep.py): trajectory.csv, figures, metrics.
    `result`: its analysis from the chunk driver (sweep.solve_lone); `times.kept[0]`: its states."""
    model: AbstractNeuronModel = problem.model
    names = type(model).state_names
    t, ys = cfg.time.grid, times.kept[0]
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
    run.write_csv("trajectory.csv", ["t", *names], np.column_stack([t, ys]).tolist())
    spikes = result["spike_times_ms"]
    rate = float(result["firing_rate_hz"])
    return {
        "spike_count": int(result["spike_count"]),
        "spike_times_ms": spikes[np.isfinite(spikes)].tolist(),
        "peak_V_mV": float(result["peak_V_mV"]),
        "min_V_mV": float(result["min_V_mV"]),
        "firing_rate_hz": rate if np.isfinite(rate) else None,
        **({"firing_rate_note": RATE_UNDEFINED} if not np.isfinite(rate) else {}),
        "rate_window_ms": list(window),
        **_steps_and_times(result, times),
    }


def _steps_and_times(result: dict, times: ChunkTimes) -> dict:
    return {
        "num_steps": int(result["num_steps"]),
        "num_rejected_steps": int(result["num_rejected_steps"]),
        "compile_s": times.compile_s,
        "run_s": times.run_s,
    }


# -- PDE models ---------------------------------------------------------------------------------


def pde_outputs(cfg, problem, result: dict, times: ChunkTimes, run: RunDirectory) -> dict:
    """One PDE run (sweeps: neurocli/simulation/sweep.py): solution.npz, figures, metrics.
    `result`: its analysis from the chunk driver; `times.kept[0]`: u on the grid (nt, nx)."""
    model = problem.model
    x = np.asarray(model.grid())
    t, u = cfg.time.grid, times.kept[0]
    run.write_npz("solution.npz", t=t, x=x, u=u)
    label = "u (dimensionless)"
    title = f"a = {cfg.model.a:g}, k = {cfg.model.k:g}, {cfg.model.boundary}"
    figure_worker.save(run, "heatmap", pde_plots.heatmap_grid, t, x, u[None], [title], label=label)
    profile_times = np.linspace(t[0], t[-1], 5)
    figure_worker.save(run, "profiles", pde_plots.profiles, t, x, u, times=profile_times, title=title, label=label)
    i, j = front_nodes(cfg, x)
    speed = float(result["front_speed"])
    steps = _steps_and_times(result, times)
    return {
        "nx": int(x.size),
        "nt": int(t.size),
        "num_steps": steps["num_steps"],
        "num_rejected_steps": steps["num_rejected_steps"],
        "u_min": float(result["u_min"]),
        "u_max": float(result["u_max"]),
        "front_speed": speed if np.isfinite(speed) else float("nan"),
        **({"front_speed_note": FRONT_UNDEFINED} if not np.isfinite(speed) else {}),
        "excited_fraction": float(result["excited_fraction"]),
        "front_points": [float(x[i]), float(x[j])],
        "compile_s": times.compile_s,
        "run_s": times.run_s,
    }
