"""Tests run in float64 on the CPU, with the persistent compilation cache (as the CLI runs);
every test leaves the process-wide precision as it found it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("EQX_ON_ERROR", "nan")  # as the CLI sets it: cacheable executables

import jax  # noqa: E402
import pytest  # noqa: E402

from neurocli import runtime  # noqa: E402

# One cache directory for the whole session: every pytest-xdist worker, the CLI runs in these
# processes (the runner configures the cache again) and the child processes the tests start share
# the compiled and traced programs. NEUROCLI_CACHE_DIR when set (.ci/run: a fresh one), else the
# default directory.
os.environ.setdefault(runtime.CACHE_ENV, str(runtime.cache_dir()))
jax.config.update("jax_enable_x64", True)
runtime.configure("float64", compilation_cache=True)
jax.devices()  # JAX starts here, with one CPU device: runs in this process keep it (subprocesses make their own)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's in-memory compiled programs after each test module. One process runs the whole
    suite: without this, the executables of hundreds of tests stay mapped, and XLA aborted while
    compiling the largest one (the direct adjoint's gradient) near the end of the suite."""
    yield
    import gc

    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _restore_precision():
    yield
    jax.config.update("jax_enable_x64", True)



ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def invoke(*args) -> tuple[object, Path | None]:
    """`neurocli ARGS...` in this process (typer's CliRunner): (result, the run directory it printed)."""
    from typer.testing import CliRunner

    from neurocli.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    out = result.stdout.strip()
    return result, Path(out.splitlines()[-1]) if out else None


def figures_handed_to_worker(monkeypatch) -> list:
    """The names of the figures a run hands the figure worker, collected as the run waits for them
    (the list fills when `figure_worker.wait` is called)."""
    from neurocli.plotting import figure_worker

    handed = []
    original = figure_worker.wait

    def wait():
        worker = figure_worker._state["worker"]
        handed.extend(job[1] for job in (worker.jobs if worker else []))
        original()

    monkeypatch.setattr(figure_worker, "wait", wait)
    return handed


def spawn(*args, **popen) -> subprocess.Popen:
    """`python -m neurocli ARGS...` as a child process (signals, exit codes of a real process)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "neurocli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, **popen)


@pytest.fixture(scope="session")
def cli():
    """The shared CLI invoker: cli("train-ude", "--config", ...) -> (result, run_dir)."""
    return invoke

