"""`neurocli train-pinn`: the reference solve, one vmapped training of every member, errors,
members.csv (more than one member), figures. A cable (`pde.model`) goes to neurocli/pinn/cable_run.py."""

from __future__ import annotations

import dataclasses
import time

from neurocli.background import Background
from neurocli.config.base import ConfigError
from neurocli.config.pinn import TrainPinnConfig
from neurocli.models.reaction_diffusion import ReactionDiffusion
from neurocli.pinn import cable_run, outputs
from neurocli.pinn.errors import member_errors
from neurocli.pinn.members import members_of
from neurocli.pinn.reference import output_grid, solve_reference
from neurocli.pinn.setup import build_pde_model, build_setup
from neurocli.pinn.train import Trainer, member_keys
from neurocli.run_dir import RunDirectory
from neurocli.training import Engine, Restored, engine

SCHEMA = TrainPinnConfig
RESUMABLE = True


def resumable(cfg) -> bool:
    return True


@dataclasses.dataclass
class Prepared:
    model: ReactionDiffusion | None  # None: a cable (neurocli/pinn/cable_run.py builds its own)


def prepare(cfg: TrainPinnConfig, source: str) -> Prepared:
    """Builds the model (the schema has checked every value); compiles nothing."""
    if cfg.is_cable:
        return Prepared(None)
    try:
        return Prepared(build_pde_model(cfg))
    except ValueError as exc:  # pragma: no cover - the schema should have caught it
        raise ConfigError(source, [("pde", str(exc))]) from None


def _trainer(prep: Prepared, cfg: TrainPinnConfig) -> Trainer:
    members = members_of(cfg)
    return Trainer(build_setup(cfg, prep.model), members, member_keys(cfg.runtime.seed, members.n))


def restore(prep: Prepared, cfg: TrainPinnConfig, run: RunDirectory) -> Restored | None:
    if cfg.is_cable:
        return cable_run.restore(cfg, run)
    trainer = _trainer(prep, cfg)
    return engine.restore(trainer.skeleton, trainer.identity, trainer.columns, run)


def execute(prep: Prepared, cfg: TrainPinnConfig, run: RunDirectory, restored: Restored | None) -> dict:
    if cfg.is_cable:
        return cable_run.execute(cfg, run, restored)
    started = time.perf_counter()
    # the reference is needed only after training: solved meanwhile, on another core when one is free
    reference = Background(solve_reference, cfg, name="neurocli-reference")
    trainer = _trainer(prep, cfg)
    n = trainer.n
    start = engine.start(trainer) if restored is None else engine.resume(trainer, restored)
    cur = Engine(trainer, run, f"train-pinn ({n} member{'s' * (n > 1)})").run(start)
    outputs.loss_figure(run, cfg, trainer.member_table, cur.history)
    ref = reference.result()
    run.write_npz("reference.npz", t=ref.t, x=ref.x, a=ref.a, k=ref.k, u=ref.u)
    t, x = output_grid(cfg)
    u = trainer.predict(cur.state.params, t, x)
    run.write_npz("predictions.npz", t=ref.t, x=x, a=ref.a, k=ref.k, u=u)  # ref.t: each member's times
    errors = member_errors(u, ref.u)
    labels, found = outputs.solutions(run, cfg, trainer.member_table, ref, u) if cfg.analysis.solutions else (None, None)
    if n > 1:
        outputs.members_csv(run, trainer.member_table, errors, cur, labels)
    outputs.figures(run, cfg, trainer.member_table, ref, u, errors)
    metrics = outputs.metrics(cfg, ref, errors, cur, trainer.unpadded(cur.state.params), time.perf_counter() - started)
    if found is not None:
        metrics["solutions"] = found
    if cfg.pde.residual == "inclusion":
        before = metrics.get("reference_note")
        metrics["reference_note"] = (f"{before}; " if before else "") + (
            "pde.residual inclusion trains on the set H(u − a), which may have several solutions; each member's "
            f"reference is the solve of its regularisation ({cfg.pde.heaviside.kind}, k), one of them")
    return metrics
