"""`neurocli simulate`: config -> model -> a member table (one row without a sweep) -> chunked solves with their analysis -> run directory."""

from __future__ import annotations

from neurocli import progress
from neurocli.config.base import ConfigError
from neurocli.config.simulate import SimulateConfig
from neurocli.members.file import MembersFile
from neurocli.numerics.solve import Problem
from neurocli.run_dir import RunDirectory
from neurocli.simulation import cable_outputs, outputs, sweep
from neurocli.simulation.problem import build_problem

SCHEMA = SimulateConfig
RESUMABLE = True
"""`neurocli simulate --resume RUN_DIR` continues a sweep: finished chunks are skipped."""


def prepare(cfg: SimulateConfig, source: str) -> Problem:
    """Build the model (raises ConfigError for names the schema cannot check); compiles nothing."""
    return build_problem(cfg, source)


def resumable(cfg: SimulateConfig) -> bool:
    """Sweeps run in chunks, and resume; a single solve just reruns."""
    return cfg.sweep is not None


def parallel_members(cfg: SimulateConfig) -> bool:
    """Chunked sweeps run their members on every CPU core by default (one CPU device per core,
    each looping over its share of a chunk)."""
    return resumable(cfg)


def restore(problem: Problem, cfg: SimulateConfig, run: RunDirectory) -> bool:
    """Check, before anything is written, that this sweep's progress record can be continued."""
    if not resumable(cfg):
        raise ConfigError(str(run.path), [("--resume", "only sweeps resume (chunk by chunk); a single solve "
                                                       "has nothing to continue: run this config again instead")])
    try:
        MembersFile.progress(run, sweep.members_header(cfg), cfg.sweep.member_count)
    except ValueError as exc:
        raise ConfigError(str(run.path), [("--resume", f"{exc}: not resumable")]) from None
    return True


def execute(problem: Problem, cfg: SimulateConfig, run: RunDirectory, restored: bool | None = None) -> dict:
    if resumable(cfg):
        return sweep.run(problem, cfg, run, resume=bool(restored))
    progress.phase("building", cfg.model.name)
    result, times = sweep.solve_lone(problem, cfg)  # the one-row member table, through the chunk driver
    progress.phase("writing", f"solved in {times.run_s:.2f} s")
    if cfg.model.geometry == "cable":
        return cable_outputs.write(cfg, problem.model, result, times, run)
    if cfg.model.geometry == "pde":
        return outputs.pde_outputs(cfg, problem, result, times, run)
    return outputs.neuron_outputs(cfg, problem, result, times, run)
