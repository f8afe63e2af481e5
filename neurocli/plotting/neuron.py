"""Figures for point-neuron simulations. Functions take arrays and return matplotlib figures."""

from __future__ import annotations

import numpy as np

from neurocli.plotting.style import figure, parameter_label


def voltage_trace(t, v, i_ext, *, v_unit="mV", t_unit="ms", i_unit="µA/cm²", title=None):
    """V(t) above, the injected current beneath, sharing the time axis."""
    fig, (ax_v, ax_i) = figure(2, 1, sharex=True, figsize=(7, 4.5), gridspec_kw={"height_ratios": [3, 1]})
    ax_v.plot(t, v, lw=1.2)
    ax_i.plot(t, i_ext, lw=1.2)
    ax_v.set_ylabel(f"membrane potential ({v_unit})" if v_unit != "dimensionless" else "v")
    ax_i.set_ylabel(f"I_ext ({i_unit})" if i_unit != "dimensionless" else "I_ext")
    ax_i.set_xlabel(f"time ({t_unit})" if t_unit != "dimensionless" else "time")
    if title:
        ax_v.set_title(title)
    return fig


def state_variables(t, ys, names, *, t_unit="ms", title=None):
    """Every state but the voltage (gating variables, recovery variable) against time."""
    fig, ax = figure(figsize=(7, 3.2))
    for k, name in enumerate(names):
        ax.plot(t, ys[:, k], lw=1.2, label=name)
    ax.set_xlabel(f"time ({t_unit})" if t_unit != "dimensionless" else "time")
    ax.set_ylabel("gating variable (dimensionless)" if t_unit == "ms" else "state (dimensionless)")
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    return fig


def phase_plane(traj, grid_x, grid_y, dx, dy, names, *, x_unit="mV"):
    """A trajectory in a 2-D phase plane with the nullclines (zero contours of dx and dy)."""
    fig, ax = figure(figsize=(6, 4.5))
    ax.contour(grid_x, grid_y, dx, levels=[0.0], colors="tab:blue", linewidths=1.2)
    ax.contour(grid_x, grid_y, dy, levels=[0.0], colors="tab:orange", linewidths=1.2)
    ax.plot(traj[:, 0], traj[:, 1], color="k", lw=1.3)
    ax.plot(traj[0, 0], traj[0, 1], "o", color="k", ms=5)
    # proxy artists: contour sets make no legend entries of their own
    ax.plot([], [], color="tab:blue", label=f"d{names[0]}/dt = 0 (I_ext = 0)")
    ax.plot([], [], color="tab:orange", label=f"d{names[1]}/dt = 0")
    ax.plot([], [], color="k", label="trajectory (● start)")
    ax.set_xlabel(f"{names[0]} ({x_unit})" if x_unit != "dimensionless" else names[0])
    ax.set_ylabel(f"{names[1]} (dimensionless)")
    ax.set_xlim(grid_x.min(), grid_x.max())
    ax.set_ylim(grid_y.min(), grid_y.max())
    ax.legend(loc="best", fontsize=8)
    return fig


def rate_curve(values, rates_hz, parameter, *, onset=None, unit=None):
    """Steady firing rate against the swept parameter (the f–I curve for stimulus.amplitude).
    Members whose rate is undefined (None or NaN: fewer than 2 spikes in the window) are drawn as
    crosses on the axis, not as a rate of zero."""
    values = np.asarray(values, dtype=float)
    rates = np.array([np.nan if r is None else r for r in rates_hz], dtype=float)
    fig, ax = figure(figsize=(6, 4))
    ax.plot(values, rates, ".-", ms=3, lw=1.0, label="steady firing rate")
    undefined = ~np.isfinite(rates)
    if undefined.any():
        ax.plot(values[undefined], np.zeros(undefined.sum()), "x", color="0.5", ms=3, clip_on=False,
                label="no rate (< 2 spikes in the window)")
    if onset is not None:
        ax.axvline(onset, color="0.5", ls="--", lw=1, label=f"onset of repetitive firing: {onset:.3g}")
    ax.set_ylim(bottom=0.0, top=None if np.isfinite(rates).any() else 1.0)
    ax.set_xlabel(parameter_label(parameter, unit))
    ax.set_ylabel("firing rate (Hz)")
    ax.legend(loc="upper left")
    return fig


def voltage_traces_stacked(t, v, i_ext, labels, *, v_unit="mV", t_unit="ms", i_unit="µA/cm²"):
    """Sweep members as small multiples (one panel each, shared axes), the stimuli beneath."""
    n = v.shape[0]
    fig, axes = figure(n + 1, 1, sharex=True, figsize=(7, 1.3 * n + 1.6),
                       gridspec_kw={"height_ratios": [2] * n + [1.5]})
    for k in range(n):
        ax = axes[k]
        ax.plot(t, v[k], lw=0.8, color=f"C{k}")
        ax.text(0.99, 0.92, labels[k], transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax.set_ylim(v.min() - 5 if v_unit == "mV" else v.min() - 0.2, v.max() + 5 if v_unit == "mV" else v.max() + 0.2)
    axes[n // 2].set_ylabel(f"membrane potential ({v_unit})" if v_unit != "dimensionless" else "v")
    for k in range(n):
        axes[-1].plot(t, i_ext[k], lw=1.2, color=f"C{k}")
    axes[-1].set_ylabel(f"I_ext ({i_unit})" if i_unit != "dimensionless" else "I_ext")
    axes[-1].set_xlabel(f"time ({t_unit})" if t_unit != "dimensionless" else "time")
    return fig
