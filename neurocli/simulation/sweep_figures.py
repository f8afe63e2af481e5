"""Files and figures of a neuron or cable sweep from its per-member metrics and the full
trajectories of the kept members (`output.trajectory_members`)."""

from __future__ import annotations

import numpy as np

from neurocli.analysis import cable as cable_analysis
from neurocli.analysis.front import mckean_speed
from neurocli.simulation import cable_outputs
from neurocli.plotting import cable as cable_plots
from neurocli.plotting import figure_worker
from neurocli.plotting import neuron as neuron_plots
from neurocli.plotting import pde as pde_plots
from neurocli.plotting import sweeps as sweep_plots
from neurocli.members import MemberTable
from neurocli.numerics.solve import SolveOutput, set_fields
from neurocli.run_dir import RunDirectory
from neurocli.simulation.problem import front_nodes, phase_plane_data, stimulus_currents

MAPPED = {
    "firing_rate_hz": "steady firing rate (Hz)",
    "spike_count": "spike count",
    "peak_V_mV": "peak V (mV)",
    "min_V_mV": "minimum V (mV)",
    "conduction_velocity_m_per_s": "conduction velocity (m/s)",
    "spike_half_width_ms": "spike half-amplitude width (ms)",
    "front_speed": "front speed (x per unit t)",
    "excited_fraction": "share of the line with u ≥ a at t1",
}


def maps(cfg, members: MemberTable, per_member: dict, metrics: list[str], run: RunDirectory) -> None:
    """One figure per metric: heat maps over a grid of 2 or 3 parameters, a scatter otherwise.
    A dimensionless model's metrics drop the mV and ms of their labels."""
    dimensionless = cfg.model.units["voltage"] == ""
    labels = {m: MAPPED[m] if not dimensionless else
              MAPPED[m].replace(" (mV)", "").replace(" (ms)", "").replace(" (m/s)", "")
              for m in metrics}
    sweep_plots.save_maps(run, cfg.sweep, list(members.names), members.values, per_member, labels,
                          units=members.units)


def neuron(cfg, problem, traj: SolveOutput, members: MemberTable, kept, per_member: dict, run: RunDirectory) -> dict:
    names, table = members.names, members.values
    model = problem.model
    states = type(model).state_names
    t, ys = traj.ts, traj.ys  # (k, nt, state)
    header = ["member", *names, "t", *states]
    rows = np.concatenate([
        np.column_stack([np.full_like(t, i), np.tile(table[i], (t.size, 1)), t, ys[j]]) for j, i in enumerate(kept)
    ])
    run.write_csv("trajectory.csv", header, ([int(r[0]), *r[1:]] for r in rows.tolist()))

    units = dict(v_unit=model.voltage_unit, t_unit=model.time_unit, i_unit=model.current_unit)
    labels = [members.label(i) for i in kept]
    currents = stimulus_currents(problem, t, names, table[kept])
    figure_worker.save(run, "voltage", neuron_plots.voltage_traces_stacked, t, ys[:, :, 0], currents, labels, **units)
    if len(states) > 1:
        figure_worker.save(run, "states", neuron_plots.state_variables, t, ys[-1, :, 1:], states[1:],
                           t_unit=model.time_unit, title=labels[-1])
    if len(states) == 2:
        figure_worker.save(run, "phase_plane", neuron_plots.phase_plane, *phase_plane_data(model, ys[-1], states),
                           x_unit=model.voltage_unit)

    extra = {}
    rates = per_member["firing_rate_hz"]
    if len(names) == 1:
        values = table[:, 0]
        onset = _onset(values, rates)
        extra["onset_value"] = onset
        figure_worker.save(run, "rate_curve", neuron_plots.rate_curve, values, rates, names[0], onset=onset,
                           unit=members.units[0])
    else:
        maps(cfg, members, per_member, ["firing_rate_hz", "spike_count", "peak_V_mV", "min_V_mV"], run)
    return extra


def _onset(values, rates) -> float | None:
    """The smallest swept value with repetitive firing (a defined rate > 0), for monotone sweeps."""
    values, rates = np.asarray(values), np.asarray(rates, dtype=float)
    firing = values[np.nan_to_num(rates, nan=0.0) > 0]
    return float(firing.min()) if firing.size else None


def kept_grids(cfg, problem, members: MemberTable, kept) -> np.ndarray | None:
    """x of each kept member, (k, nx), where a swept length (a parameter that moves the grid)
    gives each its own grid; else None."""
    if not cfg.binding().where(members.names, "grid"):
        return None
    return np.stack([np.asarray(set_fields(problem, members.names, members.values[i]).model.grid()) for i in kept])


def write_fields(run: RunDirectory, cfg, problem, members: MemberTable, kept, t, fields) -> np.ndarray:
    """solution.npz of the kept members: t, x (nx,), or (k, nx) when the length is swept, u
    (k, nt, nx), member (k,) and values (k, parameters). Returns x."""
    table = members.values
    grids = kept_grids(cfg, problem, members, kept)
    x = np.asarray(problem.model.grid()) if grids is None else grids
    run.write_npz("solution.npz", t=t, x=x, u=fields, member=np.asarray(kept), values=table[kept])
    return x


