"""Figures for the propagating action potential V(t, x) on a cable (x in cm, t in ms, V in mV, or
a dimensionless cable's units: `labels`, from simulation/cable_outputs.labels)."""

from __future__ import annotations

import numpy as np

from neurocli.analysis.cable import nearest_node
from neurocli.plotting.style import figure, parameter_label


SQUID_LABELS = {"t": "t (ms)", "length_unit": "cm", "time_unit": "ms", "voltage": "membrane potential V (mV)"}


def _unit(text: str) -> str:
    return f" {text}" if text else ""


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def _finish(fig, ax, x_label: str, y_label: str, title):
    """Axis labels, the legend outside on the right, the title."""
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def voltage_at_positions(t, x, V, positions, *, title=None, marked=(), labels=SQUID_LABELS):
    """V(t) at the nodes nearest to `positions` (cm), one line each; `marked` positions (the
    conduction-velocity points) drawn dashed."""
    fig, ax = figure(figsize=(8.5, 4))
    marked_nodes = {nearest_node(x, m) for m in marked}
    for k, pos in enumerate(positions):
        i = nearest_node(x, pos)
        dashed = i in marked_nodes
        suffix = " (velocity point)" if dashed else ""
        ax.plot(t, V[:, i], lw=1.3, ls="--" if dashed else "-", color=f"C{k}", label=f"x = {x[i]:.2f}{_unit(labels['length_unit'])}{suffix}")
    return _finish(fig, ax, f"time{_paren(labels['time_unit'])}", labels["voltage"], title)


def snapshots(t, x, V, times, *, title=None, labels=SQUID_LABELS):
    """V(x) at the sample times nearest to `times` (ms)."""
    fig, ax = figure(figsize=(8, 4))
    for k, tt in enumerate(times):
        j = int(np.argmin(np.abs(t - tt)))
        ax.plot(x, V[j], lw=1.3, color=f"C{k}", label=f"t = {t[j]:.2f}{_unit(labels['time_unit'])}")
    return _finish(fig, ax, f"position along the axon x{_paren(labels['length_unit'])}", labels["voltage"], title)


def velocity_curve(values, velocities, parameter, *, unit=None, exponent=None, log=False, reference=None,
                   velocity_label="conduction velocity (m/s)"):
    """Conduction velocity against a swept parameter. Members that did not conduct are marked
    with crosses on the x axis. `exponent`: a fitted power law c ∝ value^exponent, drawn dashed.
    `reference`: (value, velocity, label) of a literature point."""
    from matplotlib import ticker

    values, velocities = np.asarray(values, float), np.asarray(velocities, float)
    ok = np.isfinite(velocities)
    fig, ax = figure(figsize=(6, 4))
    ax.plot(values[ok], velocities[ok], "o-", ms=4, lw=1.2, label="simulated (threshold crossings)")
    if exponent is not None and np.isfinite(exponent) and ok.sum() >= 2:
        lv, lc = np.log(values[ok]), np.log(velocities[ok])
        intercept = np.mean(lc - exponent * lv)
        grid = np.geomspace(values[ok].min(), values[ok].max(), 50)
        ax.plot(grid, np.exp(intercept) * grid**exponent, "--", color="0.4", lw=1,
                label=f"power law fit: exponent {exponent:.3f}")
    if (~ok).any():
        ax.plot(values[~ok], np.full((~ok).sum(), 0.03), "x", color="tab:red", ms=7, clip_on=False,
                transform=ax.get_xaxis_transform(), label="no conduction")
    if reference is not None:
        ax.plot([reference[0]], [reference[1]], "s", color="k", ms=5, label=reference[2])
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            axis.set_minor_formatter(ticker.NullFormatter())
        if values.size <= 8:
            ax.set_xticks(values)
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(parameter_label(parameter, unit))
    ax.set_ylabel(velocity_label)
    ax.legend(loc="best", fontsize=8)
    return fig


def pinn_against_reference(t, x, V, reference, positions, *, title=None, labels=SQUID_LABELS):
    """V(t) of a PINN (solid) and its reference (dashed, same colour) at the nodes nearest `positions`."""
    fig, ax = figure(figsize=(8.5, 4))
    for k, pos in enumerate(positions):
        i = nearest_node(x, pos)
        where = f"x = {x[i]:.3g}{_unit(labels['length_unit'])}"
        ax.plot(t, V[:, i], lw=1.4, color=f"C{k}", label=f"PINN, {where}")
        ax.plot(t, reference[:, i], lw=1.2, ls="--", color=f"C{k}", label=f"reference, {where}")
    return _finish(fig, ax, f"time{_paren(labels['time_unit'])}", labels["voltage"], title)
