"""A cable PINN's files, metrics and figures: predictions.npz and reference.npz (every field),
per-field errors, the PINN's conduction velocity next to the reference's, heat maps of V(x, t)
(PINN, reference on one colour scale, and the error), the spike at the two velocity points, the
loss over the windows."""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.pinn.cable_reference import CableReference, conduction_velocity
from neurocli.pinn.networks import count_parameters
from neurocli.pinn.outputs import run_timings
from neurocli.plotting import cable as cable_plots
from neurocli.plotting import pde as pde_plots
from neurocli.plotting import pinn as pinn_plots
from neurocli.run_dir import RunDirectory
from neurocli.simulation.cable_outputs import labels, title
from neurocli.training.engine import Cursor


def errors(pred: np.ndarray, ref: CableReference) -> dict[str, float]:
    """Per field: relative L2 over the whole grid and the largest absolute error."""
    out = {}
    for name, p, r in zip(ref.names, pred, ref.fields):
        out[f"rel_l2_{name}"] = float(np.linalg.norm(p - r) / np.linalg.norm(r))
        out[f"max_abs_err_{name}"] = float(np.max(np.abs(p - r)))
    return out


def write_arrays(run: RunDirectory, ref: CableReference, pred: np.ndarray) -> None:
    """predictions.npz and reference.npz: t, x, u (1, nt, nx) (the membrane potential, as every
    train-pinn run), and one (nt, nx) array per field by name."""
    for name, values in (("predictions.npz", pred), ("reference.npz", ref.fields)):
        run.write_npz(name, t=ref.t, x=ref.x, u=values[:1], **dict(zip(ref.names, values)))


def metrics(cfg: TrainPinnConfig, ref: CableReference, pred: np.ndarray, cur: Cursor, params, wall_s: float) -> dict:
    err = errors(pred, ref)
    first = ref.names[0]
    c = conduction_velocity(cfg, ref.t, ref.x, pred[0])
    c_ref = conduction_velocity(cfg, ref.t, ref.x, ref.fields[0])
    member = {"final_loss": float(cur.final_loss[0]), "rel_l2": err[f"rel_l2_{first}"],
              "max_abs_err": err[f"max_abs_err_{first}"], **err,
              "conduction_velocity_m_per_s": c, "reference_conduction_velocity_m_per_s": c_ref}
    one_window = jax.tree_util.tree_map(lambda v: v[0], params)
    return {
        "members": [member],
        "model": cfg.pde.model,
        "fields": list(ref.names),
        **{k: v for k, v in member.items() if k != "final_loss"},
        "velocity_rel_err": abs(c - c_ref) / abs(c_ref) if np.isfinite(c) and np.isfinite(c_ref) else float("nan"),
        "windows": cfg.pde.windows,
        **run_timings(cur, ref.compile_s + ref.run_s, wall_s),
        "reference_nx": ref.solver_nx,
        "reference_solver": cfg.reference.solver.name,
        "reference_num_steps": ref.num_steps,
        "nt": int(ref.t.size),
        "nx": int(ref.x.size),
        "precision": cfg.runtime.precision,
        "parameters_per_window": count_parameters(one_window),
        "devices": len(jax.devices()),
    }


def figures(run: RunDirectory, cfg: TrainPinnConfig, ref: CableReference, pred: np.ndarray, cur: Cursor) -> None:
    text = labels(cfg.pde.cable)
    grid = dict(x_label=text["x"], t_label=text["t"])
    V, V_ref = pred[0], ref.fields[0]
    scale = pde_plots.colour_scale(ref.t, V[None], V_ref[None], clip=False)  # one scale for the PINN and the reference
    rel = np.linalg.norm(V - V_ref) / np.linalg.norm(V_ref)
    name = title(cfg.pde.cable)
    run.save_figure("heatmaps", pde_plots.heatmap_grid(
        ref.t, ref.x, np.stack([V, V_ref]), ["PINN", f"reference ({cfg.reference.solver.name}, nx = {ref.solver_nx})"],
        cmap="viridis", label=text["V"], scale=scale, suptitle=name, **grid))
    unit = f" ({cfg.pde.cable.units['voltage']})" if cfg.pde.cable.units["voltage"] else ""
    run.save_figure("heatmaps_error", pde_plots.heatmap_grid(
        ref.t, ref.x, np.abs(V - V_ref)[None], [f"|PINN − reference|, rel L2 {rel:.2g}"], cmap="magma",
        label=f"|{ref.names[0]} error|{unit}", vmin=0.0, suptitle=name, **grid))
    points = [p * cfg.pde.length for p in cfg.pde.velocity_points]
    run.save_figure("spikes", cable_plots.pinn_against_reference(ref.t, ref.x, V, V_ref, points, title=name, labels=text))
    history = cur.history
    if len(history):
        per_window = sum(p.iterations for p in cfg.phases)
        ends = [per_window * w for w in range(1, cfg.pde.windows)]
        terms = {n: history[f"residual_{n}"][None] for n in ref.names}
        run.save_figure("loss", pinn_plots.loss_curves(history["step"], history["loss"][None], ["PINN"],
                                                       terms=terms, phase_ends=ends, ends_label="next window"))
