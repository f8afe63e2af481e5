"""A train-ude run in recording mode (neurocli/ude/recording_fit.py): build the task, restore a
checkpoint, write the outputs.

Files (additive to the run contract): fit.csv (every sweep: data and the fitted model, a `heldout`
column), current.csv (with a network), the loss, fit and current figures, metrics.json with the
usual keys plus `fitted_parameters` {name: {value, stderr, ...}}, `heldout_sse`, the sweeps
trained and held out and the observed states. `validation_sse` is the held-out sweeps' SSE (null
when none is held out).
"""

from __future__ import annotations

import jax
import numpy as np

from neurocli.config.ude import TrainUDEConfig
from neurocli.plotting import ude as plots
from neurocli.run_dir import RunDirectory
from neurocli.training import checkpoint, engine
from neurocli.training.engine import Cursor
from neurocli.ude import data as ude_data
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude import outputs as ude_outputs
from neurocli.ude import recording_fit as rf
from neurocli.ude import recording_sweep
from neurocli.ude import setup as ude_setup
from neurocli.ude.objective import split_network
from neurocli.ude.sweep import stack
from neurocli.ude.sweep_task import SWEEP_HISTORY_COLUMNS, sweep_skeleton
from neurocli.ude.task import HISTORY_COLUMNS, skeleton


def sweep_set(cfg: TrainUDEConfig, prep) -> rf.SweepSet:
    """The recording read in `prepare`, or the simulated data as one sweep."""
    if prep.sweeps is not None:  # as read, plus any data.noise
        return rf.with_noise(prep.sweeps, cfg.data.noise, cfg.data.seed)
    return rf.from_simulated(ude_data.simulate(cfg, prep.truth, prep.stimulus), cfg.state_names)


def _identity(cfg: TrainUDEConfig, fit: rf.Fit, desc: dict) -> dict:
    return {**ude_setup.identity(cfg, desc), **rf.fit_identity(fit)}


def _start_params(cfg: TrainUDEConfig, fit: rf.Fit, desc: dict):
    net_params, static = split_network(ude_setup.build_network(desc, cfg.runtime.seed))
    start = rf.start_values(fit.specs, cfg.fit.init_jitter if cfg.fit is not None else 0.0, cfg.runtime.seed)
    return rf.initial_params(net_params, fit.specs, len(fit.train), fit.fit_v0, start), static


