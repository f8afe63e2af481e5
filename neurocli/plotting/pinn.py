"""Figures of PINN training: profiles against the reference per member, and loss curves."""

from __future__ import annotations

import math

import numpy as np

from neurocli.plotting.pde import draw_profiles
from neurocli.plotting.style import figure


def profiles_grid(t, x, u, reference, *, times, titles, label="u", x_label="x"):
    """One panel per member: u(x) at `times` (solid) and the reference (dashed, same colour). `t`
    (n, nt) and `times` (n, k) give each member its own times (a swept final time)."""
    u, reference = np.asarray(u), np.asarray(reference)
    n = u.shape[0]
    ts = np.broadcast_to(np.asarray(t, dtype=float), (n, u.shape[1]))
    times = np.broadcast_to(np.asarray(times, dtype=float), (n, np.shape(times)[-1]))
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = figure(rows, cols, figsize=(3.9 * cols, 2.9 * rows), squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_profiles(ax, ts[i], x, u[i], times[i], reference[i])
        ax.set_title(titles[i], fontsize=9)
        if i % cols == 0:
            ax.set_ylabel(label)
        if i + cols >= n:
            ax.set_xlabel(x_label)
    axes.flat[0].plot([], [], color="k", ls="--", label="reference")
    axes.flat[0].legend(loc="upper right", fontsize=7)
    return fig


def loss_curves(steps, losses, labels, *, terms=None, phase_ends=(), ends_label="phase change"):
    """Total training loss per member against the step (log scale; more than 10 members are coloured
    along viridis, in order); `terms` (members, steps, k)
    with their names as a dict {name: array} are drawn thin and dotted when there are several."""
    fig, ax = figure(figsize=(7, 4))
    n = len(labels)
    if n <= 10:
        colours = [f"C{i}" for i in range(n)]
    else:
        from matplotlib import colormaps

        colours = [colormaps["viridis"](i / (n - 1)) for i in range(n)]
    for i, lab in enumerate(labels):
        ax.semilogy(steps, losses[i], lw=1.2, color=colours[i], label=lab)
        for name, arr in (terms or {}).items():
            ax.semilogy(steps, arr[i], lw=0.7, ls=":", color=colours[i])
    for s in phase_ends:
        ax.axvline(s, color="0.6", lw=0.8, ls="--")
    if terms:
        ax.plot([], [], color="k", ls=":", lw=0.7, label=" / ".join(terms) + " terms")
    if phase_ends:
        ax.plot([], [], color="0.6", ls="--", lw=0.8, label=ends_label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (dimensionless)")
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    return fig
