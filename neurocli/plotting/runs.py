"""Figures of `neurocli runs compare` and `neurocli tune`. Functions take arrays and return figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurocli.plotting.style import figure

COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")


def loss_overlay(names: Sequence[str], curves: Sequence[dict[str, list[tuple[float, float]]] | None]):
    """Each run's training loss against its step, one colour per run (a sweep's members in the
    run's colour, thinner), on a log axis."""
    fig, ax = figure(figsize=(7.0, 4.2))
    for i, (name, members) in enumerate(zip(names, curves)):
        if not members:
            continue
        colour = COLOURS[i % len(COLOURS)]
        many = len(members) > 1
        for j, (member, points) in enumerate(members.items()):
            step, loss = np.asarray(points, float).T
            label = None if j else (f"{name} ({len(members)} members)" if many else name)
            ax.plot(step, loss, color=colour, lw=0.8 if many else 1.2, alpha=0.8 if many else 1.0, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("training step (loss.csv `step`)")
    ax.set_ylabel("training loss (loss.csv `loss`)")
    ax.set_title("loss curves of the compared runs", fontsize=10)
    ax.legend(loc="best", fontsize=7, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    return fig


def optimisation_history(numbers: Sequence[int], values: Sequence[float], failed: Sequence[int], objective: str,
                         direction: str):
    """Each complete trial's objective, the best so far as a step line, failed trials marked."""
    fig, ax = figure(figsize=(6.4, 4.0))
    numbers, values = np.asarray(numbers, float), np.asarray(values, float)
    if len(values):
        best = np.minimum.accumulate(values) if direction == "minimize" else np.maximum.accumulate(values)
        ax.plot(numbers, values, "o", ms=4, color="tab:blue", label="complete trial")
        ax.step(numbers, best, where="post", color="k", lw=1.0, ls="--", label=f"best so far ({direction})")
        if np.all(values > 0) and values.max() > 10 * values.min():
            ax.set_yscale("log")
    if len(failed):
        ax.plot(failed, np.zeros(len(failed)), "x", color="tab:red", transform=ax.get_xaxis_transform(),
                clip_on=False, label=f"failed trial ({len(failed)})")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"objective: {objective}")
    ax.set_title("optimisation history", fontsize=10)
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=1.0, facecolor="white", edgecolor="0.8")
    return fig