def cable(cfg, problem, traj: SolveOutput, members: MemberTable, kept, per_member: dict, run: RunDirectory) -> dict:
    names, table = members.names, members.values
    t, V = traj.ts, traj.ys  # (k, nt, nx)
    xs = write_fields(run, cfg, problem, members, kept, t, V)
    x = xs if xs.ndim == 1 else xs[-1]  # the last kept member's grid, for its traces
    an = cfg.analysis
    length = float(x[-1])
    positions, site = cable_outputs.measuring_points(an, x)
    labels = [members.label(i) for i in kept]
    titles = [members.label(i, sep="\n") for i in kept]
    text = cable_outputs.labels(cfg.model)
    figure_worker.save(run, "heatmap", pde_plots.heatmap_grid, t, xs, V, titles, cmap="viridis", label=text["V"],
                       x_label=text["x"], t_label=text["t"])
    last = V[-1]
    figure_worker.save(run, "voltage_traces", cable_plots.voltage_at_positions, t, x, last,
                       sorted({0.0, positions[0], site, positions[1], length}), title=labels[-1], marked=positions,
                       labels=text)
    arrival = cable_analysis.arrival_times(t, last, an.spike_threshold_mV)
    figure_worker.save(run, "snapshots", cable_plots.snapshots, t, x, last, cable_outputs._snapshot_times(t, x, arrival),
                       title=labels[-1], labels=text)

    extra = cable_outputs.grid_metrics(an, t, x, positions, site)
    if xs.ndim == 2:  # the points move with each member's length: as fractions, not cm
        extra = {k: v for k, v in extra.items() if not k.endswith("_cm")}
    velocities = per_member["conduction_velocity_m_per_s"]
    if len(names) == 1:
        parameter, values = names[0], table[:, 0]
        field = parameter.split(".")[-1]
        exponent = None
        if parameter.startswith("model.") and field in cable_outputs.POWER_LAW_PARAMETERS:
            exponent = cable_analysis.power_law_exponent(values, velocities)
            extra["velocity_power_law_exponent"] = float(exponent)
        reference = None
        if parameter == "model.temperature_C" and cable_outputs._is_hh_1952_axon(cfg.model):
            reference = cable_outputs.HH_1952
        figure_worker.save(run, "velocity", cable_plots.velocity_curve, values, velocities, parameter,
                           unit=members.units[0], exponent=exponent, log=exponent is not None, reference=reference,
                           velocity_label=text["velocity"])
    else:
        maps(cfg, members, per_member, ["conduction_velocity_m_per_s", "spike_half_width_ms", "peak_V_mV"], run)
    return extra


def pde(cfg, problem, traj: SolveOutput, members: MemberTable, kept, per_member: dict, run: RunDirectory) -> dict:
    """solution.npz and heat maps of the kept members; the front speed against one swept
    parameter (with McKean's k → ∞ speed where a is swept or fixed below 1/2), or maps of it."""
    names, table = members.names, members.values
    t, u = traj.ts, traj.ys  # (k, nt, nx)
    xs = write_fields(run, cfg, problem, members, kept, t, u)
    label = "u (dimensionless)"
    titles = [members.label(i) for i in kept]
    figure_worker.save(run, "heatmap", pde_plots.heatmap_grid, t, xs, u, titles, label=label)
    figure_worker.save(run, "profiles", pde_plots.profiles, t, xs if xs.ndim == 1 else xs[-1], u[-1],
                       times=np.linspace(t[0], t[-1], 5), title=titles[-1], label=label)
    x = np.asarray(problem.model.grid())
    i, j = front_nodes(cfg, x)
    if len(names) == 1:
        values = table[:, 0]
        theory = None
        step = "step H (k → ∞): (1 − 2a)/√(a(1 − a))"
        if names[0] == "model.a" and values.min() < 0.49:
            grid = np.linspace(values.min(), min(values.max(), 0.49), 200)
            theory = (grid, mckean_speed(grid), step)
        elif names[0] == "model.k" and 0 < cfg.model.a < 0.5:
            theory = (values, np.full(values.shape, float(mckean_speed(cfg.model.a))), f"{step}, a = {cfg.model.a:g}")
        figure_worker.save(run, "front_speed", pde_plots.front_speed_curve, values, per_member["front_speed"],
                           names[0], unit=members.units[0], theory=theory)
    else:
        maps(cfg, members, per_member, ["front_speed", "excited_fraction"], run)
    points = {"front_points": [float(x[i]), float(x[j])]} if xs.ndim == 1 else {  # fractions of each length
        "front_point_fractions": [i / (x.size - 1), j / (x.size - 1)]}
    return {"nx": int(x.size), "nt": int(t.size), **points}
