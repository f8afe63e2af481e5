"""What a recording fit with a `sweep` of seeds leaves (neurocli/ude/recording_sweep.py): every
member's fitted parameters, and their median and spread across members (identifiability).

Each member is evaluated as its single run is (recording_run.write): its best parameters solved
over its training sweeps and its held-out ones, SSEs over the observed states, Gauss–Newton
standard errors. Every evaluation is one jitted call vmapped over the members.

- members.csv: one row per member: the swept paths (seeds as integers), `best_loss`,
  `final_loss`, `fit_sse`, `heldout_sse`, `current_rmse`, `fit_residual_sd`, then
  `fitted_<name>` for every fitted parameter.
- metrics.json: `members` (one dict per member: its swept values, those metrics,
  `fitted_parameters` {name: {value, stderr}} and `fitted_v0_offsets`); `fitted_parameters`
  {name: {value, median, min, max, q25, q75, iqr, mad, stderr_median, values, init, log, bounds}}
  across members, where value = median, q25/q75 are numpy's linearly interpolated percentiles,
  iqr = q75 − q25 and mad = median |x − median| (unscaled); `<metric>_median`, `_min`, `_max` of
  each metric above; the contract's top-level metric keys hold the **median over members**.
- figures: loss.pdf (every member's loss), parameters.pdf (each fitted parameter per member with
  its standard error, the median and the interquartile band), current.pdf with a network (every
  member's learned current along the same states: the clean trajectory of simulated data, else
  member 0's fitted one).
"""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.ude import TrainUDEConfig
from neurocli.plotting import ude as plots
from neurocli.run_dir import RunDirectory
from neurocli.training.engine import Cursor
from neurocli.ude import data as ude_data
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude import recording_fit as rf
from neurocli.ude import sweep_outputs
from neurocli.ude.recording_sweep import RecordingSweepTask, member_losses, per_member, stacked_fields
from neurocli.ude.sweep import data_swept, member

METRICS = ("best_loss", "final_loss", "fit_sse", "heldout_sse", "current_rmse", "fit_residual_sd")


