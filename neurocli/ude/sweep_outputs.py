"""What a train-ude sweep leaves besides the engine's files: members.csv, current.csv, figures and
metrics.json.

Every member's best network is evaluated as a single run's is (`ude.evaluate`: fit to its own
data, learned against true current, held-out validation): best_loss, final_loss, current_rmse,
current_max_err and validation_sse per member.

- members.csv: one row per member: the swept parameters (columns named by their dotted paths;
  seeds as integers), then those five metrics.
- current.csv: V, the network inputs, the true current, then `learned_<i>` for every member (the
  comparison points are the same for all: the clean trajectory, or the voltage grid over it).
- metrics.json: `members` (one dict per member: swept values and metrics), for each metric its
  `<metric>_median`, `_min` and `_max` over members, and the contract's top-level keys: the five
  metrics as the **median over members** (numbers, as in a single run), `iterations`,
  `failed_solves` (rejected member-steps, all members), `compile_s`, `train_s`, `s_per_iter`.
- figures: loss.pdf (every member's loss, their median), current.pdf (every member's learned
  current over the true one: the spread across members), and metrics_vs_noise.pdf when a noise
  level is swept (current_rmse and validation_sse against it).
"""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.ude import NOISE, TrainUDEConfig
from neurocli.numerics.solve import SolveFailed
from neurocli.plotting import ude as plots
from neurocli.run_dir import RunDirectory
from neurocli.training.engine import Cursor
from neurocli.training.history import History
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude.outputs import phase_names
from neurocli.ude.sweep import member, noise_swept
from neurocli.ude.sweep_task import UdeSweepTask

METRICS = ("best_loss", "final_loss", "current_rmse", "current_max_err", "validation_sse")


def loss_figure(run: RunDirectory, cfg: TrainUDEConfig, history: History) -> None:
    run.save_figure("loss", plots.member_losses(
        history["step"], history["member"], history["loss"], history["phase"], phase_names(cfg),
        history["rejected"], title=f"train-ude sweep: {cfg.ude.replaced} current replaced"))


def evaluate(cfg: TrainUDEConfig, prep, task: UdeSweepTask, cur: Cursor):
    """(per-member metric rows, the current comparisons) of every member's best network: each
    evaluation is one vmapped solve or network pass over the members."""
    recordings, model_of = task.recordings, task.loss_fn.model
    best = task.placement.unpad(cur.best)  # the real members (the device padding dropped)
    y0 = np.stack([r.y0 for r in recordings])
    t = recordings[0].t
    fit, fit_failed = ude_evaluate.solve_members(model_of, best, prep.stimulus, y0, t, cfg.solve.solver,
                                                 cfg.solve.declare_stimulus_edges)
    currents = ude_evaluate.compare_members(model_of, best, recordings[0])
    true, why = ude_evaluate.solve_on(prep.truth, prep.validation_stimulus, recordings[0].y0, t, cfg.validation.solver)
    if why is not None:
        raise SolveFailed(f"the true model under the validation stimulus: {why}")
    val, val_failed = ude_evaluate.solve_members(model_of, best, prep.validation_stimulus, y0, t,
                                                 cfg.validation.solver)
    rows = []
    for m, recording in enumerate(recordings):
        fit_sse = float(np.sum((fit[m] - recording.y) ** 2)) if fit_failed[m] is None else float("inf")
        val_sse = float(np.sum((val[m] - true) ** 2)) if val_failed[m] is None else float("inf")
        rows.append({"best_loss": float(cur.best_loss[m]), "final_loss": float(cur.final_loss[m]),
                     "current_rmse": currents[m].rmse, "current_max_err": currents[m].max_err,
                     "validation_sse": val_sse, "best_iteration": int(cur.best_step[m]), "fit_sse": fit_sse,
                     "validation_failed": val_failed[m]})
    return rows, currents


def write(run: RunDirectory, cfg: TrainUDEConfig, prep, task: UdeSweepTask, cur: Cursor) -> dict:
    sweep = task.sweep
    rows, currents = evaluate(cfg, prep, task, cur)
    values = [sweep.row(m) for m in range(len(sweep))]
    table = {k: np.array([r[k] for r in rows], float) for k in METRICS}

    run.write_csv("members.csv", [*sweep.names, *METRICS],
                  [[*(values[m][n] for n in sweep.names), *(_cell(rows[m][k]) for k in METRICS)]
                   for m in range(len(sweep))])
    first = currents[0]
    names = task.recordings[0].names
    inputs = [names[i] for i in task.loss_fn.ude.input_index]
    learned = np.stack([c.learned for c in currents])
    run.write_csv("current.csv", ["V", *(f"input_{n}" for n in inputs), "true",
                                  *(f"learned_{m}" for m in range(len(sweep)))],
                  np.column_stack([first.voltage, first.inputs, first.true, learned.T]).tolist())

    loss_figure(run, cfg, cur.history)
    colour_by = sweep.names[0]
    run.save_figure("current", plots.member_currents(
        first.voltage, learned, first.true, sweep.column(colour_by), _label(colour_by),
        replaced=cfg.ude.replaced, along=first.along, rmse=table["current_rmse"]))
    if noise_swept(sweep):
        noise = noise_swept(sweep)[0]
        others = [n for n in sweep.names if n != noise]
        run.save_figure("metrics_vs_noise", plots.metrics_vs_noise(
            sweep.column(noise), _label(noise),
            {"current_rmse": (table["current_rmse"], "current RMSE (µA/cm²)"),
             "validation_sse": (table["validation_sse"], "validation SSE (summed over states; mV² for V)")},
            colour=sweep.column(others[0]) if others else None, colour_label=_label(others[0]) if others else None))

    timings = cur.timings.totals
    stats = {f"{k}_{name}": _stat(fn, table[k]) for k in METRICS
             for name, fn in (("median", np.median), ("min", np.min), ("max", np.max))}
    metrics = {k: stats[f"{k}_median"] for k in METRICS}
    metrics.update({
        "iterations": cur.step,
        "failed_solves": cur.failed,
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "s_per_iter": timings["s_per_step"],
        "top_level_metrics_are": "median over members",
        "swept": list(sweep.names),
        "member_count": len(sweep),
        **stats,
        "members": [{**values[m], **rows[m]} for m in range(len(sweep))],
        "phases": [p.optimizer for p in cfg.train.phases],
        "s_per_iter_by_phase": cur.timings.per_phase(),
        "iterations_this_session": cur.steps_this_session,
        "replaced": cfg.ude.replaced,
        "network_inputs": list(cfg.network_inputs),
        "network_parameters": int(sum(np.size(x) for x in jax.tree.leaves(member(task.placement.unpad(cur.best), 0)))),
        "current_compared_along": first.along,
    })
    return metrics


def _stat(fn, values: np.ndarray) -> float:
    """fn over the members whose value is a number (NaN: none is)."""
    known = values[~np.isnan(values)]
    return float(fn(known)) if len(known) else float("nan")


def _cell(value: float) -> str:
    return repr(float(value))  # the shortest text that reads back exactly; inf, nan


def _label(path: str) -> str:
    if path.startswith(NOISE):
        state = path.rsplit(".", 1)[1]
        unit = "mV" if state == "V" else "dimensionless"
        return f"noise standard deviation of {state} ({unit})"
    return {"runtime.seed": "network seed (runtime.seed)", "data.seed": "noise seed (data.seed)"}[path]
