"""Figures for `neurocli discover`. Functions take arrays and return matplotlib figures."""

from __future__ import annotations

import numpy as np

from neurocli.plotting.style import figure
from neurocli.plotting.ude import state_label

LEGEND = {"loc": "best", "fontsize": 8, "frameon": True, "framealpha": 1.0, "facecolor": "white", "edgecolor": "0.8"}


def current(voltage, learned, recovered, true, *, replaced, along, equation):
    """The network's current and the recovered equation's over V (and the true one when known),
    with their differences beneath."""
    voltage, learned, recovered = np.asarray(voltage), np.asarray(learned), np.asarray(recovered)
    style = "-" if along == "voltage grid" else "."
    fig, (ax, ax_err) = figure(2, 1, sharex=True, figsize=(6.8, 5.4), gridspec_kw={"height_ratios": [3, 1.5]})
    if true is not None:
        ax.plot(voltage, true, style, color="0.75", lw=3.2, ms=4, label=f"true {replaced} current")
    ax.plot(voltage, learned, style, color="tab:blue", lw=1.6, ms=2.5, label="learned (network)")
    ax.plot(voltage, recovered, "--" if style == "-" else "x", color="tab:red", lw=1.1, ms=2.5,
            label="recovered equation")
    ax.set_ylabel("current (µA/cm², outward +)")
    ax.legend(**LEGEND)
    ax.set_title(equation, fontsize=9)
    ax_err.axhline(0.0, color="0.7", lw=0.8)
    ax_err.plot(voltage, recovered - learned, style, color="tab:red", lw=1.0, ms=1.5, label="recovered − learned")
    if true is not None:
        ax_err.plot(voltage, recovered - np.asarray(true), style, color="k", lw=0.8, ms=1.0, alpha=0.7,
                    label="recovered − true")
    ax_err.set_ylabel("difference\n(µA/cm²)")
    ax_err.set_xlabel(f"V (mV), along the {along}")
    ax_err.legend(**LEGEND)
    return fig


def validation(t, reference, recovered, network, names, i_ext, *, title):
    """The held-out protocol: the true model (the data), the recovered equation's ODE and the
    network's UDE; one panel per state and the injected current beneath."""
    n = len(names)
    fig, axes = figure(n + 1, 1, sharex=True, figsize=(7, 1.9 * n + 1.4), gridspec_kw={"height_ratios": [3] * n + [1]})
    for k, name in enumerate(names):
        ax = axes[k]
        ax.plot(t, reference[:, k], lw=2.6, color="0.7", label="true model (held-out data)")
        ax.plot(t, network[:, k], lw=1.0, ls=":", color="tab:blue", label="network UDE")
        ax.plot(t, recovered[:, k], lw=1.1, ls="--", color="tab:red", label="recovered equation")
        ax.set_ylabel(state_label(name))
    axes[0].legend(**LEGEND)
    axes[-1].plot(t, i_ext, lw=1.1, color="tab:green")
    axes[-1].set_ylabel("I_ext (µA/cm²)")
    axes[-1].set_xlabel("time (ms)")
    axes[0].set_title(title, fontsize=9)
    return fig


def forms(names, counts, *, members):
    """How often each form was selected over a sweep's members."""
    fig, ax = figure(figsize=(6.5, 0.5 * len(names) + 1.6))
    y = np.arange(len(names))
    ax.barh(y, counts, color="tab:blue")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"members selecting the form (of {members})")
    ax.set_title("selected current forms over the sweep's members", fontsize=10)
    return fig
