"""The train-ude run that `neurocli discover` reads: checked whole before anything compiles.

A usable run has run.json with command `train-ude` and status `completed`, a config.yaml that
validates as a train-ude config, and checkpoints/best.eqx holding the network its header
describes (a sweep's: every member's, stacked on axis 0). Anything else is a `UsageError` naming
the run and why (exit 2).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import equinox as eqx

from neurocli.config.base import ConfigError, UsageError, read_yaml, validate
from neurocli.config.ude import TrainUDEConfig
from neurocli.run_dir import RunDirectory
from neurocli.training import checkpoint
from neurocli.training.engine import BEST
from neurocli.ude import setup as ude_setup
from neurocli.ude.objective import split_network
from neurocli.members import MemberTable
from neurocli.ude.sweep import member, members_of, stack


@dataclasses.dataclass
class Source:
    path: Path
    cfg: TrainUDEConfig
    prep: ude_setup.Prepared
    description: dict  # the network's description (shape, input centring and scaling)
    networks: list  # one ScaledMLP per member (one for a run without a sweep)
    members: MemberTable | None  # a sweep's member table

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.description["inputs"])


def open_source(path: str | Path) -> Source:
    """The run at `path`, checked (module doc)."""
    path = Path(path)
    where = f"run {path}"
    if not path.is_dir():
        raise UsageError(where, "is not a directory (expected a completed train-ude run directory)")
    try:
        run = RunDirectory.open(path)
    except ValueError as exc:
        raise UsageError(where, f"is not a train-ude run: {exc}") from None
    try:
        return _checked(run, path, where)
    finally:
        run.close()  # discover only reads the run


def _checked(run: RunDirectory, path: Path, where: str) -> Source:
    command, status = run.info.get("command"), run.info.get("status")
    if command != "train-ude":
        raise UsageError(where, f"was made by `neurocli {command}`, not `neurocli train-ude`")
    if status != "completed":
        raise UsageError(where, f"is not a completed train-ude run (status {status!r}); "
                                "finish it first (neurocli train-ude --resume RUN_DIR)")
    config_file = path / "config.yaml"
    if not config_file.is_file():
        raise UsageError(where, "has no config.yaml")
    try:
        cfg = validate(TrainUDEConfig, read_yaml(config_file), str(config_file))
    except ConfigError as exc:
        raise UsageError(where, f"its config.yaml is not a valid train-ude config ({exc})") from None
    if cfg.recording_mode:
        raise UsageError(where, "is a fit to a recording (or of fitted parameters); discover reads runs on "
                                "simulated or whole-state CSV data only, for now")
    best = path / BEST
    name = str(best)
    try:
        data = run.read_bytes(BEST)
    except OSError as exc:
        raise UsageError(where, f"has no readable {BEST} ({exc.strerror or exc})") from None
    try:
        header = checkpoint.decode_header(data, name)
        desc = header.get("network")
        if not isinstance(desc, dict):
            raise checkpoint.CheckpointCorrupt(f"{name}: the header describes no network")
        net = ude_setup.build_network(desc, cfg.runtime.seed)
        members = members_of(cfg) if cfg.sweep is not None else None
        if (header.get("members") is not None) != (members is not None):
            raise checkpoint.CheckpointMismatch(f"{name}: the checkpoint's members ({header.get('members')}) do not "
                                                "match the run's config (sweep or not)")
        params, static = split_network(net)
        skeleton = params if members is None else stack([params] * len(members))
        _, tree = checkpoint.decode(data, name, eqx.combine(skeleton, static))
    except checkpoint.CheckpointError as exc:
        raise UsageError(where, str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(where, f"{name}: checkpoint header is incomplete ({exc})") from None
    params, static = split_network(tree)
    networks = [tree] if members is None else [eqx.combine(member(params, i), static) for i in range(len(members))]
    net_cfg = cfg.ude.network.model_copy(update={"init_from": None})  # a warm start discover does not need
    prep = ude_setup.prepare(cfg.model_copy(update={"ude": cfg.ude.model_copy(update={"network": net_cfg})}),
                             str(config_file))
    return Source(path, cfg, prep, desc, networks, members)
