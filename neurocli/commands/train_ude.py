"""`neurocli train-ude`: config -> data -> UDE -> optimisation phases -> evaluation -> run directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from neurocli import checkpoint
from neurocli.config.base import ConfigError
from neurocli.config.ude import CsvData, TrainUDEConfig
from neurocli.models import build_model, build_stimulus
from neurocli.models.stimulus import AbstractStimulus
from neurocli.plotting import ude as plots
from neurocli.run_dir import RunDirectory
from neurocli.train import ude_data, ude_evaluate
from neurocli.train.ude import LATEST, Trainer, TrainingFailed, TrainResult
from neurocli.train.ude_objective import TrajectoryLoss, split_network
from neurocli.train.ude_setup import (
    build_network,
    build_ude,
    make_loss,
    network_description,
    network_shape,
    settings,
)

SCHEMA = TrainUDEConfig


@dataclasses.dataclass
class Prepared:
    truth: object
    stimulus: AbstractStimulus
    validation_stimulus: AbstractStimulus
    csv: ude_data.Recording | None
    init_from: Path | None


def prepare(cfg: TrainUDEConfig, source: str) -> Prepared:
    """Build the models, read a CSV, check a warm-start checkpoint's shape; compiles nothing."""
    csv = None
    if isinstance(cfg.data, CsvData):
        csv = ude_data.read_csv(cfg.data.path, cfg.state_names, source)
        span = (float(csv.t[0]), float(csv.t[-1]))
    else:
        span = (cfg.data.time.t0, cfg.data.time.t1)
    record_ms = span[1] - span[0]
    for key, length in (("loss.curriculum.start_ms", getattr(cfg.loss.curriculum, "start_ms", None)),
                        ("loss.shooting.segment_ms", getattr(cfg.loss.shooting, "segment_ms", None))):
        if length is not None and length >= record_ms:
            raise ConfigError(source, [(key, f"must be shorter than the record ({record_ms:g} ms)")])
    init_from = None
    if cfg.ude.network.init_from is not None:
        init_from = Path(cfg.ude.network.init_from)
        key = "ude.network.init_from"
        if not init_from.is_file():
            raise ConfigError(source, [(key, f"{init_from}: file not found")])
        try:
            header = checkpoint.load_header(init_from)
        except (OSError, ValueError) as exc:
            raise ConfigError(source, [(key, f"{init_from}: not a neurocli checkpoint ({exc})")]) from None
        if header.get("network_shape") != network_shape(cfg):
            raise ConfigError(source, [(key, f"{init_from} holds a network of shape {header.get('network_shape')}, "
                                             f"this config needs {network_shape(cfg)}")])
    return Prepared(build_model(cfg.model), build_stimulus(cfg.stimulus), build_stimulus(cfg.validation.stimulus),
                    csv, init_from)


def _network(cfg: TrainUDEConfig, prep: Prepared, recording, run: RunDirectory, resuming: bool):
    """The network to start from: fresh, warm-started (init_from), or as the checkpoint describes it."""
    shape = network_shape(cfg)
    desc = network_description(cfg, recording)
    source = prep.init_from
    if resuming:
        source = run.file(LATEST)
        header = checkpoint.load_header(source)
        if header.get("network_shape") != shape:
            raise ConfigError(str(source), [("network_shape", f"the checkpoint's network {header.get('network_shape')} "
                                                              f"is not this config's {shape}; cannot resume")])
        return build_network(header["network"], cfg.runtime.seed), header["network"]
    if source is not None:
        desc = checkpoint.load_header(source)["network"]
        try:
            _, network = checkpoint.load(source, build_network(desc, cfg.runtime.seed), expect={"network_shape": shape})
        except checkpoint.CheckpointMismatch as exc:
            raise ConfigError(str(source), [("ude.network.init_from", str(exc))]) from None
        return network, desc
    return build_network(desc, cfg.runtime.seed), desc


def execute(prep: Prepared, cfg: TrainUDEConfig, run: RunDirectory, resume: bool = False) -> dict:
    recording = ude_data.load(cfg, prep.truth, prep.stimulus, prep.csv)
    resuming = resume and run.file(LATEST).is_file()
    network, desc = _network(cfg, prep, recording, run, resuming)
    params, static = split_network(network)
    ude = build_ude(cfg, prep.truth, network)
    loss_fn = make_loss(cfg, ude, recording, prep.stimulus, static)
    header = {"network_shape": network_shape(cfg), "network": desc}
    trainer = Trainer(loss_fn, settings(cfg), run, header=header)
    try:
        result = trainer.fit(params, resume=resuming)
    except checkpoint.CheckpointMismatch as exc:
        raise ConfigError(str(run.file(LATEST)), [("", str(exc))]) from None
    except TrainingFailed:
        _loss_figure(run, cfg, trainer.history, loss_fn.full_window_from)
        raise
    return _outputs(cfg, prep, recording, loss_fn, result, run)


