"""Process-wide JAX settings: precision and the persistent compilation cache."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from pathlib import Path

CACHE_ENV = "NEUROCLI_CACHE_DIR"
NO_CACHE_ENV = "NEUROCLI_NO_COMPILATION_CACHE"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neurocli" / "jax"


def configure(precision: str = "float64", compilation_cache: bool = True, cpu_devices: int = 1) -> None:
    """Call before any array is created. The cache is off if `compilation_cache` is false or the
    environment variable NEUROCLI_NO_COMPILATION_CACHE is set (to anything but 0), and when its
    directory cannot serve (`cache_problem`): then a warning names it and the run goes on
    without the cache. `cpu_devices` CPU devices are made if JAX has not started yet (in a
    process that already computed, such as a test session, the devices stay as they are)."""
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")
    if cpu_devices > 1:
        try:
            jax.config.update("jax_num_cpu_devices", cpu_devices)
        except RuntimeError:  # JAX's backends exist already
            pass
    disabled = os.environ.get(NO_CACHE_ENV, "0") not in ("", "0")
    if not compilation_cache or disabled:
        return
    path = cache_dir()
    problem = cache_problem(path)
    if problem is not None:
        where = f"{CACHE_ENV}={path}" if os.environ.get(CACHE_ENV) else f"the cache directory {path} (the default)"
        print(f"warning: {where} {problem}; running without the compilation cache "
              f"(set {CACHE_ENV} to a directory of your own)", file=sys.stderr)
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # every program, however quick to compile: a warm training run recompiled ~54 small ones below
    # the default 0.2 s on each start (train-ude ude_smoke warm 8.69 s -> 7.10 s, medians of 3 alternating)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def cache_problem(path: Path) -> str | None:
    """Why `path` cannot hold the caches (None: it can), after making it when missing. Compiled
    and traced programs read from it run as this user's code, so it must be a writable directory
    that belongs to this user and that no other user can write."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = path.stat()
    except FileExistsError:
        return "is a file, not a directory"
    except NotADirectoryError:
        return "lies under a file, not a directory"
    except OSError as exc:
        return f"cannot be made ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return "is not writable (a read-only filesystem?)"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"belongs to another user (uid {st.st_uid}): programs others stored could change this run's results"
    if st.st_mode & 0o022:
        return (f"can be written by other users (mode {stat.S_IMODE(st.st_mode):o}): programs others stored "
                "could change this run's results")
    return None


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process among the run's processes: one (the default), or those joined by
    `start_distributed` (`--coordinator`). The runner passes it along; nothing global."""

    index: int = 0
    count: int = 1

    @property
    def main(self) -> bool:
        """Process 0 (or the only one): the one that writes the run directory."""
        return self.index == 0

    def all_ok(self, ok: bool) -> bool:
        """Whether every process is ok (`ok` alone with one process). Every process must call it
        at the same point: a process that failed alone (process 0 could not make the run
        directory) would otherwise leave the others waiting in the run's first collective."""
        if self.count == 1:
            return ok
        import numpy as np
        from jax.experimental import multihost_utils

        return bool(np.all(multihost_utils.process_allgather(np.array([int(ok)], dtype=np.int32))))


ONE_PROCESS = Processes()


def start_distributed(coordinator: str, num_processes: int | None = None, process_id: int | None = None) -> Processes:
    """Join JAX's multi-controller runtime (before any array is made): every process runs the
    same program; sweeps shard their member axis over the devices of all processes.
    `coordinator` is HOST:PORT of process 0, or `auto` to take everything from the cluster
    (SLURM, Open MPI, … as `jax.distributed.initialize()` detects them). On CPU the
    collectives go through gloo."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if coordinator == "auto":
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    return Processes(jax.process_index(), jax.process_count())


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cpu_devices(requested: int | None, parallel_members: bool, processes: int = 1) -> int:
    """How many CPU devices a run makes: `runtime.cpu_devices` when given; else one per core when
    the run's members can run in parallel (and this is the only process: several processes on
    a machine share its cores), else 1."""
    if requested is not None:
        return requested
    return cpu_cores() if parallel_members and processes == 1 else 1


def compilation_cache_dir() -> Path | None:
    """The persistent compilation cache's directory, or None when it is off (as `configure` left
    it, or however JAX was configured). Reads JAX's settings: imports jax."""
    import jax

    if not jax.config.jax_enable_compilation_cache or not jax.config.jax_compilation_cache_dir:
        return None
    return Path(jax.config.jax_compilation_cache_dir)


def version_report() -> str:
    """`neurocli --version`: the package, the libraries it is built on, JAX's backend and devices."""
    from importlib import metadata

    from neurocli import __version__

    found = []
    for name in ("jax", "jaxlib", "diffrax", "equinox", "optax"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    lines = [f"neurocli {__version__}", ", ".join(found)]
    try:
        import jax

        devices = ", ".join(str(d) for d in jax.devices())
        lines.append(f"backend {jax.default_backend()}: {devices}")
    except Exception as exc:  # a broken accelerator install still reports the versions
        lines.append(f"backend unavailable: {type(exc).__name__}: {exc}")
    return "\n".join(lines)
