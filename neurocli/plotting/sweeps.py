"""Figures of a per-member metric over a sweep of several parameters: heat maps over a grid, a
scatter for zipped or sampled members. Functions take arrays and return matplotlib figures."""

from __future__ import annotations

import math

import numpy as np

from neurocli.plotting.style import figure, parameter_label


def onset_curve(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For each row of z (over x), the smallest x where z > 0 (NaN where there is none)."""
    firing = np.isfinite(z) & (z > 0)
    first = np.argmax(firing, axis=1)
    return np.where(firing.any(axis=1), x[first], np.nan)


def cell_edges(centres: np.ndarray, log: bool = False) -> np.ndarray:
    """Edges of the heat-map cells around grid values: halfway between neighbours (in log space on
    a log axis, so that no cell reaches zero), the outer cells as wide as their neighbours."""
    v = np.asarray(centres, dtype=float)
    v = np.log(v) if log else v
    if v.size == 1:
        edges = np.array([v[0] - 0.5, v[0] + 0.5]) if log else v[0] + np.array([-0.5, 0.5]) * max(abs(v[0]), 1.0)
    else:
        mid = (v[1:] + v[:-1]) / 2
        edges = np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def save_maps(run, sweep, names, table, per_member: dict, labels: dict, *, units=None,
              log_colour=False) -> None:
    """figures/map_<metric>.pdf for each metric in `labels` (metric -> colour-bar label): heat maps
    over a grid of 2 or 3 parameters (the firing rate with its onset curve), a scatter otherwise
    (zip, samples, more parameters)."""
    from neurocli.plotting import figure_worker

    for m, label in labels.items():
        values = np.asarray(per_member[m], dtype=float)
        if sweep.is_grid and len(names) in (2, 3):
            logs = [a.logspace is not None for a in sweep.parameters]
            figure_worker.save(run, f"map_{m}", metric_map, sweep.axes, names, values, label, log_axes=logs,
                               onset=m == "firing_rate_hz", units=units, log_colour=log_colour)
        else:
            figure_worker.save(run, f"map_{m}", metric_scatter, table, names, values, label,
                               units=units, log_colour=log_colour)


def metric_map(axes: list[np.ndarray], names: list[str], metric: np.ndarray, label: str, *,
               log_axes=None, onset: bool = False, units=None, cmap: str = "viridis",
               log_colour: bool = False):
    """A grid sweep's metric (members in grid order: the first parameter slowest) as heat maps:
    the last parameter across, the one before it up; with three parameters one panel per value of
    the first (slowest). `onset`: draw where the metric first exceeds 0 along each row.
    `log_colour`: a logarithmic colour scale over the positive values (errors)."""
    from matplotlib import colors, ticker  # with the first figure (neurocli.plotting.style)

    d = len(axes)
    if d not in (2, 3):
        raise ValueError(f"heat maps take 2 or 3 swept parameters (got {d})")
    log_axes = list(log_axes or [False] * d)
    shape = [len(a) for a in axes]
    z = np.asarray(metric, dtype=float).reshape(shape)
    panels = [z] if d == 2 else [z[i] for i in range(shape[0])]
    titles = [None] if d == 2 else [_value_label(names[0], v, _unit(units, 0)) for v in axes[0]]
    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    fig, grid = figure(rows, cols, figsize=(4.6 * cols + 1.0, 3.6 * rows), squeeze=False, sharex=True, sharey=True)
    finite = z[np.isfinite(z) & (z > 0)] if log_colour else z[np.isfinite(z)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if log_colour and finite.size and vmax == vmin:
        vmin, vmax = vmin / 2, vmax * 2  # one value: a LogNorm needs a range
    norm = colors.LogNorm(vmin, vmax) if log_colour and finite.size else colors.Normalize(vmin, vmax)
    x, y = axes[-1], axes[-2]
    for i, ax in enumerate(grid.flat):
        if i >= len(panels):
            ax.axis("off")
            continue
        mesh = ax.pcolormesh(cell_edges(x, log_axes[-1]), cell_edges(y, log_axes[-2]), panels[i], shading="flat",
                             cmap=cmap, norm=norm, edgecolors="face", linewidth=0, rasterized=True)  # no seams
        if onset:
            xs = onset_curve(x, panels[i])
            ok = np.isfinite(xs)
            if ok.any():
                ax.plot(xs[ok], y[ok], "w-", lw=2.0)
                ax.plot(xs[ok], y[ok], "o--", color="k", ms=2.5, lw=0.9,
                        label=f"onset: smallest {parameter_label(names[-1], _unit(units, -1)).split(' (')[0]} with {label.split(' (')[0]} > 0")

        if len(x) <= 8 and len(y) <= 12:  # a small grid: write the values in the cells
            for (r, c), value in np.ndenumerate(panels[i]):  # an undefined value leaves its cell blank
                ax.text(x[c], y[r], f"{value:.3g}" if np.isfinite(value) else "–", ha="center", va="center",
                        fontsize=7, color="w" if np.isfinite(value) and norm(value) < 0.5 else "k")
        for axis, values, log in ((ax.xaxis, x, log_axes[-1]), (ax.yaxis, y, log_axes[-2])):
            if log:
                (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
                axis.set_minor_formatter(ticker.NullFormatter())
            if len(values) <= 8:
                axis.set_ticks(values)
                axis.set_major_formatter(ticker.FormatStrFormatter("%.4g"))
        if titles[i]:
            ax.set_title(titles[i], fontsize=10)
        if i % cols == 0:
            ax.set_ylabel(parameter_label(names[-2], _unit(units, -2)))
        if i + cols >= len(panels):
            ax.set_xlabel(parameter_label(names[-1], _unit(units, -1)))
    fig.colorbar(mesh, ax=grid, label=label, shrink=0.9)
    handles, labels = grid.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles[:1], labels[:1], loc="outside lower center", fontsize=8)
    return fig


def metric_scatter(table: np.ndarray, names: list[str], metric: np.ndarray, label: str, *,
                   units=None, cmap: str = "viridis", log_colour: bool = False):
    """Zipped or sampled members: the first two parameters as position, the metric as colour
    (`log_colour`: on a logarithmic scale, when every finite value is positive)."""
    from matplotlib import colors  # with the first figure (neurocli.plotting.style)

    table = np.asarray(table, dtype=float)
    fig, ax = figure(figsize=(6, 4.5))
    x = table[:, 1] if table.shape[1] > 1 else table[:, 0]
    y = table[:, 0] if table.shape[1] > 1 else np.asarray(metric, dtype=float)
    finite = np.asarray(metric, dtype=float)[np.isfinite(metric)]
    norm = colors.LogNorm() if log_colour and finite.size and (finite > 0).all() else None
    points = ax.scatter(x, y, c=metric, cmap=cmap, norm=norm, s=12)
    fig.colorbar(points, ax=ax, label=label)
    ax.set_xlabel(parameter_label(names[1] if len(names) > 1 else names[0], _unit(units, 1 if len(names) > 1 else 0)))
    ax.set_ylabel(parameter_label(names[0], _unit(units, 0)) if len(names) > 1 else label)
    return fig


def _unit(units, j: int) -> str | None:
    """The unit of the j-th swept parameter (`units`: one per parameter, or None)."""
    return None if units is None else units[j]


def _value_label(path: str, value: float, unit: str | None) -> str:
    text = parameter_label(path, unit)
    name, _, unit = text.partition(" (")
    return f"{name} = {value:.4g}" + (f" {unit[:-1]}" if unit else "")
