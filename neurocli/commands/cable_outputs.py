"""`simulate` outputs for cable models (hh_cable): solution.npz, figures, metrics.

The solve keeps V only (`HHCable.full_field`), so `out.ys` is V: (nt, nx) or (members, nt, nx).
Metrics follow shared RUNS.md: the simulate neuron keys measured at the recording point
(`analysis.recording_point`, a fraction of the length), the PDE keys nx and nt, plus
`conduction_velocity_m_per_s` between `analysis.velocity_points`. Sweeps give lists, one entry
per member, and a figure of velocity against the swept parameter.
"""

from __future__ import annotations

import numpy as np

from neurocli import cable_analysis
from neurocli.plotting import cable as cable_plots
from neurocli.plotting import pde as pde_plots
from neurocli.plotting.style import PARAMETER_UNITS
from neurocli.run_dir import RunDirectory
from neurocli.solve import SolveOutput

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


def write(cfg, model, out: SolveOutput, values, run: RunDirectory) -> dict:
    x = np.asarray(model.grid())
    t = out.ts
    V = out.ys if values is not None else out.ys[None]
    run.write_npz("solution.npz", t=t, x=x, u=out.ys)

    an = cfg.analysis
    length = float(x[-1])
    positions = (an.velocity_points[0] * length, an.velocity_points[1] * length)
    site = an.recording_point * length
    results = [
        cable_analysis.analyse(
            t, x, V[i], rest=float(V[i, 0, cable_analysis.nearest_node(x, site)]),
            threshold=an.spike_threshold_mV, positions=positions, site=site,
        )
        for i in range(V.shape[0])
    ]

    labels = [""] if values is None else [_member_label(cfg.sweep.parameter, v) for v in values]
    kept = np.arange(1) if values is None else cfg.output.kept_members(V.shape[0])
    show = int(kept[-1])
    model_cfg = cfg.model
    title = (
        f"d = {model_cfg.diameter_um:g} µm, R_i = {model_cfg.R_i_ohm_cm:g} Ω·cm, "
        f"T = {model_cfg.temperature_C:g} °C"
    )
    heat_titles = [title] if values is None else [labels[i] for i in kept]
    run.save_figure(
        "heatmap",
        pde_plots.heatmap_grid(t, x, V[kept], heat_titles, cmap="viridis", label="V (mV)",
                               x_label="x (cm)", t_label="t (ms)"),
    )
    shown_title = title if values is None else labels[show]
    sample_at = sorted({0.0, positions[0], site, positions[1], length})
    run.save_figure(
        "voltage_traces",
        cable_plots.voltage_at_positions(t, x, V[show], sample_at, title=shown_title, marked=positions),
    )
    times = _snapshot_times(t, x, results[show].arrival_ms)
    run.save_figure("snapshots", cable_plots.snapshots(t, x, V[show], times, title=shown_title))

    per_member = {
        "conduction_velocity_m_per_s": [float(r.velocity_m_per_s) for r in results],
        "reached_far_end": [r.reached_far_end for r in results],
        "spike_count": [len(r.spike_times_ms) for r in results],
        "spike_times_ms": [r.spike_times_ms for r in results],
        "peak_V_mV": [r.peak_V_mV for r in results],
        "min_V_mV": [r.min_V_mV for r in results],
        "spike_half_width_ms": [float(r.half_width_ms) for r in results],
        "num_steps": np.atleast_1d(out.num_steps).tolist(),
        "num_rejected_steps": np.atleast_1d(out.num_rejected_steps).tolist(),
    }
    if values is None:
        metrics = {k: v[0] for k, v in per_member.items()}
    else:
        metrics = dict(per_member)
    metrics.update(
        velocity_points_cm=[float(x[cable_analysis.nearest_node(x, p)]) for p in positions],
        recording_point_cm=float(x[cable_analysis.nearest_node(x, site)]),
        spike_threshold_mV=an.spike_threshold_mV,
        nx=int(x.size),
        nt=int(t.size),
        dx_cm=float(x[1] - x[0]),
        compile_s=out.compile_s,
        run_s=out.run_s,
    )
    if values is not None:
        field = cfg.sweep.parameter.split(".")[-1]
        metrics.update(swept=cfg.sweep.parameter, values=list(values))
        velocities = [r.velocity_m_per_s for r in results]
        exponent = None
        if cfg.sweep.parameter.startswith("model.") and field in POWER_LAW_PARAMETERS:
            exponent = cable_analysis.power_law_exponent(values, velocities)
            metrics["velocity_power_law_exponent"] = float(exponent)  # NaN: null in metrics.json
        reference = HH_1952 if cfg.sweep.parameter == "model.temperature_C" and _is_hh_1952_axon(model_cfg) else None
        run.save_figure(
            "velocity",
            cable_plots.velocity_curve(values, velocities, cfg.sweep.parameter, exponent=exponent,
                                       log=exponent is not None, reference=reference),
        )
    return metrics


def _member_label(parameter: str, value: float) -> str:
    field = parameter.split(".")[-1]
    unit = PARAMETER_UNITS.get(field)
    return f"{field} = {value:.4g}" + (f" {unit}" if unit else "")

