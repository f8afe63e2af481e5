"""Figures for UDE training. Functions take arrays and return matplotlib figures."""

from __future__ import annotations

import numpy as np

from neurocli.plotting.style import figure

PHASE_COLOURS = ("#e8eef7", "#f7efe3", "#e9f5e9", "#f5e6ef")


def state_label(name: str) -> str:
    return "V (mV)" if name == "V" else f"{name} (dimensionless)"


def _mark_phases(ax, step, phase, names):
    """Shade each optimisation phase; the legend names it (text on a narrow band would overflow)."""
    for k, p in enumerate(np.unique(phase).astype(int)):
        inside = step[phase == p]
        lo, hi = inside.min() - 0.5, inside.max() + 0.5
        ax.axvspan(lo, hi, color=PHASE_COLOURS[k % len(PHASE_COLOURS)], zorder=0, lw=0,
                   label=f"phase {p}: {names[p]}")


def best_so_far(loss, rejected, comparable_from=0):
    """Running minimum of the accepted losses; it restarts at `comparable_from`, where the objective
    becomes the whole record's (after a curriculum or multiple shooting)."""
    valid = np.where(np.isfinite(loss) & (rejected == 0), loss, np.inf)
    return np.concatenate([np.minimum.accumulate(valid[:comparable_from]),
                           np.minimum.accumulate(valid[comparable_from:])])


def _loss_panel(ax, step, loss, phase, names, rejected, *, envelope=False, comparable_from=0, final_loss=None):
    finite = np.isfinite(loss) & (rejected == 0)
    best = best_so_far(loss, rejected, comparable_from)
    _mark_phases(ax, step, phase, names)
    ax.plot(step[finite], loss[finite], lw=1.0, color="tab:blue", label="loss")
    best_step, best_line = step, best
    if final_loss is not None and np.isfinite(final_loss) and len(step):
        # each row's loss is that of the parameters before its update; the final parameters are
        # evaluated once more after the loop, and that loss counts for the best (as metrics.json's)
        end = step[-1] + 1
        best_step = np.append(step, end)
        best_line = np.append(best, min(best[-1], final_loss) if len(step) > comparable_from else final_loss)
        ax.plot([end], [final_loss], "o", ms=3.5, color="tab:blue", label="loss at the final parameters")
    ax.plot(best_step, best_line, lw=1.0, ls="--", color="k", label="best so far")
    if envelope:
        start = int(np.ceil(0.05 * len(step)))
        ax.plot(step[start:], 10 * best[start:], lw=0.8, ls=":", color="tab:red", label="10 × best so far")
    if (rejected > 0).any():  # ticks along the bottom edge, whatever the loss was
        ax.plot(step[rejected > 0], np.full((rejected > 0).sum(), 0.03), "|", color="tab:red", ms=6, mew=0.6,
                transform=ax.get_xaxis_transform(), label=f"rejected steps ({int((rejected > 0).sum())})")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")


def loss_curve(step, loss, phase, names, rejected, *, title=None, comparable_from=0, final_loss=None):
    """Training loss per iteration on a log axis, phases shaded, rejected steps marked. With
    `final_loss` (the loss at the final parameters, evaluated after the last step) the best-so-far
    line ends at the best loss that metrics.json reports."""
    fig, ax = figure(figsize=(7, 4))
    _loss_panel(ax, np.asarray(step), np.asarray(loss), np.asarray(phase), names, np.asarray(rejected),
                comparable_from=comparable_from, final_loss=final_loss)
    ax.set_ylabel("loss (sum of squared errors)")
    if title:
        ax.set_title(title)
    return fig


def loss_comparison(curves, *, ylabel="loss (sum of squared errors)"):
    """Several runs' loss curves side by side on one shared log axis.

    curves: list of dicts with title, step, loss, phase, names, rejected.
    """
    fig, axes = figure(1, len(curves), figsize=(5.2 * len(curves), 4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], curves):
        _loss_panel(ax, np.asarray(c["step"]), np.asarray(c["loss"]), np.asarray(c["phase"]), c["names"],
                    np.asarray(c["rejected"]), envelope=True)
        ax.set_title(c["title"], fontsize=10)
    axes[0][0].set_ylabel(ylabel)
    return fig


