"""What a train-pinn run leaves besides the engine's files: predictions, figures, metrics."""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.pinn.networks import count_parameters
from neurocli.pinn.reference import Reference
from neurocli.plotting import pde as pde_plots
from neurocli.plotting import pinn as pinn_plots
from neurocli.run_dir import RunDirectory
from neurocli.training.engine import Cursor
from neurocli.training.history import History

U_LABEL = "u (dimensionless)"
X_LABEL, T_LABEL = "x (dimensionless)", "t (dimensionless)"


def metrics(cfg: TrainPinnConfig, ref: Reference, errors, cur: Cursor, params, wall_s: float) -> dict:
    members = []
    for i, a in enumerate(ref.a):
        members.append({
            "a": float(a),
            "final_loss": float(cur.final_loss[i]),
            "best_loss": float(cur.best_loss[i]),
            "rel_l2": float(errors["rel_l2"][i]),
            "max_abs_err": float(errors["max_abs_err"][i]),
            "rel_l2_T": float(errors["rel_l2_T"][i]),
        })
    timings = cur.timings.totals
    out = {
        "members": members,
        "rel_l2_max": float(errors["rel_l2"].max()),
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "s_per_step": timings["s_per_step"],
        "steps": int(cur.step),
        "steps_this_session": cur.steps_this_session,
        "reference_s": ref.compile_s + ref.run_s,
        "wall_s": wall_s,
        "boundary": cfg.pde.boundary,
        "reference_boundary": ref.boundary,
        "reference_nx": ref.solver_nx,
        "reference_solver": cfg.reference.solver.name,
        "reference_num_steps": ref.num_steps,
        "nt": int(ref.t.size),
        "nx": int(ref.x.size),
        "derivatives": cfg.derivatives,
        "precision": cfg.runtime.precision,
        "parameters_per_member": count_parameters(jax.tree_util.tree_map(lambda v: v[0], params)),
        "devices": len(jax.devices()),
    }
    if cfg.pde.boundary == "none":
        out["reference_note"] = (
            "boundary none (no boundary term, as in the paper's code) leaves the PDE without a unique "
            "solution; the reference uses zero-flux (neumann) ends"
        )
    return out


def figures(run: RunDirectory, cfg: TrainPinnConfig, ref: Reference, u, errors, history: History) -> None:
    titles = [f"a = {a:g}" for a in ref.a]
    err_titles = [f"a = {a:g}: rel L2 {e:.2g}" for a, e in zip(ref.a, errors["rel_l2"])]
    scale = pde_plots.colour_scale(ref.t, u, ref.u)  # one scale for prediction and reference
    grid = dict(x_label=X_LABEL, t_label=T_LABEL)
    k, bc = cfg.pde.k, cfg.pde.boundary
    run.save_figure("heatmaps", pde_plots.heatmap_grid(
        ref.t, ref.x, u, titles, label=U_LABEL, scale=scale, suptitle=f"PINN u(t, x), k = {k:g}, boundary {bc}", **grid))
    run.save_figure("heatmaps_reference", pde_plots.heatmap_grid(
        ref.t, ref.x, ref.u, titles, label=U_LABEL, scale=scale,
        suptitle=f"reference (finite differences, {ref.boundary}, nx = {ref.solver_nx})", **grid))
    run.save_figure("heatmaps_error", pde_plots.heatmap_grid(
        ref.t, ref.x, np.abs(u - ref.u), err_titles, label="|u − reference| (dimensionless)", vmin=0.0,
        suptitle="absolute error of the PINN", **grid))
    times = cfg.output.profile_times or list(np.linspace(0.0, cfg.pde.T, 5))
    run.save_figure("profiles", pinn_plots.profiles_grid(
        ref.t, ref.x, u, ref.u, times=times, titles=err_titles, label=U_LABEL, x_label=X_LABEL))
    if len(history):
        n = ref.a.size
        member = history["member"]
        steps = history["step"][member == 0]
        per = lambda name: np.stack([history[name][member == i] for i in range(n)])  # noqa: E731
        term_names = history.columns[4:]  # after step, member, a, loss
        terms = {name: per(name) for name in term_names} if len(term_names) > 1 else None
        ends = list(cfg.phase_starts[1:-1])
        run.save_figure("loss", pinn_plots.loss_curves(steps, per("loss"), titles, terms=terms, phase_ends=ends))
