"""`simulate` outputs for cable models (hh_cable, fitzhugh_nagumo_cable): solution.npz, figures, metrics.

The solve keeps V only (`AbstractCable.full_field`): the chunk driver's kept trajectory is V (nt, nx).
Metrics follow the run contract (README): the simulate neuron keys measured at the recording point
(`analysis.recording_point`, a fraction of the length), the PDE keys nx and nt, plus
`conduction_velocity_m_per_s` between `analysis.velocity_points`, all from the compiled analysis
(`cable_analysis.summary`) a sweep's members get too. Sweeps: simulation/sweep.py and sweep_figures.py.
A dimensionless cable (FitzHugh–Nagumo) keeps the keys' names (as the neuron keys keep `_mV`): its
velocity is in length units per time unit, its points and widths in its own units.
"""

from __future__ import annotations

import numpy as np

from neurocli.analysis import cable as cable_analysis
from neurocli.config.base import field_unit
from neurocli.plotting import cable as cable_plots
from neurocli.plotting import figure_worker
from neurocli.plotting import pde as pde_plots
from neurocli.run_dir import RunDirectory
from neurocli.numerics.solve import ChunkTimes

POWER_LAW_PARAMETERS = ("diameter_um", "R_i_ohm_cm")
"""Swept parameters whose velocity curve is a power law in cable theory (c ∝ √(d / R_i))."""

HH_1952 = (18.5, 18.8, "HH 1952, computed (18.5 °C)")
"""Hodgkin & Huxley's computed velocity for the squid axon (476 µm, 35.4 Ω·cm) at 18.5 °C, m/s."""


def _is_hh_1952_axon(model_cfg) -> bool:
    """The default squid axon and membrane (the temperature free): HH 1952's computation."""
    defaults = type(model_cfg).model_fields
    keys = ("diameter_um", "R_i_ohm_cm", "C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L")
    return all(getattr(model_cfg, k) == defaults[k].default for k in keys)


def _snapshot_times(t, x, arrival, n=5):
    """Times when the wavefront (first threshold crossing) passes 10 %, 30 %, … 90 % of the
    cable; evenly spaced times if the impulse did not get there."""
    fractions = np.linspace(0.1, 0.9, n)
    idx = [cable_analysis.nearest_node(x, f * x[-1]) for f in fractions]
    times = arrival[idx]
    if np.all(np.isfinite(times)):
        return times
    return np.linspace(t[0], t[-1], n)


def labels(model_cfg) -> dict[str, str]:
    """Axis labels in the model's units (none for a dimensionless cable)."""
    u = model_cfg.units

    def unit(key):
        return f" ({u[key]})" if u[key] else ""

    v = "V" if u["voltage"] else "v"
    return {"V": f"{v}{unit('voltage')}", "x": f"x{unit('length')}", "t": f"t{unit('time')}",
            "velocity": f"conduction velocity{unit('velocity')}", "length_unit": u["length"],
            "time_unit": u["time"], "voltage": f"membrane potential {v}{unit('voltage')}"}


def title(model_cfg) -> str:
    """The model's defining parameters, as figure titles show them."""
    parts = []
    for field, symbol in model_cfg.title_fields.items():
        unit = field_unit(type(model_cfg), field) or ""
        parts.append(f"{symbol} = {getattr(model_cfg, field):g}{' ' + unit if unit else ''}")
    return ", ".join(parts)


def measuring_points(an, x: np.ndarray) -> tuple[tuple[float, float], float]:
    """(velocity points, recording site) in cm on the grid x: `analysis.velocity_points` and
    `analysis.recording_point` are fractions of the length."""
    length = float(x[-1])
    return (an.velocity_points[0] * length, an.velocity_points[1] * length), an.recording_point * length


def write(cfg, model, result: dict, times: ChunkTimes, run: RunDirectory) -> dict:
    """One cable run (sweeps: neurocli/simulation/sweep.py and sweep_figures.py): `result` is its
    analysis from the chunk driver (`cable_analysis.summary`, as a sweep's), `times.kept[0]` V."""
    x = np.asarray(model.grid())
    t, V = cfg.time.grid, times.kept[0]
    run.write_npz("solution.npz", t=t, x=x, u=V)

    an = cfg.analysis
    length = float(x[-1])
    positions, site = measuring_points(an, x)

    name, text = title(cfg.model), labels(cfg.model)
    figure_worker.save(run, "heatmap", pde_plots.heatmap_grid, t, x, V[None], [name], cmap="viridis",
                       label=text["V"], x_label=text["x"], t_label=text["t"])
    sample_at = sorted({0.0, positions[0], site, positions[1], length})
    figure_worker.save(run, "voltage_traces", cable_plots.voltage_at_positions, t, x, V, sample_at, title=name,
                       marked=positions, labels=text)
    snapshots = _snapshot_times(t, x, cable_analysis.arrival_times(t, V, an.spike_threshold_mV))
    figure_worker.save(run, "snapshots", cable_plots.snapshots, t, x, V, snapshots, title=name, labels=text)

    spikes = result["spike_times_ms"]
    return {
        "conduction_velocity_m_per_s": float(result["conduction_velocity_m_per_s"]),
        "reached_far_end": bool(result["reached_far_end"]),
        "spike_count": int(result["spike_count"]),
        "spike_times_ms": spikes[np.isfinite(spikes)].tolist(),
        "peak_V_mV": float(result["peak_V_mV"]),
        "min_V_mV": float(result["min_V_mV"]),
        "spike_half_width_ms": float(result["spike_half_width_ms"]),
        "num_steps": int(result["num_steps"]),
        "num_rejected_steps": int(result["num_rejected_steps"]),
        **grid_metrics(an, t, x, positions, site),
        "compile_s": times.compile_s,
        "run_s": times.run_s,
    }


def grid_metrics(an, t, x, positions, site) -> dict:
    """Where a cable run measured (the grid nodes nearest the asked-for points) and on what grid."""
    return {
        "velocity_points_cm": [float(x[cable_analysis.nearest_node(x, p)]) for p in positions],
        "recording_point_cm": float(x[cable_analysis.nearest_node(x, site)]),
        "spike_threshold_mV": an.spike_threshold_mV,
        "nx": int(x.size),
        "nt": int(t.size),
        "dx_cm": float(x[1] - x[0]),
    }
