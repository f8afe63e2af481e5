"""The tiny train-ude config of the tests, and the objective built from it."""

from __future__ import annotations

from pathlib import Path

import yaml

from neurocli.commands import train_ude
from neurocli.config.base import validate
from neurocli.config.ude import TrainUDEConfig
from neurocli.train import ude_data
from neurocli.train.ude_objective import split_network
from neurocli.train.ude_setup import build_network, build_ude, make_loss, network_description, network_shape

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