def trajectories(t, reference, ude, names, i_ext, *, reference_label, ude_label="UDE", clean=None,
                 title=None, reference_style="line"):
    """One panel per state (reference vs UDE), and the injected current beneath."""
    n = len(names)
    fig, axes = figure(n + 1, 1, sharex=True, figsize=(7, 1.9 * n + 1.4),
                       gridspec_kw={"height_ratios": [3] * n + [1]})
    for k, name in enumerate(names):
        ax = axes[k]
        if reference_style == "dots":
            ax.plot(t, reference[:, k], ".", ms=2.0, color="0.55", label=reference_label)
        else:
            ax.plot(t, reference[:, k], lw=2.2, color="0.7", label=reference_label)
        if clean is not None:
            ax.plot(t, clean[:, k], lw=1.0, ls="--", color="k", label="true (noise-free)")
        ax.plot(t, ude[:, k], lw=1.1, color="tab:red", label=ude_label)
        ax.set_ylabel(state_label(name))
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].plot(t, i_ext, lw=1.1, color="tab:green")
    axes[-1].set_ylabel("I_ext (µA/cm²)")
    axes[-1].set_xlabel("time (ms)")
    if title:
        axes[0].set_title(title)
    return fig


def current(voltage, learned, true, *, replaced, along, rmse, max_err):
    """Learned vs true replaced current against V, and their difference."""
    fig, (ax, ax_err) = figure(2, 1, sharex=True, figsize=(6.5, 5), gridspec_kw={"height_ratios": [3, 1.4]})
    style = "-" if along == "voltage grid" else "."
    ax.plot(voltage, true, style, color="0.6", lw=2.4, ms=3, label=f"true {replaced} current")
    ax.plot(voltage, learned, style, color="tab:red", lw=1.1, ms=1.5, label="learned (network)")
    ax.set_ylabel("current (µA/cm², outward +)")
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    ax.set_title(f"{replaced} current along the {along}: RMSE {rmse:.3g}, max error {max_err:.3g} µA/cm²",
                 fontsize=9)
    ax_err.axhline(0.0, color="0.7", lw=0.8)
    ax_err.plot(voltage, np.asarray(learned) - np.asarray(true), style, color="tab:red", lw=1.0, ms=1.5)
    ax_err.set_ylabel("learned − true\n(µA/cm²)")
    ax_err.set_xlabel("V (mV)")
    return fig


def member_losses(step, member, loss, phase, names, rejected, *, title=None):
    """A sweep's loss per iteration: one thin line per member, their median bold, phases shaded."""
    step, member, loss = np.asarray(step), np.asarray(member).astype(int), np.asarray(loss, float)
    phase, rejected = np.asarray(phase), np.asarray(rejected)
    fig, ax = figure(figsize=(7, 4))
    first = member == member.min() if len(member) else member.astype(bool)
    _mark_phases(ax, step[first], phase[first], names)
    members = np.unique(member)
    grid = np.full((len(members), int(step.max()) + 1 if len(step) else 0), np.nan)
    for k, m in enumerate(members):
        mine = (member == m) & np.isfinite(loss) & (rejected == 0)
        ax.plot(step[mine], loss[mine], lw=0.6, alpha=0.5, color="tab:blue",
                label=f"each member ({len(members)})" if k == 0 else None)
        grid[k, step[mine].astype(int)] = loss[mine]
    if len(members) > 1 and grid.size:
        ax.plot(np.arange(grid.shape[1]), np.nanmedian(grid, axis=0),
                lw=1.4, color="k", label="median over members")
    if (rejected > 0).any():
        ax.plot(step[rejected > 0], np.full((rejected > 0).sum(), 0.03), "|", color="tab:red", ms=6, mew=0.6,
                transform=ax.get_xaxis_transform(), label=f"rejected member steps ({int((rejected > 0).sum())})")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (sum of squared errors)")
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    if title:
        ax.set_title(title)
    return fig