def restore(cfg: TrainUDEConfig, prep, run: RunDirectory) -> engine.Restored | None:
    """latest.eqx checked against this config: network shape, fitted parameters, sweeps, leaves."""
    if not run.file(engine.LATEST).is_file():
        return None
    header = engine.read_header(run)
    if header.get("network_shape") != ude_setup.network_shape(cfg):
        raise checkpoint.CheckpointMismatch(f"{run.file(engine.LATEST)}: the checkpoint's network "
                                            f"{header.get('network_shape')} is not this config's "
                                            f"{ude_setup.network_shape(cfg)}")
    desc = header.get("network")
    fit = rf.make_fit(cfg, sweep_set(cfg, prep) if prep.sweeps is not None else _simulated_stub(cfg), "resume")
    try:
        params, _ = _start_params(cfg, fit, desc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise checkpoint.CheckpointCorrupt(f"{run.file(engine.LATEST)}: checkpoint header is incomplete ({exc})") from None
    phases = cfg.train.phases
    if cfg.sweep is not None:  # every member's leaves, stacked
        stacked = stack([params] * cfg.sweep.member_count)
        return engine.restore(lambda p: sweep_skeleton(stacked, phases, p), _identity(cfg, fit, desc),
                              SWEEP_HISTORY_COLUMNS, run)
    return engine.restore(lambda p: skeleton(params, phases, p), _identity(cfg, fit, desc), HISTORY_COLUMNS, run)


def _simulated_stub(cfg: TrainUDEConfig) -> rf.SweepSet:
    """The shape of simulated data as a sweep set (one sweep, every state), without solving."""
    n = len(cfg.state_names)
    return rf.SweepSet("simulated", cfg.state_names, np.zeros(3), np.zeros((1, 3, n)), None, ("0",))


def setup(cfg: TrainUDEConfig, prep, restored: engine.Restored | None) -> tuple[rf.Fit, rf.RecordingTask]:
    if cfg.sweep is not None:  # members trained at once (ude/recording_sweep.py)
        return recording_sweep.setup(cfg, prep, sweep_set(cfg, prep), None if restored is None else restored.header["network"])
    fit = rf.make_fit(cfg, sweep_set(cfg, prep), "config")
    if restored is not None:
        desc = restored.header["network"]
    else:
        desc = rf.network_description(cfg, fit, ude_setup.network_shape(cfg))
    params, static = _start_params(cfg, fit, desc)
    ude = ude_setup.build_ude(cfg, prep.truth, ude_setup.build_network(desc, cfg.runtime.seed))
    loss = rf.make_multi_loss(cfg, fit, ude, static, prep.stimulus, fit.train)
    t = cfg.train
    task = rf.RecordingTask(loss, params, t.phases, t.max_consecutive_failures, t.checkpoint_every,
                            _identity(cfg, fit, desc))
    return fit, task


def _solve(loss: rf.MultiSweepLoss, params) -> tuple[np.ndarray, list[str | None]]:
    ys, _ = jax.jit(lambda p: loss.predict(p))(params)
    ys = np.array(ys)
    failed = []
    for k in range(ys.shape[0]):
        ok = np.isfinite(ys[k]).all()
        failed.append(None if ok else "solve failed")
        if not ok:
            ys[k] = np.nan
    return ys, failed


def _sse(loss: rf.MultiSweepLoss, ys: np.ndarray) -> np.ndarray:
    w = np.asarray(loss.weights) > 0
    return np.sum(((ys - np.asarray(loss.data)) ** 2)[..., w], axis=(1, 2))


def write(run: RunDirectory, cfg: TrainUDEConfig, prep, fit: rf.Fit, task: rf.RecordingTask, cur: Cursor) -> dict:
    if cfg.sweep is not None:
        from neurocli.ude import recording_sweep_outputs

        return recording_sweep_outputs.write(run, cfg, prep, fit, task, cur)
    loss = task.loss_fn
    best = cur.best
    names = cfg.state_names
    sweeps = fit.sweeps
    ys_train, failed_train = _solve(loss, best)
    held_sse, ys_held, failed_held = None, None, []
    if fit.heldout:
        held_loss = rf.make_multi_loss(cfg, fit, loss.ude, loss.net_static, prep.stimulus, fit.heldout, use_v0=False)
        ys_held, failed_held = _solve(held_loss, best)
        per_held = _sse(held_loss, ys_held)
        held_sse = float(np.sum(per_held))
    per_train = _sse(loss, ys_train)

    # fit.csv: every sweep, data and model
    obs = fit.observed
    rows = []
    order = [(k, False, ys_train[i]) for i, k in enumerate(fit.train)]
    if ys_held is not None:
        order += [(k, True, ys_held[i]) for i, k in enumerate(fit.heldout)]
    i_ext_all = None
    if cfg.stimulus.kind == "recorded":
        i_ext_all = sweeps.i_ext
    else:
        i_ext_all = np.broadcast_to(prep.stimulus.trace(sweeps.t), (sweeps.count, sweeps.t.size))
    for k, held, ys in sorted(order, key=lambda x: x[0]):
        data = sweeps.y[k][:, [sweeps.names.index(s) for s in obs]]
        block = np.column_stack([np.full(sweeps.t.size, k), np.full(sweeps.t.size, int(held)), sweeps.t,
                                 i_ext_all[k], data, ys])
        rows.extend(block.tolist())
    run.write_csv("fit.csv", ["sweep", "heldout", "t", "i_ext", *(f"data_{n}" for n in obs),
                              *(f"ude_{n}" for n in names)], rows)

    ude = loss.model(best)
    current = None
    if cfg.ude.replaced != "none":
        # the voltages the fitted model visits (simulated data: the true ones)
        states = (sweeps.clean[fit.train] if sweeps.clean is not None else ys_train).reshape(-1, len(names))
        states = states[np.isfinite(states).all(axis=1)]
        if states.size:
            ref = ude_data.Recording(names, np.arange(len(states), dtype=float), states, states)
            current = ude_evaluate.compare_current(ude, ref)
            input_names = [names[i] for i in ude.input_index]
            run.write_csv("current.csv", ["V", *(f"input_{n}" for n in input_names), "learned", "true"],
                          np.column_stack([current.voltage, current.inputs, current.learned, current.true]).tolist())
            run.save_figure("current", plots.current(current.voltage, current.learned, current.true,
                                                     replaced=cfg.ude.replaced, along=current.along,
                                                     rmse=current.rmse, max_err=current.max_err))
    errors = rf.parameter_errors(loss, best) if fit.specs else None

    ude_outputs.loss_figure(run, cfg, cur.history, loss.full_window_from, final_loss=float(cur.final_loss[0]))
    v = names.index("V")
    model_v = np.full((sweeps.count, sweeps.t.size), np.nan)
    for i, k in enumerate(fit.train):
        model_v[k] = ys_train[i][:, v]
    for i, k in enumerate(fit.heldout):
        model_v[k] = ys_held[i][:, v]
    run.save_figure("fit", plots.sweeps_fit(
        sweeps.t, sweeps.y[..., sweeps.names.index("V")], model_v, i_ext_all, list(sweeps.labels),
        [k in fit.heldout for k in range(sweeps.count)],
        title=f"fit to {sweeps.count} sweep(s), V observed" + (f" (held-out SSE {held_sse:.4g})" if held_sse is not None else "")))

    timings = cur.timings.totals
    failed = [w for w in failed_train + failed_held if w]
    metrics = {
        "best_loss": float(cur.best_loss[0]),
        "final_loss": float(cur.final_loss[0]),
        "iterations": cur.step,
        "failed_solves": cur.failed,
        "current_rmse": None if current is None else current.rmse,
        "current_max_err": None if current is None else current.max_err,
        "validation_sse": held_sse,
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "s_per_iter": timings["s_per_step"],
        "best_iteration": int(cur.best_step[0]),
        "phases": [p.optimizer for p in cfg.train.phases],
        "whole_record_from": loss.full_window_from,
        "s_per_iter_by_phase": cur.timings.per_phase(),
        "iterations_this_session": cur.steps_this_session,
        "replaced": cfg.ude.replaced,
        "network_inputs": list(cfg.network_inputs),
        "network_parameters": int(sum(np.size(x) for x in jax.tree.leaves(best["network"]))),
        "current_compared_along": None if current is None else current.along,
        "fit_sse": float(np.sum(per_train)),
        "validation_failed": "; ".join(failed) if failed else None,
        # recording mode
        "data_source": sweeps.source,
        "observed": list(obs),
        "sweeps_trained": [sweeps.labels[k] for k in fit.train],
        "sweeps_heldout": [sweeps.labels[k] for k in fit.heldout],
        "fit_sse_per_sweep": [float(x) for x in per_train],
        "heldout_sse": held_sse,
        "heldout_sse_per_sweep": None if not fit.heldout else [float(x) for x in per_held],
        "samples_per_sweep": int(sweeps.t.size),
        "stimulus_jump_times": len(loss.jump_ts),
        "fitted_parameters": None if errors is None else errors["parameters"],
        "fit_residual_sd": None if errors is None else errors["residual_sd"],
    }
    if "v0" in best:
        metrics["fitted_v0_offsets"] = [float(x) for x in np.asarray(best["v0"])]
    if sweeps.clean is not None:
        clean = sweeps.clean[fit.train]
        metrics["fit_sse_to_noise_free"] = float(np.nansum((ys_train - clean) ** 2))
    return metrics
