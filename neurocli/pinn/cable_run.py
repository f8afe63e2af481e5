"""train-pinn of a cable model, from config to run directory: the reference solve, the windows
trained by the engine, the predictions on the reference's grid, errors, velocity and figures."""

from __future__ import annotations

import time

from neurocli.config.pinn import TrainPinnConfig
from neurocli.pinn import cable_outputs
from neurocli.pinn.cable_reference import solve_reference
from neurocli.pinn.cable_setup import build_fields
from neurocli.pinn.cable_train import CableTrainer
from neurocli.pinn.setup import dtype_of
from neurocli.run_dir import RunDirectory
from neurocli.training import Engine, Restored, engine


def trainer(cfg: TrainPinnConfig) -> CableTrainer:
    fields, rest = build_fields(cfg)
    return CableTrainer(cfg, fields, rest, dtype_of(cfg))


def restore(cfg: TrainPinnConfig, run: RunDirectory) -> Restored | None:
    task = trainer(cfg)
    return engine.restore(task.skeleton, task.identity, task.columns, run)


def execute(cfg: TrainPinnConfig, run: RunDirectory, restored: Restored | None) -> dict:
    started = time.perf_counter()
    ref = solve_reference(cfg)
    task = trainer(cfg)
    start = engine.start(task) if restored is None else engine.resume(task, restored)
    cur = Engine(task, run, f"train-pinn ({cfg.pde.model}, {cfg.pde.windows} windows)").run(start)
    pred = task.predict(cur.state, ref.t, ref.x)
    cable_outputs.write_arrays(run, ref, pred)
    cable_outputs.figures(run, cfg, ref, pred, cur)
    return cable_outputs.metrics(cfg, ref, pred, cur, cur.state.params, time.perf_counter() - started)
