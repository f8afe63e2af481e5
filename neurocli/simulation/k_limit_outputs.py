"""`analysis.k_convergence` on a PDE sweep over model.k: e(k) = ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ per
group of the other swept values, a fitted power law (neurocli/analysis/k_limit.py), a figure
(figures/k_convergence.pdf) and metrics.json's `k_convergence`."""

from __future__ import annotations

import numpy as np

from neurocli.analysis import k_limit
from neurocli.plotting import figure_worker
from neurocli.plotting import solutions as solution_plots
from neurocli.plotting.style import member_label
from neurocli.run_dir import RunDirectory


def write(names, table, fields, run: RunDirectory) -> dict:
    curves = k_limit.convergence(fields, list(names), np.asarray(table))
    labels = [member_label(list(c["fixed"]), list(c["fixed"].values())) if c["fixed"] else "" for c in curves]
    figure_worker.save(run, "k_convergence", solution_plots.k_convergence, [c["k"] for c in curves],
                       [c["distance"] for c in curves], [c["rate"] for c in curves], [c["prefactor"] for c in curves],
                       labels, fit_gap=k_limit.FIT_GAP)
    return {
        "distance": "relative L2 over (t, x): ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖",
        "fit": f"e ≈ C k^(−rate), least squares in log–log over k ≤ k_max / {k_limit.FIT_GAP:g}",
        "curves": curves,
    }
