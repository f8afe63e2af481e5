"""`neurocli train-ude`: config -> data -> UDE -> optimisation phases -> evaluation -> run directory.

With a `sweep` section every member trains at once (neurocli/ude/sweep_task.py) and the outputs
are per member (neurocli/ude/sweep_outputs.py)."""

from __future__ import annotations

from neurocli.config.ude import TrainUDEConfig
from neurocli.run_dir import RunDirectory
from neurocli.ude import setup as ude_setup
from neurocli.training import Engine, Restored, TrainingFailed, engine
from neurocli.ude import outputs, recording_run, sweep_outputs

SCHEMA = TrainUDEConfig
RESUMABLE = True


def resumable(cfg) -> bool:
    return True
prepare = ude_setup.prepare


def restore(prep: ude_setup.Prepared, cfg: TrainUDEConfig, run: RunDirectory) -> Restored | None:
    if cfg.recording_mode:
        return recording_run.restore(cfg, prep, run)
    return ude_setup.restore(cfg, run)


def execute(prep: ude_setup.Prepared, cfg: TrainUDEConfig, run: RunDirectory, restored: Restored | None) -> dict:
    if cfg.recording_mode:
        recording, task = recording_run.setup(cfg, prep, restored)
    else:
        recording, task = ude_setup.setup(cfg, prep, restored)
    trainer = Engine(task, run, "train-ude")
    try:
        cur = trainer.run(engine.start(task) if restored is None else engine.resume(task, restored))
    except TrainingFailed:
        if cfg.sweep is not None:
            sweep_outputs.loss_figure(run, cfg, trainer.cursor.history)
        else:
            outputs.loss_figure(run, cfg, trainer.cursor.history, task.loss_fn.full_window_from)
        raise
    if cfg.recording_mode:
        return recording_run.write(run, cfg, prep, recording, task, cur)
    if cfg.sweep is not None:
        return sweep_outputs.write(run, cfg, prep, task, cur)
    return outputs.write(run, cfg, prep, recording, task, cur)