def spread(values) -> dict:
    """Median and spread of one parameter's member values (NaN members left out)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if not len(x):
        return {k: float("nan") for k in ("median", "min", "max", "q25", "q75", "iqr", "mad")}
    med = float(np.median(x))
    q25, q75 = (float(q) for q in np.percentile(x, [25, 75]))
    return {"median": med, "min": float(np.min(x)), "max": float(np.max(x)), "q25": q25, "q75": q75,
            "iqr": q75 - q25, "mad": float(np.median(np.abs(x - med)))}


def _solve(objective, best, fields) -> tuple[np.ndarray, np.ndarray]:
    """Every member's trajectories over the objective's sweeps (NaN where a solve failed), and which failed."""
    ys, _ = per_member(lambda o, p: o.predict(p), objective, best, fields)
    ys = np.array(ys)
    failed = ~np.isfinite(ys).reshape(ys.shape[0], ys.shape[1], -1).all(axis=2)
    ys[failed] = np.nan
    return ys, failed


def _sse(objective, fields, ys: np.ndarray) -> np.ndarray:
    """(member, sweep) SSE over the observed states."""
    data = np.asarray(objective.data)[None] if fields is None else np.asarray(fields["data"])
    w = np.asarray(objective.weights) > 0
    return np.sum(((ys - data) ** 2)[..., w], axis=(2, 3))


def write(run: RunDirectory, cfg: TrainUDEConfig, prep, fit: rf.Fit, task: RecordingSweepTask, cur: Cursor) -> dict:
    sweep, loss = task.sweep, task.loss_fn
    n = len(sweep)
    best = task.placement.unpad(cur.best)
    swept = data_swept(sweep)
    fields = stacked_fields(task.recordings) if swept else None
    ys, failed = _solve(loss, best, fields)
    per_train = _sse(loss, fields, ys)
    per_held = None
    if fit.heldout:
        held = member_losses(cfg, sweep, task.fits, loss.ude, loss.net_static, prep.stimulus, heldout=True)
        held_fields = stacked_fields(held) if swept else None
        ys_held, failed_held = _solve(held[0], best, held_fields)
        per_held = _sse(held[0], held_fields, ys_held)
        failed = np.concatenate([failed, failed_held], axis=1)

    errors = [None] * n
    if fit.specs:
        r, jac = per_member(rf.residuals_and_jacobian, loss, best, fields)
        errors = [rf.parameter_errors(loss, member(best, m), np.asarray(r[m]), np.asarray(jac[m])) for m in range(n)]

    currents = None
    if cfg.ude.replaced != "none":
        names = cfg.state_names
        sweeps = fit.sweeps
        states = (sweeps.clean[fit.train] if sweeps.clean is not None else ys[0]).reshape(-1, len(names))
        states = states[np.isfinite(states).all(axis=1)]
        if states.size:
            ref = ude_data.Recording(names, np.arange(len(states), dtype=float), states, states)
            currents = ude_evaluate.compare_members(loss.model, best, ref)

    values = [sweep.row(m) for m in range(n)]
    rows = []
    for m in range(n):
        e = errors[m]
        rows.append({
            "best_loss": float(cur.best_loss[m]), "final_loss": float(cur.final_loss[m]),
            "best_iteration": int(cur.best_step[m]),
            "fit_sse": float(np.sum(per_train[m])), "fit_sse_per_sweep": [float(x) for x in per_train[m]],
            "heldout_sse": None if per_held is None else float(np.sum(per_held[m])),
            "heldout_sse_per_sweep": None if per_held is None else [float(x) for x in per_held[m]],
            "current_rmse": None if currents is None else currents[m].rmse,
            "current_max_err": None if currents is None else currents[m].max_err,
            "fit_residual_sd": None if e is None else e["residual_sd"],
            "fitted_parameters": None if e is None else {k: {"value": v["value"], "stderr": v["stderr"]}
                                                          for k, v in e["parameters"].items()},
            "solve_failed": bool(failed[m].any()),
        })
        if "v0" in best:
            rows[-1]["fitted_v0_offsets"] = [float(x) for x in np.asarray(best["v0"][m])]

    def column(k):
        return np.array([np.nan if r[k] is None else r[k] for r in rows], float)

    table = {k: column(k) for k in METRICS}
    fitted = {}
    for s in fit.specs:
        xs = [r["fitted_parameters"][s.name]["value"] for r in rows]
        ses = [r["fitted_parameters"][s.name]["stderr"] for r in rows]
        st = spread(xs)
        fitted[s.name] = {"value": st["median"], **st, "stderr_median": float(np.median(ses)), "values": xs,
                          "init": s.init, "log": s.log, "bounds": None if s.lo is None else [s.lo, s.hi]}

    run.write_csv("members.csv", [*sweep.names, *METRICS, *(f"fitted_{s.name}" for s in fit.specs)],
                  [[*(values[m][k] for k in sweep.names), *(repr(float(table[k][m])) for k in METRICS),
                    *(repr(float(rows[m]["fitted_parameters"][s.name]["value"])) for s in fit.specs)]
                   for m in range(n)])

    sweep_outputs.loss_figure(run, cfg, cur.history)
    colour_by = sweep.names[0]
    if fit.specs:
        run.save_figure("parameters", plots.member_parameters(
            sweep.column(colour_by), sweep_outputs._label(colour_by),
            {s.name: (np.array(fitted[s.name]["values"]),
                      np.array([r["fitted_parameters"][s.name]["stderr"] for r in rows])) for s in fit.specs},
            title=f"fitted parameters over {n} members ({fit.sweeps.count} sweep(s), "
                  f"{', '.join(fit.observed)} observed)"))
    if currents is not None:
        first = currents[0]
        run.save_figure("current", plots.member_currents(
            first.voltage, np.stack([c.learned for c in currents]), first.true, sweep.column(colour_by),
            sweep_outputs._label(colour_by), replaced=cfg.ude.replaced, along=first.along,
            rmse=table["current_rmse"]))

    stats = {f"{k}_{name}": sweep_outputs._stat(fn, table[k]) for k in METRICS
             for name, fn in (("median", np.median), ("min", np.min), ("max", np.max))}

    def median_or_none(k):
        return None if np.isnan(table[k]).all() else stats[f"{k}_median"]

    timings = cur.timings.totals
    sweeps = fit.sweeps
    metrics = {
        "best_loss": stats["best_loss_median"],
        "final_loss": stats["final_loss_median"],
        "iterations": cur.step,
        "failed_solves": cur.failed,
        "current_rmse": median_or_none("current_rmse"),
        "current_max_err": None if currents is None else float(np.median([c.max_err for c in currents])),
        "validation_sse": median_or_none("heldout_sse"),
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "s_per_iter": timings["s_per_step"],
        "top_level_metrics_are": "median over members",
        "swept": list(sweep.names),
        "member_count": n,
        "phases": [p.optimizer for p in cfg.train.phases],
        "whole_record_from": loss.full_window_from,
        "s_per_iter_by_phase": cur.timings.per_phase(),
        "iterations_this_session": cur.steps_this_session,
        "replaced": cfg.ude.replaced,
        "network_inputs": list(cfg.network_inputs),
        "network_parameters": int(sum(np.size(x) for x in jax.tree.leaves(member(best, 0)["network"]))),
        "current_compared_along": None if currents is None else currents[0].along,
        "fit_sse": stats["fit_sse_median"],
        "validation_failed": "; ".join(f"member {m}: solve failed" for m in range(n) if rows[m]["solve_failed"]) or None,
        "data_source": sweeps.source,
        "observed": list(fit.observed),
        "sweeps_trained": [sweeps.labels[k] for k in fit.train],
        "sweeps_heldout": [sweeps.labels[k] for k in fit.heldout],
        "heldout_sse": median_or_none("heldout_sse"),
        "samples_per_sweep": int(sweeps.t.size),
        "stimulus_jump_times": len(loss.jump_ts),
        "fitted_parameters": fitted or None,
        "fit_residual_sd": median_or_none("fit_residual_sd"),
        **stats,
        "members": [{**values[m], **rows[m]} for m in range(n)],
    }
    return metrics