def _phase_names(cfg: TrainUDEConfig) -> list[str]:
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


def _loss_figure(run: RunDirectory, cfg: TrainUDEConfig, history, whole_from: int, final_loss=None) -> None:
    h = np.asarray(history, dtype=float).reshape(-1, 7)
    names = _phase_names(cfg)
    run.save_figure("loss", plots.loss_curve(h[:, 0], h[:, 2], h[:, 1], names, h[:, 6],
                                             title=f"train-ude: {cfg.ude.replaced} current replaced",
                                             comparable_from=whole_from, final_loss=final_loss))


def _outputs(cfg: TrainUDEConfig, prep: Prepared, recording, loss_fn: TrajectoryLoss, result: TrainResult,
             run: RunDirectory) -> dict:
    ude = loss_fn.model(result.best_params)
    names = recording.names
    fit = ude_evaluate.fit(ude, prep.stimulus, recording, cfg.solve.solver, cfg.solve.declare_stimulus_edges)
    current = ude_evaluate.compare_current(ude, recording)
    val = ude_evaluate.validate(ude, prep.truth, prep.validation_stimulus, recording, cfg.validation.solver)

    run.write_csv("fit.csv", ["t", *(f"data_{n}" for n in names), *(f"ude_{n}" for n in names)],
                  np.column_stack([fit.t, fit.reference, fit.ude]).tolist())
    input_names = [names[i] for i in ude.input_index]
    run.write_csv("current.csv", ["V", *(f"input_{n}" for n in input_names), "learned", "true"],
                  np.column_stack([current.voltage, current.inputs, current.learned, current.true]).tolist())
    run.write_csv("validation.csv", ["t", "i_ext", *(f"true_{n}" for n in names), *(f"ude_{n}" for n in names)],
                  np.column_stack([val.t, val.i_ext, val.reference, val.ude]).tolist())

    _loss_figure(run, cfg, result.history, loss_fn.full_window_from, final_loss=result.final_loss)
    noisy = recording.clean is not None and not np.array_equal(recording.clean, recording.y)
    run.save_figure("fit", plots.trajectories(
        fit.t, fit.reference, fit.ude, names, fit.i_ext, reference_label="data", ude_label="trained UDE",
        clean=recording.clean if noisy else None, reference_style="dots" if noisy else "line",
        title=f"fit to the training data (SSE {fit.sse:.3g})"))
    run.save_figure("current", plots.current(current.voltage, current.learned, current.true, replaced=cfg.ude.replaced,
                                             along=current.along, rmse=current.rmse, max_err=current.max_err))
    run.save_figure("validation", plots.trajectories(
        val.t, val.reference, val.ude, names, val.i_ext, reference_label="true model", ude_label="trained UDE",
        title=f"held-out stimulus (SSE {val.sse:.3g})"))

    metrics = {
        "best_loss": result.best_loss,
        "final_loss": result.final_loss,
        "iterations": result.iterations,
        "failed_solves": result.failed_solves,
        "current_rmse": current.rmse,
        "current_max_err": current.max_err,
        "validation_sse": val.sse,
        "compile_s": result.compile_s,
        "train_s": result.train_s,
        "s_per_iter": result.s_per_iter,
        # more detail
        "best_iteration": result.best_iteration,
        "phases": [p.optimizer for p in cfg.train.phases],
        "whole_record_from": loss_fn.full_window_from,  # earlier losses: shooting segments or a partial window
        "s_per_iter_by_phase": result.phase_s_per_iter,
        "replaced": cfg.ude.replaced,
        "network_inputs": list(cfg.network_inputs),
        "network_parameters": int(sum(np.size(x) for x in jax.tree.leaves(result.best_params))),
        "current_compared_along": current.along,
        "fit_sse": fit.sse,
        "validation_failed": val.failed,
    }
    if recording.clean is not None:
        metrics["fit_sse_to_noise_free"] = float(np.sum((fit.ude - recording.clean) ** 2))
        metrics["noise_sse"] = float(np.sum((recording.y - recording.clean) ** 2))
    return metrics
