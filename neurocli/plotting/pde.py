"""Figures for 1-D space–time fields u(t, x)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurocli.plotting.style import figure

# The initial pulse (peak 2) is narrow and decays within a few per cent of T; the front that follows
# stays below about 0.7. On a linear scale up to the pulse's peak the front is a uniform dark band,
# so the colour scale is clipped at the field's maximum after this fraction of the time span.
EARLY_FRACTION = 0.05
CLIP_WHEN_BELOW = 0.6  # clip when the later maximum is below this fraction of the overall maximum


@dataclasses.dataclass(frozen=True)
class ColourScale:
    """One colour scale for several heat maps: [vmin, vmax], and `clipped_from` (the field's true
    maximum, above vmax) when values above vmax are drawn in vmax's colour."""

    vmin: float
    vmax: float
    clipped_from: float | None = None

    def label(self, label: str) -> str:
        if self.clipped_from is None:
            return label
        return f"{label}\nclipped > {self.vmax:.2g} (max {self.clipped_from:.2g}, t ≈ 0)"


def colour_scale(t, *field_sets, clip: bool = True) -> ColourScale:
    """The scale shared by every field in `field_sets` (each (n, nt, nx) or (nt, nx) on the time
    grid `t`): their full range, or, with `clip` and a maximum set by the early pulse alone, clipped
    at the largest value after the first EARLY_FRACTION of the time span."""
    t = np.asarray(t, dtype=float)
    arrays = [np.asarray(f, dtype=float) for f in field_sets]
    vmin = float(min(np.nanmin(a) for a in arrays))
    vmax = float(max(np.nanmax(a) for a in arrays))
    if not clip or t.size < 3:
        return ColourScale(vmin, vmax)
    late = t >= t[0] + EARLY_FRACTION * (t[-1] - t[0])
    late_max = float(max(np.nanmax(a[..., late, :]) for a in arrays))
    if late_max > vmin and late_max - vmin < CLIP_WHEN_BELOW * (vmax - vmin):
        return ColourScale(vmin, late_max, clipped_from=vmax)
    return ColourScale(vmin, vmax)


def heatmap_grid(t, x, fields, titles, *, cmap="plasma", label="u", vmin=None, vmax=None, suptitle=None,
                 x_label="x (dimensionless)", t_label="t (dimensionless)", scale: ColourScale | None = None):
    """One heatmap per field (fields: (n, nt, nx); x: (nx,), or (n, nx) for a grid per field; t:
    (nt,), or (n, nt) for each field's own times) with one shared colour scale and colorbar.

    `scale`: the colour scale (share one between figures to compare them); by default
    `colour_scale` of these fields, which clips an early pulse that would hide the later front
    (the colorbar says so). `vmin`/`vmax` fix the linear range instead."""
    fields = np.asarray(fields)
    n = fields.shape[0]
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    ts = np.broadcast_to(np.asarray(t, dtype=float), (n, fields.shape[1]))
    if scale is None:  # the early fraction is the same samples of every member's own times
        scale = colour_scale(ts[0], fields, clip=vmin is None and vmax is None)
    vmin = scale.vmin if vmin is None else vmin
    vmax = scale.vmax if vmax is None else vmax
    fig, axes = figure(rows, cols, figsize=(3.6 * cols + 0.8, 2.9 * rows), squeeze=False,
                       sharex=True, sharey=True)
    xs = np.broadcast_to(np.asarray(x, dtype=float), (n, fields.shape[-1]))
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        extent = (float(xs[i, 0]), float(xs[i, -1]), float(ts[i, 0]), float(ts[i, -1]))
        im = ax.imshow(fields[i], origin="lower", aspect="auto", extent=extent, cmap=cmap,
                       vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(titles[i], fontsize=10)
        if i % cols == 0:
            ax.set_ylabel(t_label)
        if i // cols == rows - 1 or i + cols >= n:
            ax.set_xlabel(x_label)
    axes.flat[0].set_xlim(float(xs[:, 0].min()), float(xs[:, -1].max()))  # shared: every member's line whole
    axes.flat[0].set_ylim(float(ts[:, 0].min()), float(ts[:, -1].max()))  # and every member's times
    clipped = scale.clipped_from is not None and vmax == scale.vmax
    fig.colorbar(im, ax=axes, label=scale.label(label) if clipped else label, shrink=0.9,
                 extend="max" if clipped else "neither")
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


def front_speed_curve(values, speeds, parameter, *, unit=None, theory=None):
    """The front speed against a swept parameter; members whose front did not pass both timing
    points are crossed on the x axis. `theory`: (values, speeds, label) drawn dashed."""
    from neurocli.plotting.style import parameter_label

    values, speeds = np.asarray(values, float), np.asarray(speeds, float)
    ok = np.isfinite(speeds)
    fig, ax = figure(figsize=(6, 4))
    ax.plot(values[ok], speeds[ok], "o-", ms=4, lw=1.2, label="simulated (u crosses a)")
    if theory is not None:
        ax.plot(theory[0], theory[1], "--", color="0.3", lw=1.2, label=theory[2])
    if (~ok).any():
        ax.plot(values[~ok], np.full((~ok).sum(), 0.03), "x", color="tab:red", ms=7, clip_on=False,
                transform=ax.get_xaxis_transform(), label="front did not pass both points")
    ax.set_ylim(bottom=0)
    ax.set_xlabel(parameter_label(parameter, unit))
    ax.set_ylabel("front speed (dimensionless: x per unit t)")
    ax.legend(loc="best", fontsize=8)
    return fig
