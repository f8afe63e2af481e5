"""What a train-pinn run leaves besides the engine's files: members.csv, figures, metrics.

Members are labelled by their swept values (neurocli.members.MemberTable). Per-member figures draw at most
MAX_PANELS members, evenly spaced in member order, and say so; a sweep of two or three parameters
on a grid adds heat maps of each member's error over the swept values (`map_rel_l2`,
`map_max_abs_err`), zipped or sampled members a scatter.
"""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.members.file import write_members
from neurocli.members import MemberTable
from neurocli.pinn.networks import count_parameters
from neurocli.pinn.reference import Reference
from neurocli.plotting import figure_worker
from neurocli.plotting import pde as pde_plots
from neurocli.plotting import pinn as pinn_plots
from neurocli.plotting import sweeps as sweep_plots
from neurocli.run_dir import RunDirectory
from neurocli.training.engine import Cursor
from neurocli.training.history import History

U_LABEL = "u (dimensionless)"
X_LABEL, T_LABEL = "x (dimensionless)", "t (dimensionless)"
MAX_PANELS = 12
"""Per-member figures draw at most this many members."""
MEMBER_COLUMNS = ("final_loss", "rel_l2", "max_abs_err")
"""members.csv's columns after the swept parameters."""
MAPPED = {"rel_l2": "relative L2 error against the reference", "max_abs_err": "max |u − reference|"}


def members_csv(run: RunDirectory, members: MemberTable, errors, cur: Cursor, solution=None) -> None:
    """members.csv: the swept parameters (by dotted path), then final_loss, rel_l2, max_abs_err, and
    with analysis.solutions the member's solution id (`solution`, an integer)."""
    columns = [np.asarray(cur.final_loss, dtype=float), errors["rel_l2"], errors["max_abs_err"]]
    extra = [] if solution is None else ["solution"]
    if solution is not None:
        columns.append(np.asarray(solution, dtype=float))
    write_members(run, [*members.names, *MEMBER_COLUMNS, *extra], np.column_stack([members.values, *columns]),
                  integers=extra)


def solutions(run: RunDirectory, cfg: TrainPinnConfig, members: MemberTable, ref: Reference, u) -> tuple[np.ndarray, dict]:
    """analysis.solutions: the predictions grouped into distinct solutions (and, for comparison,
    the references: each member's regularised finite-difference solve), figures/solutions.pdf."""
    from neurocli.analysis.solutions import summary
    from neurocli.plotting import solutions as solution_plots

    threshold = cfg.analysis.solution_threshold
    labels, found = summary(u, threshold)
    ref_labels, ref_found = summary(ref.u, threshold)
    found["reference_count"] = ref_found["count"]
    found["reference_member_solution"] = ref_found["member_solution"]
    reps = [c["representative"] for c in found["clusters"]]
    titles = [f"solution {c}: member {r}\n{members.label(r)}" for c, r in enumerate(reps)]
    figure_worker.save(run, "solutions", solution_plots.solution_maps, ref.t, ref.x, np.asarray(u)[reps], titles)
    return labels, found


