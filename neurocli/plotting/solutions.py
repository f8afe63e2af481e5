"""The distinct solutions a sweep found (neurocli/analysis/solutions.py): one heat map of u(t, x)
per solution (its representative), one shared colour scale, and the pairwise differences below."""

from __future__ import annotations

import itertools

import numpy as np

from neurocli.plotting.style import figure

MAX_SHOWN = 6
"""Solutions drawn (the first ones): 6 give 15 differences, already a wide figure."""


def solution_maps(t, x, fields, titles, *, label="u (dimensionless)", x_label="x (dimensionless)",
                  t_label="t (dimensionless)"):
    """fields (m, nt, nx): the representatives. Top row: u, shared scale (plasma); bottom row:
    u_j − u_i for i < j, one symmetric scale (RdBu_r). m = 1: the top row alone."""
    fields = np.asarray(fields, dtype=float)[:MAX_SHOWN]
    titles = list(titles)[:MAX_SHOWN]
    m = len(fields)
    pairs = list(itertools.combinations(range(m), 2))
    cols = max(m, len(pairs), 1)
    rows = 2 if pairs else 1
    fig, axes = figure(rows, cols, figsize=(3.2 * cols + 1.2, 2.9 * rows), squeeze=False, sharex=True, sharey=True)
    t, x = np.asarray(t, dtype=float), np.asarray(x, dtype=float)
    extent = (float(x[0]), float(x[-1]), float(t[0]), float(t[-1]))
    vmin, vmax = float(fields.min()), float(fields.max())
    if vmax == vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    for i, ax in enumerate(axes[0]):
        if i >= m:
            ax.axis("off")
            continue
        im = ax.imshow(fields[i], origin="lower", aspect="auto", extent=extent, cmap="plasma", vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_title(titles[i], fontsize=9)
        ax.set_xlabel(x_label)
    axes[0, 0].set_ylabel(t_label)
    fig.colorbar(im, ax=list(axes[0]), label=label, shrink=0.9)
    if pairs:
        diffs = [fields[j] - fields[i] for i, j in pairs]
        span = max(float(np.abs(d).max()) for d in diffs) or 1.0
        for p, ax in enumerate(axes[1]):
            if p >= len(pairs):
                ax.axis("off")
                continue
            i, j = pairs[p]
            im = ax.imshow(diffs[p], origin="lower", aspect="auto", extent=extent, cmap="RdBu_r", vmin=-span,
                           vmax=span, interpolation="nearest")
            ax.set_title(f"solution {j} − solution {i}", fontsize=9)
            ax.set_xlabel(x_label)
        axes[1, 0].set_ylabel(t_label)
        fig.colorbar(im, ax=list(axes[1]), label="difference of u (dimensionless)", shrink=0.9)
    fig.suptitle(f"{m} distinct solution{'s' if m != 1 else ''} (representatives)", fontsize=10)
    return fig


def k_convergence(ks, distances, rates, prefactors, labels, *, fit_gap=10.0):
    """‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ against k (log–log), one line per group, the fitted power law
    dashed over the range it was fitted on (k ≤ k_max / fit_gap)."""
    fig, ax = figure(figsize=(6.4, 4.4))
    for c, (k, e, p, pre, label) in enumerate(zip(ks, distances, rates, prefactors, labels)):
        k, e = np.asarray(k, dtype=float), np.asarray(e, dtype=float)
        show = e > 0
        name = label or "members"
        ax.loglog(k[show], e[show], "o-", color=f"C{c}", ms=4, lw=1.2, label=name)
        if np.isfinite(p):
            fit = k[k <= k.max() / fit_gap]
            ax.loglog(fit, pre * fit ** (-p), "--", color=f"C{c}", lw=1.0, label=f"fit: {pre:.2g} k^(−{p:.2f})")
    ax.set_xlabel("k (steepness of H_k, dimensionless)")
    ax.set_ylabel("‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ (relative L2)")
    ax.set_title(f"k → ∞: distance to the largest k (k_max = {max(max(k) for k in ks):g})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig
