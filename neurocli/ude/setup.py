"""From a train-ude config and its data to the pieces the loop trains: the network, the UDE, the loss.

A network is described by a JSON-able dict (kept in every checkpoint header), so a checkpoint
rebuilds exactly the network that wrote it; its *shape* (the part that decides which parameter
arrays exist) is what a checkpoint must match to be loaded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.base import ConfigError
from neurocli.config.ude import CsvData, TrainUDEConfig
from neurocli.models import build_model, build_stimulus
from neurocli.models.hh_membrane import AbstractHHMembrane
from neurocli.models.stimulus import AbstractStimulus, NoStimulus
from neurocli.numerics.program_cache import cached_jit
from neurocli.ude.model import AbstractUDE, ScaledMLP, make_ude
from neurocli.run_dir import RunDirectory, read_file
from neurocli.ude import data as ude_data
from neurocli.ude.task import HISTORY_COLUMNS, UdeTask, skeleton
from neurocli.ude.data import Recording
from neurocli.ude.sweep import members_of, recordings, seeds
from neurocli.ude.sweep import stack
from neurocli.ude.sweep_task import SWEEP_HISTORY_COLUMNS, UdeSweepTask, sweep_skeleton
from neurocli.ude.objective import TrajectoryLoss, split_network
from neurocli.training import checkpoint, engine


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
    if desc.get("replaced") == "none":  # a pure parameter fit: no network
        from neurocli.ude.recording_fit import ZeroCurrent

        return ZeroCurrent()
    shape = (tuple(desc["centre"]), tuple(desc["scale"]), desc["output_scale"], desc["width"], desc["depth"],
             desc["activation"], desc["final_layer_scale"])
    return _initial_network(shape, jnp.asarray(np.uint32(seed)))


@cached_jit
def _initial_network(shape: tuple, seed) -> ScaledMLP:
    """The network's initial weights in one program, read from the program cache in a warm process
    (op by op, each distinct operation costs a fresh process a compile-cache read); bit for bit
    the values of building it op by op from `jax.random.key(seed)`."""
    centre, scale, output_scale, width, depth, activation, final_layer_scale = shape
    return ScaledMLP(centre, scale, output_scale, width, depth, activation, jax.random.key(seed),
                     final_layer_scale=final_layer_scale)


def build_ude(cfg: TrainUDEConfig, known: AbstractHHMembrane, network) -> AbstractUDE:
    return make_ude(known, network, cfg.ude.replaced, cfg.network_inputs or ("V",))


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


def identity(cfg: TrainUDEConfig, desc: dict) -> dict:
    """What a checkpoint must match to be resumed by this config (best.eqx: to warm-start from)."""
    ident = {"command": "train-ude", "network_shape": network_shape(cfg), "network": desc,
             "phases": [p.model_dump(mode="json") for p in cfg.train.phases]}
    if cfg.sweep is not None:  # a checkpoint of another sweep (other members) is refused
        ident["sweep"] = members_of(cfg).identity()
    return ident


def build_task(cfg: TrainUDEConfig, loss_fn: TrajectoryLoss, params, desc: dict) -> UdeTask:
    t = cfg.train
    return UdeTask(loss_fn, params, t.phases, t.max_consecutive_failures, t.checkpoint_every, identity(cfg, desc))


# -- a run: prepare (no compiling), restore a checkpoint, build the task ---------------------------


@dataclasses.dataclass
class Prepared:
    truth: object
    stimulus: AbstractStimulus
    validation_stimulus: AbstractStimulus
    csv: Recording | None
    init_from: tuple[dict, bytes] | None  # a warm-start checkpoint: (header, bytes)
    sweeps: object = None  # recording mode: the recording read (`recordings.SweepSet`; None: simulated)


def prepare(cfg: TrainUDEConfig, source: str) -> Prepared:
    """Build the models, read a CSV, check a warm-start checkpoint's shape; compiles nothing."""
    csv = sweeps = None
    if cfg.recording_mode:
        from neurocli.ude import recording_fit

        sweeps = recording_fit.read(cfg, source)
    if sweeps is not None:
        span = (float(sweeps.t[0]), float(sweeps.t[-1]))
    elif isinstance(cfg.data, CsvData):
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
        path, key = Path(cfg.ude.network.init_from), "ude.network.init_from"
        try:
            data = read_file(path)
            header = checkpoint.decode_header(data, str(path))
        except OSError as exc:
            raise ConfigError(source, [(key, f"{path}: cannot read ({exc.strerror or exc})")]) from None
        except checkpoint.CheckpointError as exc:
            raise ConfigError(source, [(key, str(exc))]) from None
        if header.get("members") is not None:
            raise ConfigError(source, [(key, f"{path} holds the best networks of a {header['members']}-member sweep; "
                                             "warm-start from the best.eqx of a run without a sweep")])
        if header.get("network_shape") != network_shape(cfg):
            raise ConfigError(source, [(key, f"{path} holds a network of shape {header.get('network_shape')}, "
                                             f"this config needs {network_shape(cfg)}")])
        init_from = (header, data)
    stimulus = NoStimulus() if cfg.stimulus.kind == "recorded" else build_stimulus(cfg.stimulus)
    return Prepared(build_model(cfg.model), stimulus, build_stimulus(cfg.validation.stimulus),
                    csv, init_from, sweeps)


def restore(cfg: TrainUDEConfig, run: RunDirectory) -> engine.Restored | None:
    """latest.eqx, read and checked against this config (network shape, phases, every leaf);
    None if there is none yet (the run starts again)."""
    if not run.file(engine.LATEST).is_file():
        return None
    header = engine.read_header(run)
    if header.get("network_shape") != network_shape(cfg):
        raise checkpoint.CheckpointMismatch(f"{run.file(engine.LATEST)}: the checkpoint's network "
                                            f"{header.get('network_shape')} is not this config's {network_shape(cfg)}")
    desc = header.get("network")
    if cfg.sweep is not None and header.get("sweep") != members_of(cfg).identity():
        raise checkpoint.CheckpointMismatch(f"{run.file(engine.LATEST)}: the checkpoint is of another sweep "
                                            "(other swept parameters or members) than this config's")
    try:
        params, _ = split_network(build_network(desc, cfg.runtime.seed))
    except (KeyError, TypeError, ValueError) as exc:
        raise checkpoint.CheckpointCorrupt(f"{run.file(engine.LATEST)}: checkpoint header is incomplete ({exc})") from None
    phases = cfg.train.phases
    if cfg.sweep is not None:
        stacked = stack([params] * cfg.sweep.member_count)
        return engine.restore(lambda p: sweep_skeleton(stacked, phases, p), identity(cfg, desc),
                              SWEEP_HISTORY_COLUMNS, run)
    return engine.restore(lambda p: skeleton(params, phases, p), identity(cfg, desc), HISTORY_COLUMNS, run)


def network_and_description(cfg: TrainUDEConfig, prep: Prepared, recording: Recording,
                            restored: engine.Restored | None):
    """The network to start from: fresh, warm-started (init_from), or as the checkpoint describes it."""
    if restored is not None:
        desc = restored.header["network"]
        return build_network(desc, cfg.runtime.seed), desc
    if prep.init_from is not None:
        header, data = prep.init_from
        desc = header["network"]
        name = str(cfg.ude.network.init_from)
        try:
            _, network = checkpoint.decode(data, name, build_network(desc, cfg.runtime.seed),
                                           expect={"network_shape": network_shape(cfg)})
        except checkpoint.CheckpointError as exc:
            raise ConfigError(name, [("ude.network.init_from", str(exc))]) from None
        return network, desc
    desc = network_description(cfg, recording)
    return build_network(desc, cfg.runtime.seed), desc


def setup(cfg: TrainUDEConfig, prep: Prepared, restored: engine.Restored | None) -> tuple[Recording, UdeTask]:
    """The recording (simulated or read) and the training task (a sweep: `UdeSweepTask`)."""
    recording = ude_data.load(cfg, prep.truth, prep.stimulus, prep.csv)
    network, desc = network_and_description(cfg, prep, recording, restored)
    params, static = split_network(network)
    ude = build_ude(cfg, prep.truth, network)
    loss = make_loss(cfg, ude, recording, prep.stimulus, static)
    if cfg.sweep is None:
        return recording, build_task(cfg, loss, params, desc)
    members = members_of(cfg)
    if cfg.ude.network.init_from is not None and restored is None:  # every member starts from it
        stacked = stack([params] * len(members))
    else:
        stacked = member_params(desc, seeds(members, cfg))
    t = cfg.train
    task = UdeSweepTask(loss, stacked, members, recordings(members, cfg, recording), t.phases,
                        t.max_consecutive_failures, t.checkpoint_every, identity(cfg, desc))
    return recording, task


def member_params(desc: dict, seeds: list[int]):
    """The members' fresh network parameters, stacked on axis 0."""
    return stack([split_network(build_network(desc, s))[0] for s in seeds])
