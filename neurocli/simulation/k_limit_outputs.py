"""`analysis.k_convergence` on a PDE sweep over model.k: e(k) = ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ per
group of the other swept values, a fitted power law (neurocli/analysis/k_limit.py), a figure
(figures/k_convergence.pdf) and metrics.json's `k_convergence`."""

from __future__ import annotations

import numpy as np

from neurocli.analysis import k_limit
from neurocli.plotting import figure_worker
from neurocli.plotting import solutions as solution_plots
from neurocli.members import MemberTable
from neurocli.run_dir import RunDirectory


def write(members: MemberTable, fields, run: RunDirectory) -> dict:
    curves = k_limit.convergence(fields, list(members.names), members.values)
    labels = [_label(members, c["fixed"]) for c in curves]
    figure_worker.save(run, "k_convergence", solution_plots.k_convergence, [c["k"] for c in curves],
                       [c["distance"] for c in curves], [c["rate"] for c in curves], [c["prefactor"] for c in curves],
                       labels, fit_gap=k_limit.FIT_GAP)
    return {
        "distance": "relative L2 over (t, x): ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖",
        "fit": f"e ≈ C k^(−rate), least squares in log–log over k ≤ k_max / {k_limit.FIT_GAP:g}",
        "curves": curves,
    }


def _label(members: MemberTable, fixed: dict) -> str:
    """A curve by the swept values it holds fixed (its units as the member table has them)."""
    if not fixed:
        return ""
    names = tuple(fixed)
    return MemberTable(names, [list(fixed.values())], tuple(members.unit(n) for n in names)).label(0)
