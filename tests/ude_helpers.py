"""The tiny train-ude config of the tests, and the objective built from it."""

from __future__ import annotations

from pathlib import Path

import yaml

from neurocli.commands import train_ude
from neurocli.config.base import validate
from neurocli.config.ude import TrainUDEConfig
from neurocli.ude import data as ude_data
from neurocli.ude.objective import split_network
from neurocli.ude.setup import build_network, build_ude, make_loss, network_description, network_shape

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "ude_smoke.yaml"


def smoke_config(**updates) -> TrainUDEConfig:
    raw = yaml.safe_load(SMOKE.read_text())
    for dotted, value in updates.items():
        node = raw
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return validate(TrainUDEConfig, raw, str(SMOKE))


def build(cfg: TrainUDEConfig):
    prep = train_ude.prepare(cfg, "test")
    rec = ude_data.load(cfg, prep.truth, prep.stimulus, prep.csv)
    desc = network_description(cfg, rec)
    net = build_network(desc, cfg.runtime.seed)
    params, static = split_network(net)
    loss = make_loss(cfg, build_ude(cfg, prep.truth, net), rec, prep.stimulus, static)
    header = {"network_shape": network_shape(cfg), "network": desc}
    return loss, params, header


def fit(loss, params, cfg_or_phases, run=None, identity=None, on_step=None, resume=False, prefetch=True):
    """Train with the engine; a namespace of the numbers the tests read (history: named columns;
    compiled_by: the thread that first compiled each phase's step). `prefetch=False`: each phase's
    step compiled as the phase starts, not in the background."""
    import threading
    from types import SimpleNamespace

    from neurocli.ude.task import HISTORY_COLUMNS, UdeTask, skeleton
    from neurocli.training import Engine, engine

    if isinstance(cfg_or_phases, TrainUDEConfig):
        t = cfg_or_phases.train
        task = UdeTask(loss, params, t.phases, t.max_consecutive_failures, t.checkpoint_every, identity)
    else:
        task = UdeTask(loss, params, cfg_or_phases, identity=identity)
    task.prefetch = prefetch
    compiled_by: dict[int, str] = {}
    compile_ = task.compile

    def compile(phase, state):
        compiled_by.setdefault(phase, threading.current_thread().name)
        return compile_(phase, state)

    task.compile = compile
    if resume:
        restored = engine.restore(lambda p: skeleton(params, task.phases, p), task.identity, HISTORY_COLUMNS, run)
        start = engine.resume(task, restored)
    else:
        start = engine.start(task)
    cur = Engine(task, run, on_step=on_step).run(start)
    return SimpleNamespace(best_params=cur.best, final_params=cur.state.params, best_loss=float(cur.best_loss[0]),
                           best_iteration=int(cur.best_step[0]), final_loss=float(cur.final_loss[0]),
                           iterations=cur.step, failed_solves=cur.failed, history=cur.history, cursor=cur, task=task,
                           compiled_by=compiled_by)
