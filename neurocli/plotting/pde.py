"""Figures for 1-D space–time fields u(t, x)."""

from __future__ import annotations

import math

import numpy as np

from neurocli.plotting.style import figure


def heatmap_grid(t, x, fields, titles, *, cmap="plasma", label="u", vmin=None, vmax=None, suptitle=None,
                 x_label="x (dimensionless)", t_label="t (dimensionless)"):
    """One heatmap per field (fields: (n, nt, nx)) with one shared colour scale and colorbar."""
    fields = np.asarray(fields)
    n = fields.shape[0]
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    vmin = float(np.nanmin(fields)) if vmin is None else vmin
    vmax = float(np.nanmax(fields)) if vmax is None else vmax
    fig, axes = figure(rows, cols, figsize=(3.6 * cols + 0.8, 2.9 * rows), squeeze=False,
                       sharex=True, sharey=True)
    extent = (float(x[0]), float(x[-1]), float(t[0]), float(t[-1]))
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        im = ax.imshow(fields[i], origin="lower", aspect="auto", extent=extent, cmap=cmap,
                       vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(titles[i], fontsize=10)
        if i % cols == 0:
            ax.set_ylabel(t_label)
        if i // cols == rows - 1 or i + cols >= n:
            ax.set_xlabel(x_label)
    fig.colorbar(im, ax=axes, label=label, shrink=0.9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def draw_profiles(ax, t, x, u, times, reference=None):
    """On ax: u(x) at the grid times nearest `times` (solid); `reference` dashed in the same colour."""
    for c, tt in enumerate(times):
        j = int(np.argmin(np.abs(t - tt)))
        ax.plot(x, u[j], color=f"C{c}", lw=1.4, label=f"t = {t[j]:.3g}")
        if reference is not None:
            ax.plot(x, reference[j], color=f"C{c}", lw=1.2, ls="--")


def profiles(t, x, u, *, times, reference=None, title=None, label="u", x_label="x (dimensionless)"):
    """u(x) at several times (solid); `reference` (same shape as u) dashed in the same colour."""
    fig, ax = figure(figsize=(6.5, 4))
    draw_profiles(ax, t, x, u, times, reference)
    if reference is not None:
        ax.plot([], [], color="k", ls="--", label="reference")
    ax.set_xlabel(x_label)
    ax.set_ylabel(label)
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig
