"""What a train-ude run leaves besides the engine's files: fit, current and validation CSVs and
figures, the loss figure, and metrics.json's numbers."""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.ude import TrainUDEConfig
from neurocli.plotting import figure_worker
from neurocli.plotting import ude as plots
from neurocli.run_dir import RunDirectory
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude.task import UdeTask
from neurocli.training.engine import Cursor
from neurocli.training.history import History


def phase_names(cfg: TrainUDEConfig) -> list[str]:
    """Each phase's name in the loss figure: the optimiser, and what it fits if not the whole record."""
    names, start = [], 0
    shooting, curriculum = cfg.loss.shooting, cfg.loss.curriculum
    for phase in cfg.train.phases:
        name = phase.optimizer
        if shooting is not None and start < shooting.iterations:
            name += f", shooting {shooting.segment_ms:g} ms"
        elif curriculum is not None and start < curriculum.iterations:
            name += ", growing window"
        names.append(name)
        start += phase.iterations
    return names


def loss_figure(run: RunDirectory, cfg: TrainUDEConfig, history: History, whole_from: int,
                final_loss: float | None = None) -> None:
    """The loss per iteration; with `final_loss` (at the final parameters, after the last step) the
    best-so-far line ends at metrics.json's best_loss."""
    run.save_figure("loss", plots.loss_curve(history["step"], history["loss"], history["phase"], phase_names(cfg),
                                             history["rejected"], title=f"train-ude: {cfg.ude.replaced} current replaced",
                                             comparable_from=whole_from, final_loss=final_loss))


def write(run: RunDirectory, cfg: TrainUDEConfig, prep, recording, task: UdeTask, cur: Cursor) -> dict:
    """Evaluate the best network, write CSVs and figures; the metrics. The figures go to the figure
    worker when one runs (neurocli.plotting.figure_worker): the loss figure first, drawn while
    this process evaluates the network."""
    loss_fn = task.loss_fn
    history = cur.history
    figure_worker.save(run, "loss", plots.loss_curve, history["step"], history["loss"], history["phase"],
                       phase_names(cfg), history["rejected"], title=f"train-ude: {cfg.ude.replaced} current replaced",
                       comparable_from=loss_fn.full_window_from, final_loss=float(cur.final_loss[0]))
    ude = loss_fn.model(cur.best)
    names = recording.names
    # each figure goes to the worker as soon as its numbers exist: drawn while the next are computed
    fit = ude_evaluate.fit(ude, prep.stimulus, recording, cfg.solve.solver, cfg.solve.declare_stimulus_edges)
    noisy = recording.clean is not None and not np.array_equal(recording.clean, recording.y)
    figure_worker.save(run, "fit", plots.trajectories,
                       fit.t, fit.reference, fit.ude, names, fit.i_ext, reference_label="data", ude_label="trained UDE",
                       clean=recording.clean if noisy else None, reference_style="dots" if noisy else "line",
                       title=f"fit to the training data (SSE {fit.sse:.3g})")
    current = ude_evaluate.compare_current(ude, recording)
    figure_worker.save(run, "current", plots.current, current.voltage, current.learned, current.true,
                       replaced=cfg.ude.replaced, along=current.along, rmse=current.rmse, max_err=current.max_err)
    val = ude_evaluate.validate(ude, prep.truth, prep.validation_stimulus, recording, cfg.validation.solver)
    figure_worker.save(run, "validation", plots.trajectories,
                       val.t, val.reference, val.ude, names, val.i_ext, reference_label="true model",
                       ude_label="trained UDE", title=f"held-out stimulus (SSE {val.sse:.3g})")

    run.write_csv("fit.csv", ["t", *(f"data_{n}" for n in names), *(f"ude_{n}" for n in names)],
                  np.column_stack([fit.t, fit.reference, fit.ude]).tolist())
    input_names = [names[i] for i in ude.input_index]
    run.write_csv("current.csv", ["V", *(f"input_{n}" for n in input_names), "learned", "true"],
                  np.column_stack([current.voltage, current.inputs, current.learned, current.true]).tolist())
    run.write_csv("validation.csv", ["t", "i_ext", *(f"true_{n}" for n in names), *(f"ude_{n}" for n in names)],
                  np.column_stack([val.t, val.i_ext, val.reference, val.ude]).tolist())

    timings = cur.timings.totals
    metrics = {
        "best_loss": float(cur.best_loss[0]),
        "final_loss": float(cur.final_loss[0]),
        "iterations": cur.step,
        "failed_solves": cur.failed,
        "current_rmse": current.rmse,
        "current_max_err": current.max_err,
        "validation_sse": val.sse,
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "s_per_iter": timings["s_per_step"],
        # more detail
        "best_iteration": int(cur.best_step[0]),
        "phases": [p.optimizer for p in cfg.train.phases],
        "whole_record_from": loss_fn.full_window_from,  # earlier losses: shooting segments or a partial window
        "s_per_iter_by_phase": cur.timings.per_phase(),
        "iterations_this_session": cur.steps_this_session,
        "replaced": cfg.ude.replaced,
        "network_inputs": list(cfg.network_inputs),
        "network_parameters": int(sum(np.size(x) for x in jax.tree.leaves(cur.best))),
        "current_compared_along": current.along,
        "fit_sse": fit.sse,
        "validation_failed": val.failed,
    }
    if recording.clean is not None:
        metrics["fit_sse_to_noise_free"] = float(np.sum((fit.ude - recording.clean) ** 2))
        metrics["noise_sse"] = float(np.sum((recording.y - recording.clean) ** 2))
    return metrics