def member_currents(voltage, learned, true, values, value_label, *, replaced, along, rmse):
    """A sweep's learned currents (members, n), one line per member coloured by `values`, over the
    true current; their errors beneath, and their RMSEs (members,) in the title. The spread across
    members shows how well-posed the fit is."""
    from matplotlib import cm, colormaps, colors

    learned, values = np.atleast_2d(learned), np.asarray(values, float)
    fig, (ax, ax_err) = figure(2, 1, sharex=True, figsize=(6.5, 5.4), gridspec_kw={"height_ratios": [3, 1.6]})
    style = "-" if along == "voltage grid" else "."
    ax.plot(voltage, true, style, color="0.6", lw=3.0, ms=3, label=f"true {replaced} current", zorder=1)
    span = (values.min(), values.max()) if values.max() > values.min() else (values.min() - 0.5, values.max() + 0.5)
    norm = colors.Normalize(*span)
    cmap = colormaps["viridis"]
    for k, row in enumerate(learned):
        colour = cmap(norm(values[k]))
        ax.plot(voltage, row, style, color=colour, lw=0.8, ms=1.2, alpha=0.85, zorder=2,
                label=f"learned, {len(learned)} members" if k == 0 else None)
        ax_err.plot(voltage, row - np.asarray(true), style, color=colour, lw=0.7, ms=1.0, alpha=0.85)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=[ax, ax_err], label=value_label)
    ax.set_ylabel("current (µA/cm², outward +)")
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    rmse = np.asarray(rmse, float)
    ax.set_title(f"{replaced} current along the {along}: RMSE median {np.median(rmse):.3g}, "
                 f"range {rmse.min():.3g}–{rmse.max():.3g} µA/cm²", fontsize=9)
    ax_err.axhline(0.0, color="0.5", lw=0.8)
    ax_err.set_ylabel("learned − true\n(µA/cm²)")
    ax_err.set_xlabel("V (mV)")
    return fig


def metrics_vs_noise(noise, noise_label, metrics: dict, colour=None, colour_label=None):
    """One panel per metric (name -> (values, axis label)) against a swept noise level, members as points."""
    fig, axes = figure(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False)
    for ax, (name, (values, label)) in zip(axes[0], metrics.items()):
        values = np.asarray(values, float)
        points = ax.scatter(noise, values, c=colour if colour is not None else "tab:blue", s=16,
                            cmap="viridis" if colour is not None else None)
        ax.set_xlabel(noise_label)
        ax.set_ylabel(label)
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() > 0 and finite.max() > 10 * finite.min():
            ax.set_yscale("log")
        ax.set_title(f"{name} against noise (one point per member)", fontsize=10)
    if colour is not None:
        fig.colorbar(points, ax=axes[0].tolist(), label=colour_label)
    return fig


def sweeps_fit(t, data_v, model_v, i_ext, labels, heldout, *, title=None):
    """One column per sweep (at most 8 drawn): recorded V (dots) and the fitted model (line) above,
    the injected current below; held-out sweeps titled so."""
    count = min(len(labels), 8)
    fig, axes = figure(2, count, sharex=True, squeeze=False, figsize=(2.6 * count + 1.0, 4.6),
                       gridspec_kw={"height_ratios": [3, 1]})
    for k in range(count):
        ax, ax_i = axes[0][k], axes[1][k]
        ax.plot(t, data_v[k], ".", ms=1.5, color="0.55", label="data")
        ax.plot(t, model_v[k], lw=1.1, color="tab:blue" if heldout[k] else "tab:red",
                label="model (held out)" if heldout[k] else "fitted model")
        ax.set_title(f"sweep {labels[k]}" + (" · held out" if heldout[k] else ""), fontsize=8)
        ax_i.plot(t, i_ext[k], lw=1.0, color="tab:green")
        ax_i.set_xlabel("time (ms)")
        if k == 0:
            ax.set_ylabel(state_label("V"))
            ax_i.set_ylabel("I_ext (µA/cm²)")
        ax.legend(loc="upper right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def member_parameters(x, x_label, parameters: dict, *, title=None):
    """A sweep's fitted parameters: one panel per parameter (name -> (values, stderrs), one per
    member), each member's value with its standard error against `x` (its swept value), the median
    (line) and the interquartile range (band) across members."""
    x = np.asarray(x, float)
    count = len(parameters)
    fig, axes = figure(1, count, figsize=(3.3 * count + 0.6, 3.6), squeeze=False)
    for ax, (name, (values, stderr)) in zip(axes[0], parameters.items()):
        values, stderr = np.asarray(values, float), np.asarray(stderr, float)
        finite = values[np.isfinite(values)]
        if len(finite):
            med = np.median(finite)
            q25, q75 = np.percentile(finite, [25, 75])
            ax.axhspan(q25, q75, color="tab:blue", alpha=0.15, lw=0, label="interquartile range")
            ax.axhline(med, color="tab:blue", lw=1.2, label=f"median {med:.4g}")
        ax.errorbar(x, values, yerr=stderr, fmt="o", ms=3.5, color="k", ecolor="0.5", elinewidth=0.8, capsize=2,
                    label="member ± stderr")
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.legend(loc="best", fontsize=7, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
