"""`neurocli discover`: a completed train-ude run's network -> library -> sparse regression ->
refit through the ODE -> the recovered equation, checked on the training and held-out data.

A sweep's networks are discovered one by one (each member with its own data), and the run
reports how often each form was found."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from neurocli import progress
from neurocli.config.base import UsageError
from neurocli.config.discover import DiscoverConfig
from neurocli.discover import outputs
from neurocli.discover.library import Library, LibraryError, build_library
from neurocli.discover.pipeline import discover
from neurocli.discover.samples import along_of
from neurocli.discover.source import Source, open_source
from neurocli.run_dir import RunDirectory
from neurocli.ude import data as ude_data
from neurocli.ude.sweep import recordings as sweep_recordings

SCHEMA = DiscoverConfig
RESUMABLE = False


def resumable(cfg) -> bool:
    return False


def default_name(run_dir) -> str:
    """The run's name: the train-ude run's, without its time stamp (`20261203-114500_ude_reduced_hh`
    -> `ude_reduced_hh`)."""
    return re.sub(r"^\d{8}-\d{6}_", "", Path(run_dir).name) or "discover"


@dataclasses.dataclass
class Prepared:
    source: Source
    library: Library


def prepare(cfg: DiscoverConfig, source: str) -> Prepared:
    """Read and check the train-ude run and build the library; compiles nothing. UsageError
    (exit 2) naming the run and why when either cannot be used."""
    src = open_source(cfg.run)
    where = f"run {cfg.run}"
    try:
        library = build_library(cfg.library, src.inputs, src.description["centre"], src.description["scale"])
    except LibraryError as exc:
        raise UsageError(where, f"no library for its network of {', '.join(src.inputs)}: {exc}") from None
    along = along_of(cfg.sample.along, src.inputs)
    if along == "voltage_grid" and src.inputs != ("V",):
        raise UsageError(where, f"sample.along: voltage_grid needs a network of V alone; this one sees "
                                f"{', '.join(src.inputs)} (use recorded_states)")
    return Prepared(src, library)


def execute(prep: Prepared, cfg: DiscoverConfig, run: RunDirectory, restored=None) -> dict:
    started = time.perf_counter()
    src, library = prep.source, prep.library
    tcfg = src.cfg
    progress.phase("data", f"the training data of {src.path.name}")
    recording = ude_data.load(tcfg, src.prep.truth, src.prep.stimulus, src.prep.csv)
    names, replaced, source = recording.names, tcfg.ude.replaced, str(src.path)
    if src.members is None:
        progress.phase("discovering", f"{library.columns} library columns")
        result = discover(cfg, src, library, src.networks[0], recording, cfg.runtime.seed)
        metrics = outputs.write(run, library, result, replaced, names, src.inputs, source)
    else:
        recordings = sweep_recordings(src.members, tcfg, recording)
        results = []
        for i, (network, rec) in enumerate(zip(src.networks, recordings)):
            progress.phase("discovering", f"member {i + 1} of {len(src.networks)}")
            results.append(discover(cfg, src, library, network, rec, cfg.runtime.seed))
        values = [src.members.row(i) for i in range(len(src.networks))]
        metrics = outputs.write_sweep(run, library, results, values, replaced, names, src.inputs, source)
    return {**metrics, "source_run": source, "replaced": replaced, "network_inputs": list(src.inputs),
            "library_terms": len(library.terms), "library_columns": library.columns,
            "discover_s": time.perf_counter() - started}