def metrics(cfg: TrainPinnConfig, ref: Reference, errors, cur: Cursor, params, wall_s: float) -> dict:
    members = []
    for i, (a, k, T) in enumerate(zip(ref.a, ref.k, ref.T)):
        members.append({
            "a": float(a),
            "k": float(k),
            "T": float(T),
            "final_loss": float(cur.final_loss[i]),
            "best_loss": float(cur.best_loss[i]),
            "rel_l2": float(errors["rel_l2"][i]),
            "max_abs_err": float(errors["max_abs_err"][i]),
            "rel_l2_T": float(errors["rel_l2_T"][i]),
        })
    out = {
        "members": members,
        "swept": cfg.swept,
        "rel_l2_max": float(errors["rel_l2"].max()),
        **run_timings(cur, ref.compile_s + ref.run_s, wall_s),
        "boundary": cfg.pde.boundary,
        "reference_boundary": ref.boundary,
        "reference_nx": ref.solver_nx,
        "reference_solver": cfg.reference.solver.name,
        "reference_num_steps": ref.num_steps,
        "nt": int(ref.t.shape[-1]),
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


def run_timings(cur: Cursor, reference_s: float, wall_s: float) -> dict:
    """Every train-pinn run's timings: compile, train and per step (summed over resumes), steps,
    the reference solve's and the run's wall time."""
    timings = cur.timings.totals
    return {"compile_s": timings["compile_s"], "train_s": timings["train_s"], "s_per_step": timings["s_per_step"],
            "steps": int(cur.step), "steps_this_session": cur.steps_this_session, "reference_s": reference_s,
            "wall_s": wall_s}


def shown_members(n: int) -> np.ndarray:
    """The members per-member figures draw: all, or MAX_PANELS evenly spaced (first and last included)."""
    return np.arange(n) if n <= MAX_PANELS else np.unique(np.linspace(0, n - 1, MAX_PANELS).round().astype(int))


def figures(run: RunDirectory, cfg: TrainPinnConfig, members: MemberTable, ref: Reference, u, errors) -> None:
    """The fields, their errors and profiles against the reference (the loss: `loss_figure`)."""
    shown = shown_members(members.n)
    some = "" if shown.size == members.n else f" ({shown.size} of {members.n} members)"
    titles = [members.label(i) for i in shown]
    err_titles = [f"{members.label(i)}: rel L2 {errors['rel_l2'][i]:.2g}" for i in shown]
    u_s, ref_s = u[shown], ref.u[shown]
    t = ref.t if ref.t.ndim == 1 else ref.t[shown]  # each member's own times when pde.T is swept
    scale = pde_plots.colour_scale(ref.t if ref.t.ndim == 1 else ref.t[0], u_s, ref_s)  # one scale for both
    grid = dict(x_label=X_LABEL, t_label=T_LABEL)
    bc = cfg.pde.boundary
    k = "" if members.swept("pde.k") else f", k = {cfg.pde.k:g}"
    figure_worker.save(run, "heatmaps", pde_plots.heatmap_grid,
                       t, ref.x, u_s, titles, label=U_LABEL, scale=scale,
                       suptitle=f"PINN u(t, x){k}, boundary {bc}{some}", **grid)
    figure_worker.save(run, "heatmaps_reference", pde_plots.heatmap_grid,
                       t, ref.x, ref_s, titles, label=U_LABEL, scale=scale,
                       suptitle=f"reference (finite differences, {ref.boundary}, nx = {ref.solver_nx}){some}", **grid)
    figure_worker.save(run, "heatmaps_error", pde_plots.heatmap_grid,
                       t, ref.x, np.abs(u_s - ref_s), err_titles, label="|u − reference| (dimensionless)", vmin=0.0,
                       suptitle=f"absolute error of the PINN{some}", **grid)
    times = cfg.output.profile_times or list(np.linspace(0.0, cfg.pde.T, 5))
    if ref.t.ndim == 2:  # pde.T swept: fractions 0, 1/4, …, 1 of each member's T
        times = np.outer(ref.T[shown], np.linspace(0.0, 1.0, 5))
    figure_worker.save(run, "profiles", pinn_plots.profiles_grid,
                       t, ref.x, u_s, ref_s, times=times, titles=err_titles, label=U_LABEL, x_label=X_LABEL)
    if len(members.names) > 1:
        maps(run, cfg, members, errors)


def loss_figure(run: RunDirectory, cfg: TrainPinnConfig, members: MemberTable, history: History) -> None:
    """The loss per step of the shown members (and its terms): handed to the figure worker as soon
    as training ends, drawn while this process evaluates the networks."""
    if not len(history):
        return
    shown = shown_members(members.n)
    titles = [members.label(i) for i in shown]
    member = history["member"]
    steps = history["step"][member == 0]
    per = lambda name: np.stack([history[name][member == i] for i in shown])  # noqa: E731
    term_names = history.columns[history.columns.index("loss") + 1:]
    terms = {name: per(name) for name in term_names} if len(term_names) > 1 else None
    ends = list(cfg.phase_starts[1:-1])
    figure_worker.save(run, "loss", pinn_plots.loss_curves, steps, per("loss"), titles, terms=terms, phase_ends=ends)


def maps(run: RunDirectory, cfg: TrainPinnConfig, members: MemberTable, errors) -> None:
    """Each member's error over the swept values (log colour scale): heat maps over a grid of 2 or
    3 parameters, a scatter otherwise (zip, samples, more parameters)."""
    sweep_plots.save_maps(run, cfg.sweep, list(members.names), members.values, errors, MAPPED, units=members.units,
                          log_colour=True)
