"""Later training phases compiled in the background (neurocli.training.engine, issue 23): a step
compiled for another state layout never used, train-pinn's L-BFGS phase the same to the bit, and
programs compiled at once in two threads keep JAX's LAPACK kernels set up. (train-ude's run
against the run compiled phase by phase: tests/test_ude_train.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

from neurocli.training import Engine, engine
from neurocli.ude.task import UdeTask
from pinn_helpers import keep_global_jax_state  # noqa: F401 - autouse: x64 restored after each test
from ude_helpers import build, smoke_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke():
    cfg = smoke_config()
    loss, params, _ = build(cfg)
    return cfg, loss, params


class Recorded(UdeTask):
    """UdeTask noting which thread compiled each phase, and for which state dtype."""

    def __init__(self, *args, prefetch: bool = True, skeleton_dtype=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefetch = prefetch
        self.skeleton_dtype = skeleton_dtype
        self.compiled_by: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()

    def compile(self, phase, state):
        with self._lock:
            dtype = str(jax.tree.leaves(state.params)[0].dtype)
            self.compiled_by.append((phase, threading.current_thread().name, dtype))
        return super().compile(phase, state)

    def skeleton(self, phase):
        state, best = super().skeleton(phase)
        if self.skeleton_dtype is not None:  # a skeleton that does not match the state entering the phase
            state = jax.tree.map(lambda x: x.astype(self.skeleton_dtype) if x.dtype == np.float64 else x, state)
        return state, best


def _train(cfg, loss, params, **kwargs):
    t = cfg.train
    task = Recorded(loss, params, t.phases, t.max_consecutive_failures, t.checkpoint_every, **kwargs)
    cur = Engine(task).run(engine.start(task))
    return task, cur


def _no_wall(cur, plain) -> None:
    """The two runs' logs are equal but for the wall-clock column."""
    keep = [i for i, c in enumerate(cur.history.columns) if c != "wall_s"]
    assert len(cur.history) == len(plain.history) > 0
    np.testing.assert_array_equal(cur.history.array[:, keep], plain.history.array[:, keep])


@pytest.mark.slow  # compiles two more steps (float32) to guard a fallback that a correct skeleton never takes
def test_a_step_prefetched_for_another_state_layout_is_compiled_again(smoke):
    """A skeleton whose arrays differ from the state entering its phase (float32 against float64):
    the program compiled for it in the background is not used; the loop compiles the phase's step
    for the real state, and training gives the numbers of a run without prefetching."""
    cfg, loss, params = smoke
    if not jax.config.jax_enable_x64:
        pytest.skip("needs float64 states")
    _, plain = _train(cfg, loss, params, prefetch=False)
    task, cur = _train(cfg, loss, params, skeleton_dtype=np.float32)
    by_phase = {p: sorted(set((who, dtype) for q, who, dtype in task.compiled_by if q == p)) for p in (1, 2)}
    for p in (1, 2):
        assert by_phase[p] == [("MainThread", "float64"), (f"neurocli-prefetch-{p}", "float32")]
    _no_wall(cur, plain)


LAPACK_THREADS = r"""
import json, sys, threading
import jax
from jax._src.export import _export
from neurocli.numerics import program_cache

calls = []
real = _export._ensure_backends_initialized
_export._ensure_backends_initialized = lambda platforms: calls.append(threading.current_thread().name)
entered, leave = threading.Event(), threading.Event()

def plain_program():  # a program without LAPACK, compiled in another thread meanwhile
    with program_cache._lapack_when_called(b"no linear algebra here"):
        entered.set()
        leave.wait()
        _export._ensure_backends_initialized(("cpu",))

other = threading.Thread(target=plain_program, name="other")
other.start()
entered.wait()
with program_cache._lapack_when_called(b"... lapack_dgetrf ..."):  # this thread's program calls LAPACK
    _export._ensure_backends_initialized(("cpu",))
    leave.set()
    other.join()
with program_cache._lapack_when_called(b"... lapack_dpotrf ..."):
    _export._ensure_backends_initialized(("cpu",))
print(json.dumps(calls))
"""


def test_programs_compiled_in_two_threads_keep_lapack_set_up():
    """While another thread compiles a cached program that calls no LAPACK (JAX's LAPACK set-up
    skipped there), a program that calls LAPACK still gets the set-up, in its own thread and after:
    an uninitialised LAPACK kernel crashes the process (seen as a segmentation fault when the
    Levenberg–Marquardt phase was compiled beside the L-BFGS phase)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", LAPACK_THREADS], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["MainThread", "MainThread"]


@pytest.mark.slow  # two PINN trainings with an L-BFGS phase compiled cold; make test keeps train-ude's
# equality (test_ude_train.py) and every pinn_smoke run of the CLI tests goes through the prefetch
@pytest.mark.parametrize("collocation", ["resample", "fixed"])
def test_a_pinn_lbfgs_phase_prefetched_trains_as_compiled_on_entry(collocation):
    """train-pinn's L-BFGS phase compiled in the background while Adam trains: its fixed points
    come from the state its first step starts from (the pool, for fixed collocation), so the run is
    the run compiled on entry, to the bit. (configs/pinn_smoke.yaml, whose programs other tests
    compile too.)"""
    import yaml

    from neurocli.config.base import validate
    from neurocli.config.pinn import TrainPinnConfig
    from neurocli.pinn.setup import build_setup
    from neurocli.pinn.train import Trainer, member_keys
    from pinn_helpers import train

    raw = yaml.safe_load((ROOT / "configs" / "pinn_smoke.yaml").read_text())
    if collocation == "fixed":
        raw["collocation"] = {"kind": "fixed", "points": 256, "batch": 64}
    cfg = validate(TrainPinnConfig, raw, "pinn_smoke.yaml")
    keys = member_keys(cfg.runtime.seed, 2)
    runs = {}
    for prefetch in (False, True):
        trainer = Trainer(build_setup(cfg), cfg.pde.member_values(), keys)
        trainer.prefetch = prefetch
        threads = []
        compile_ = trainer.compile
        trainer.compile = lambda phase, state, c=compile_, t=threads: (t.append((phase, threading.current_thread().name)),
                                                                      c(phase, state))[1]
        runs[prefetch] = (train(trainer), dict(reversed(threads)))
    (plain, plain_by), (cur, by) = runs[False], runs[True]
    assert plain_by == {0: "MainThread", 1: "MainThread"} and by == {0: "MainThread", 1: "neurocli-prefetch-1"}
    _no_wall(cur, plain)
    for a, b in zip(jax.tree.leaves(cur.state.params), jax.tree.leaves(plain.state.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
