"""From a train-ude config and its data to the pieces the loop trains: the network, the UDE, the loss.

A network is described by a JSON-able dict (kept in every checkpoint header), so a checkpoint
rebuilds exactly the network that wrote it; its *shape* (the part that decides which parameter
arrays exist) is what a checkpoint must match to be loaded.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.ude import TrainUDEConfig
from neurocli.models.hh_membrane import AbstractHHMembrane
from neurocli.models.stimulus import AbstractStimulus
from neurocli.models.ude import AbstractUDE, ScaledMLP, make_ude
from neurocli.train.ude_data import Recording
from neurocli.train.ude_objective import TrajectoryLoss
from neurocli.train.ude import TrainSettings

SHAPE_KEYS = ("model", "replaced", "inputs", "width", "depth", "activation")


def network_shape(cfg: TrainUDEConfig) -> dict:
    net = cfg.ude.network
    return {
        "model": cfg.model.name,
        "replaced": cfg.ude.replaced,
        "inputs": list(cfg.network_inputs),
        "width": net.width,
        "depth": net.depth,
        "activation": net.activation,
    }


def network_description(cfg: TrainUDEConfig, recording: Recording) -> dict:
    """The shape plus the input centring/scaling (configured, else from the data's range)."""
    net = cfg.ude.network
    centre, scale = [], []
    for name in cfg.network_inputs:
        column = recording.y[:, recording.names.index(name)]
        lo, hi = float(np.min(column)), float(np.max(column))
        half = (hi - lo) / 2.0
        centre.append((net.input_centre or {}).get(name, (lo + hi) / 2.0))
        scale.append((net.input_scale or {}).get(name, half if half > 0 else 1.0))
    return {
        **network_shape(cfg),
        "centre": centre,
        "scale": scale,
        "output_scale": net.output_scale,
        "final_layer_scale": net.final_layer_scale,
    }


def build_network(desc: dict, seed: int) -> ScaledMLP:
    return ScaledMLP(desc["centre"], desc["scale"], desc["output_scale"], desc["width"], desc["depth"],
                     desc["activation"], jax.random.key(seed), final_layer_scale=desc["final_layer_scale"])


def build_ude(cfg: TrainUDEConfig, known: AbstractHHMembrane, network) -> AbstractUDE:
    return make_ude(known, network, cfg.ude.replaced, cfg.network_inputs)


def make_loss(cfg: TrainUDEConfig, ude: AbstractUDE, recording: Recording, stimulus: AbstractStimulus,
              net_static) -> TrajectoryLoss:
    weights = np.array([cfg.loss.weights.get(name, 1.0) for name in recording.names], dtype=float)
    cur = cfg.loss.curriculum
    jump_ts = tuple(stimulus.jump_times()) if cfg.solve.declare_stimulus_edges else ()
    return TrajectoryLoss(
        ude=ude,
        net_static=net_static,
        stimulus=stimulus,
        y0=jnp.asarray(recording.y0),
        ts=jnp.asarray(recording.t),
        data=jnp.asarray(recording.y),
        weights=jnp.asarray(weights),
        t0=float(recording.t[0]),
        t1=float(recording.t[-1]),
        solver=cfg.solve.solver,
        adjoint=cfg.solve.adjoint,
        jump_ts=jump_ts,
        mean=cfg.loss.reduction == "mse",
        curriculum=None if cur is None else (float(cur.start_ms), int(cur.iterations)),
        shooting=shooting_segments(cfg, recording),
    )


def shooting_segments(cfg: TrainUDEConfig, recording: Recording) -> tuple[int, int] | None:
    """(samples per segment, iterations) of multiple shooting: segment_ms over the median sample step."""
    shooting = cfg.loss.shooting
    if shooting is None:
        return None
    dt = float(np.median(np.diff(recording.t)))
    length = int(np.clip(round(shooting.segment_ms / dt), 1, len(recording.t) - 1))
    return length, int(shooting.iterations)


def settings(cfg: TrainUDEConfig) -> TrainSettings:
    t = cfg.train
    return TrainSettings(list(t.phases), t.max_consecutive_failures, t.checkpoint_every)
