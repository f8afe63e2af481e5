"""The cross-process program cache: hits reproduce the traced program bit for bit, every change
to what the program computes misses, and any failure falls back to plain `jax.jit`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.numerics import program_cache


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(program_cache, "program_dir", lambda: tmp_path / "programs")
    return tmp_path / "programs"


def _scaled(scale, n=8):
    def fn(x, params):
        return jnp.sin(x * params["w"]) * scale + jnp.arange(n)

    return fn


def _args(n=8, dtype=jnp.float64):
    return jnp.linspace(0.0, 1.0, n, dtype=dtype), {"w": jnp.asarray(3.0, dtype=dtype)}


def test_second_call_hits_and_matches_plain_jit(cache):
    args = _args()
    first = program_cache.compile_cached(_scaled(2.0), *args)
    assert first.outcome.status == "miss" and len(list(cache.glob("*.jaxexport"))) == 1
    second = program_cache.compile_cached(_scaled(2.0), *args)
    assert second.outcome.status == "hit" and second.outcome.key == first.outcome.key
    plain = jax.jit(_scaled(2.0))(*args)
    np.testing.assert_array_equal(np.asarray(first(*args)), np.asarray(plain))
    np.testing.assert_array_equal(np.asarray(second(*args)), np.asarray(plain))
    # new values of the same shapes run through the cached program
    other = (args[0] + 1.0, {"w": jnp.asarray(0.5)})
    np.testing.assert_array_equal(np.asarray(second(*other)), np.asarray(jax.jit(_scaled(2.0))(*other)))


def test_every_change_to_the_program_misses(cache):
    base = program_cache.program_key(_scaled(2.0), _args())
    assert program_cache.program_key(_scaled(2.0), _args()) == base
    assert program_cache.program_key(_scaled(2.5), _args()) != base  # a closed-over constant
    assert program_cache.program_key(_scaled(2.0, n=9), _args(9)) != base  # shapes
    assert program_cache.program_key(_scaled(2.0), _args(dtype=jnp.float32)) != base  # dtypes
    assert program_cache.program_key(_scaled(2.0), _args(), key_parts="tsit5") != base
    x, p = _args()
    assert program_cache.program_key(_scaled(2.0), (x, {"v": p["w"]})) != base  # tree structure
    # the same code closing over different arrays
    assert program_cache.program_key(lambda y: y + np.ones(3), (x,)) != program_cache.program_key(lambda y: y + np.zeros(3), (x,))


def test_solver_settings_in_a_closure_change_the_key():
    from neurocli.config.common import SolverConfig

    def make(cfg):
        return lambda y: y * cfg.rtol

    x = jnp.ones(3)
    k1 = program_cache.program_key(make(SolverConfig(name="tsit5")), (x,))
    k2 = program_cache.program_key(make(SolverConfig(name="dopri5")), (x,))
    assert k1 != k2


def test_jitted_functions_in_a_closure_are_read_through():
    x = jnp.ones(3)
    tanh = program_cache.program_key(lambda y: jax.nn.tanh(y), (x,))
    assert program_cache.program_key(lambda y: jax.nn.tanh(y), (x,)) == tanh
    act = lambda f: (lambda y: f(y))  # noqa: E731
    assert program_cache.program_key(act(jax.nn.tanh), (x,)) != program_cache.program_key(act(jax.nn.sigmoid), (x,))


def test_export_failure_falls_back_to_plain_jit(cache):
    def with_callback(x):
        return jax.pure_callback(lambda v: np.asarray(v) * 2, jax.ShapeDtypeStruct(x.shape, x.dtype), x)

    x = jnp.arange(4.0)
    compiled = program_cache.compile_cached(with_callback, x)
    assert compiled.outcome.status == "fallback"
    np.testing.assert_array_equal(np.asarray(compiled(x)), 2 * np.arange(4.0))


def test_unreadable_value_in_a_closure_is_not_cached(cache):
    class Opaque:
        factor = 3.0

    thing = Opaque()
    x = jnp.arange(3.0)
    compiled = program_cache.compile_cached(lambda y: y * thing.factor, x)
    assert compiled.outcome.status == "uncached" and not cache.exists()
    np.testing.assert_array_equal(np.asarray(compiled(x)), 3 * np.arange(3.0))


def test_off_when_the_compilation_cache_is_off(monkeypatch):
    monkeypatch.setattr(program_cache.runtime, "compilation_cache_dir", lambda: None)
    x = jnp.arange(3.0)
    compiled = program_cache.compile_cached(lambda y: y + 1, x)
    assert compiled.outcome.status == "off"
    np.testing.assert_array_equal(np.asarray(compiled(x)), np.arange(3.0) + 1)


def test_corrupt_file_is_traced_again(cache):
    args = _args()
    program_cache.compile_cached(_scaled(2.0), *args)
    (path,) = cache.glob("*.jaxexport")
    path.write_bytes(b"not a program")
    compiled = program_cache.compile_cached(_scaled(2.0), *args)
    assert compiled.outcome.status == "miss"
    np.testing.assert_array_equal(np.asarray(compiled(*args)), np.asarray(jax.jit(_scaled(2.0))(*args)))


SCRIPT = """
import hashlib, json, sys
from neurocli import runtime
from neurocli.numerics import program_cache
runtime.configure("float64", compilation_cache=True)
from neurocli.simulation.problem import build_problem, make_spec
from neurocli.config.base import validate
from neurocli.config.simulate import SimulateConfig
from neurocli.numerics.solve import run_solve
cfg = validate(SimulateConfig, json.loads(sys.argv[1]), "test")
problem = build_problem(cfg)
out = run_solve(problem, make_spec(cfg, problem))
print(json.dumps({"status": out.cache_status,
                  "ys": hashlib.sha256(out.ys.tobytes()).hexdigest(), "steps": int(out.num_steps)}))
"""


def _solve_in_fresh_process(cfg: dict, cache_dir: Path) -> dict:
    env = dict(os.environ, NEUROCLI_CACHE_DIR=str(cache_dir), EQX_ON_ERROR="nan", PYTHONPATH=str(ROOT))
    env.pop("NEUROCLI_NO_COMPILATION_CACHE", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cfg)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_fresh_process_reuses_the_traced_solve_bit_for_bit(tmp_path):
    cfg = {"model": {"name": "hh"}, "stimulus": {"kind": "pulse", "start": 1.0, "duration": 1.0, "amplitude": 20.0},
           "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.1}, "solver": {"name": "tsit5"}}
    cold = _solve_in_fresh_process(cfg, tmp_path)
    warm = _solve_in_fresh_process(cfg, tmp_path)
    assert cold["status"] == "miss" and warm["status"] == "hit"
    assert warm["ys"] == cold["ys"] and warm["steps"] == cold["steps"]
    other_solver = _solve_in_fresh_process({**cfg, "solver": {"name": "dopri5"}}, tmp_path)
    assert other_solver["status"] == "miss"
    longer = _solve_in_fresh_process({**cfg, "time": {"t0": 0.0, "t1": 6.0, "save_every": 0.1}}, tmp_path)
    assert longer["status"] == "miss"
    assert len(list((tmp_path / "programs").glob("*.jaxexport"))) == 3


LAPACK_SCRIPT = """
import json, sys
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
from neurocli.numerics import program_cache
from pathlib import Path
program_cache.program_dir = lambda: Path(sys.argv[1])
a = jnp.asarray([[4.0, 1.0], [1.0, 3.0]]); b = jnp.asarray([1.0, 2.0])
read = []  # programs deserialised (not loaded as their stored executable)
real = jax.export.deserialize
jax.export.deserialize = lambda *a, **k: read.append(1) or real(*a, **k)
sine = program_cache.compile_cached(lambda x: jnp.sin(x) * 2.0, b)
first = sine.outcome.status
print(json.dumps({"sine": [float(v) for v in sine(b)], "sine_status": first,
                  "scipy_after_sine": "scipy.linalg" in sys.modules}), flush=True)
solve = program_cache.compile_cached(lambda m, v: jnp.linalg.solve(m, v), a, b)
print(json.dumps({"solve": [float(v) for v in solve(a, b)], "solve_status": solve.outcome.status,
                  "deserialised": len(read)}))
"""


def test_cached_programs_initialise_lapack_only_when_they_call_it(tmp_path):
    """A cached program without LAPACK calls skips JAX's LAPACK set-up (scipy.linalg's import,
    0.13-0.3 s of every warm run); one that solves a linear system still gets it, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results = []
    for _ in range(2):  # a miss, then a hit in a fresh process
        out = subprocess.run([sys.executable, "-c", LAPACK_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.strip().splitlines()
        results.append({**json.loads(lines[-2]), **json.loads(lines[-1])})
    assert [r["sine_status"] for r in results] == ["miss", "hit"]
    assert [r["solve_status"] for r in results] == ["miss", "hit"]
    # compiled by XLA in the first process, their executables are stored: the second loads them,
    # the LAPACK-calling one with JAX's LAPACK kernels set up first (without, it would crash)
    assert len(list(tmp_path.glob("*.xlaexec"))) == 2 and results[1]["deserialised"] == 0
    for r in results:
        assert not r["scipy_after_sine"]
        np.testing.assert_allclose(r["sine"], 2.0 * np.sin([1.0, 2.0]))
        np.testing.assert_allclose(r["solve"], np.linalg.solve([[4.0, 1.0], [1.0, 3.0]], [1.0, 2.0]))


DEVICES_SCRIPT = """
import json, sys
import jax
jax.config.update("jax_num_cpu_devices", 2)
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from neurocli.numerics import program_cache
from pathlib import Path
program_cache.program_dir = lambda: Path(sys.argv[1])
x = jnp.arange(4.0)  # on the first device alone
spread = jax.device_put(x, NamedSharding(Mesh(np.array(jax.devices()), ("m",)), PartitionSpec("m")))
read = []  # programs deserialised (not loaded as their stored executable)
real = jax.export.deserialize
jax.export.deserialize = lambda *a, **k: read.append(1) or real(*a, **k)
one = program_cache.compile_cached(lambda v: v * 3.0, x)
two = program_cache.compile_cached(lambda v: v * 5.0, spread)
print(json.dumps({"one": [float(v) for v in one(x)], "two": [float(v) for v in two(spread)],
                  "status": [one.outcome.status, two.outcome.status], "deserialised": len(read)}))
"""


def test_a_stored_executable_runs_on_the_devices_it_was_compiled_for(tmp_path):
    """In a process of two CPU devices, a program of one device and one sharded over both are
    compiled, stored with their executables, and loaded by a second such process: each runs on its
    own devices (loaded onto every device, the one-device program wanted two shards of its argument:
    a warm two-device train-ude sweep failed so)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results = []
    for _ in range(2):  # a miss, then a hit in a fresh process
        out = subprocess.run([sys.executable, "-c", DEVICES_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert [r["status"] for r in results] == [["miss", "miss"], ["hit", "hit"]]
    assert len(list(tmp_path.glob("*.xlaexec"))) == 2 and results[1]["deserialised"] == 0  # executables loaded
    for r in results:
        assert r["one"] == [0.0, 3.0, 6.0, 9.0] and r["two"] == [0.0, 5.0, 10.0, 15.0]


def _mlp_step_setup():
    import equinox as eqx
    import optax

    from neurocli.ude.task import StepStats

    net = eqx.nn.MLP(2, 1, 8, 2, activation=jax.nn.tanh, key=jax.random.PRNGKey(0))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    opt = optax.adam(1e-2)
    x = jnp.linspace(-1.0, 1.0, 32).reshape(16, 2)

    def step(state, data, scale):
        params, opt_state = state

        def loss(p):
            model = eqx.combine(p, static)
            return jnp.mean((jax.vmap(model)(data)[:, 0] - jnp.sin(scale * data[:, 0])) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        stats = StepStats(value, optax.tree.norm(grads), jnp.asarray(1e-2), jnp.isfinite(value))
        return (optax.apply_updates(params, updates), opt_state), stats

    return step, (params, opt.init(params)), x, StepStats


def test_a_training_step_is_cached_and_runs_as_plain_jit(cache):
    """An equinox/optax train state through `compile_cached_step`: the second compile hits, the
    state comes back with its structure (static fields included), bit for bit plain jit's."""
    import equinox as eqx

    step, state, x, StepStats = _mlp_step_setup()
    scale = jnp.asarray(3.0)
    stats = lambda leaves: StepStats(*leaves)  # noqa: E731
    first = program_cache.compile_cached_step(step, state, x, scale, stats=stats)
    assert first.outcome.status == "miss"
    cached = program_cache.compile_cached_step(step, state, x, scale, stats=stats)
    assert cached.outcome.status == "hit"
    plain = eqx.filter_jit(step)
    a, b = state, state
    for _ in range(3):
        (a, sa), (b, sb) = cached(a, x, scale), plain(b, x, scale)
        assert isinstance(sa, StepStats) and float(sa.loss) == float(sb.loss)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.slow
def test_a_warm_train_ude_run_traces_no_step(tmp_path, cache, cli):
    """The second train-ude run of a config finds every phase's step in the program cache, and
    its loss.csv equals the first run's (the wall-clock column aside)."""
    import csv

    root = tmp_path / "out"
    args = ["train-ude", "--config", ROOT / "configs" / "ude_smoke.yaml", "--output-root", root,
            "--set", "train.phases[0].iterations=2", "--set", "train.phases[1].iterations=2",
            "--set", "train.phases[2].iterations=2"]
    runs = []
    for _ in range(2):
        result, run = cli(*args)
        assert result.exit_code == 0, result.output
        # every compile_cached call names its phase on stderr: "compiling: cached program" (a hit)
        # or "compiling: tracing …" (a miss, an uncached closure, the cache off)
        said = result.stderr
        runs.append((run, {"hits": said.count("compiling: cached program"), "traced": said.count("compiling: tracing")}))
    (first, cold), (second, warm) = runs
    assert cold["traced"] >= 3 and warm["traced"] == 0 and warm["hits"] >= 3, (cold, warm)

    def rows(run):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader((run / "loss.csv").open())]

    assert rows(first) == rows(second) and len(rows(first)) == 6


def test_a_program_compiled_in_this_process_is_reused_while_its_file_holds_it(cache, monkeypatch):
    """A second compile of a program in one process takes the executable the first made (nothing
    read back, lowered or looked up in XLA's cache), as long as the stored file still holds the
    bytes it was made from: a cleared cache traces again (a changed one: test_disk_trust.py)."""
    args = _args()
    first = program_cache.compile_cached(_scaled(4.0), *args)
    deserialised = []
    real = jax.export.deserialize
    monkeypatch.setattr(jax.export, "deserialize", lambda *a, **k: deserialised.append(1) or real(*a, **k))
    second = program_cache.compile_cached(_scaled(4.0), *args)
    assert second.outcome.status == "hit" and not deserialised
    np.testing.assert_array_equal(np.asarray(second(*args)), np.asarray(jax.jit(_scaled(4.0))(*args)))
    np.testing.assert_array_equal(np.asarray(second(*args)), np.asarray(first(*args)))
    (path,) = cache.glob("*.jaxexport")
    path.unlink()
    assert program_cache.compile_cached(_scaled(4.0), *args).outcome.status == "miss"


def _outcomes(monkeypatch) -> list:
    """The outcome of every `compile_cached` call from here on."""
    seen, real = [], program_cache.compile_cached

    def spy(*args, **kwargs):
        compiled = real(*args, **kwargs)
        seen.append(compiled.outcome.status)
        return compiled

    monkeypatch.setattr(program_cache, "compile_cached", spy)
    return seen


def test_cached_jit_gives_filter_jits_result_static_leaves_included(cache, monkeypatch):
    """A network built by `cached_jit` is filter_jit's, bit for bit and with its static fields
    (the activation); its program is stored, so another wrapper (a fresh process's) reads it,
    and a wrapper reuses its program for arguments shaped alike without tracing again."""
    import equinox as eqx

    def build(key, width):
        return eqx.nn.MLP(2, 1, width, 2, activation=jax.nn.softplus, key=key)

    seen = _outcomes(monkeypatch)
    key = jax.random.PRNGKey(3)
    plain = eqx.filter_jit(build)(key, 5)
    net = program_cache.cached_jit(build)(key, 5)
    assert seen == ["miss"]
    assert jax.tree_util.tree_structure(net) == jax.tree_util.tree_structure(plain)
    assert net.activation is plain.activation is jax.nn.softplus
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(plain, eqx.is_array))):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    wrapper = program_cache.cached_jit(build)
    wrapper(key, 5)
    assert seen == ["miss", "hit"]  # stored: a new wrapper reads the program
    other = wrapper(jax.random.PRNGKey(4), 5)
    assert seen == ["miss", "hit"]  # the same layout: this wrapper's program, no new compile
    np.testing.assert_array_equal(np.asarray(other.layers[0].weight),
                                  np.asarray(eqx.filter_jit(build)(jax.random.PRNGKey(4), 5).layers[0].weight))
    wrapper(key, 6)  # another static argument: another program
    assert seen == ["miss", "hit", "miss"]


def test_cached_jit_inside_a_trace_is_traced_into_it(cache, monkeypatch):
    """Under vmap (a sweep builds its members' states so) the function is part of the outer
    program: nothing is compiled on its own."""
    seen = _outcomes(monkeypatch)
    double = program_cache.cached_jit(lambda x, scale: {"y": x * scale, "scale": scale})
    out = jax.vmap(lambda x: double(x, 2.5)["y"])(jnp.arange(3.0))
    np.testing.assert_array_equal(np.asarray(out), [0.0, 2.5, 5.0])
    assert seen == []
    alone = double(jnp.arange(3.0), 2.5)  # a float leaf: static, kept as it is
    assert alone["scale"] == 2.5 and seen == ["miss"]


def test_an_executable_compiled_here_is_stored_and_loaded_in_place_of_its_program(cache, monkeypatch, capsys):
    """A program XLA compiles in this process leaves its executable beside it: a fresh process
    loads that (no program read back, nothing lowered), with the same numbers. A changed byte in
    it is a warning that removes it, and the program serves. An executable JAX's own cache held
    is not stored (serialised again it lacks kernels on CPU)."""
    import time

    scale = 1.0 + (time.time_ns() % 10**9) / 10**9  # a constant no earlier run compiled: XLA compiles afresh
    x = jnp.linspace(0.0, 1.0, 16)
    first = program_cache.compile_cached(_scaled(scale, n=16), x, {"w": jnp.asarray(1.5)})
    (executable,) = cache.glob("*.xlaexec")
    expected = np.asarray(jax.jit(_scaled(scale, n=16))(x, {"w": jnp.asarray(1.5)}))
    deserialised = []
    real = jax.export.deserialize
    monkeypatch.setattr(jax.export, "deserialize", lambda *a, **k: deserialised.append(1) or real(*a, **k))
    monkeypatch.setattr(program_cache, "_LOADED", program_cache._Loaded())  # a fresh process's
    loaded = program_cache.compile_cached(_scaled(scale, n=16), x, {"w": jnp.asarray(1.5)})
    assert loaded.outcome.status == "hit" and not deserialised
    np.testing.assert_array_equal(np.asarray(loaded(x, {"w": jnp.asarray(1.5)})), expected)
    np.testing.assert_array_equal(np.asarray(first(x, {"w": jnp.asarray(1.5)})), expected)

    raw = bytearray(executable.read_bytes())
    raw[-5] ^= 0x01
    executable.write_bytes(bytes(raw))
    monkeypatch.setattr(program_cache, "_LOADED", program_cache._Loaded())
    capsys.readouterr()
    served = program_cache.compile_cached(_scaled(scale, n=16), x, {"w": jnp.asarray(1.5)})
    warning = capsys.readouterr().err
    assert "does not match its digest" in warning and "compiled its program again" in warning
    assert served.outcome.status == "hit" and deserialised == [1]  # the program, read and compiled
    np.testing.assert_array_equal(np.asarray(served(x, {"w": jnp.asarray(1.5)})), expected)
    assert not executable.exists()  # compiled from JAX's cache this time: not stored again


def test_phases_differing_only_in_learning_rate_numbers_share_the_cached_step(cache):
    """A train-ude step traced for one Adam phase is the cached step of another phase that differs
    only in lr, final_lr, schedule, warm-up and iterations (its numbers are the program's inputs,
    training/optim.Hyper), and it trains as that phase's own step with its numbers as constants."""
    import equinox as eqx

    from neurocli.config.optim import PhaseConfig
    from neurocli.training.optim import hyper, make_optimizer
    from neurocli.ude.task import StepStats, init_state, make_step, raw_step

    class Quadratic(eqx.Module):
        def __call__(self, params, iteration):
            return jnp.sum((params["w"] - jnp.arange(3.0)) ** 2), jnp.zeros((), jnp.int32)

    a = PhaseConfig(optimizer="adam", iterations=8, lr=0.01, schedule="cosine", final_lr=1e-3)
    b = PhaseConfig(optimizer="adam", iterations=30, lr=0.2, schedule="exponential", warmup=3)
    state = init_state({"w": jnp.zeros(3)}, make_optimizer(a))
    it, stats = jnp.asarray(0, jnp.int64), (lambda leaves: StepStats(*leaves))
    assert program_cache.compile_cached_step(raw_step(a), state, Quadratic(), it, hyper(a), stats=stats).outcome.status == "miss"
    cached = program_cache.compile_cached_step(raw_step(b), state, Quadratic(), it, hyper(b), stats=stats)
    assert cached.outcome.status == "hit"
    own = make_step(b, max_traces=None)  # b's numbers traced in as constants
    x = y = init_state({"w": jnp.zeros(3)}, make_optimizer(b))
    for i in range(12):
        (x, sx), (y, sy) = cached(x, Quadratic(), jnp.asarray(i, jnp.int64), hyper(b)), own(y, Quadratic(), jnp.asarray(i, jnp.int64))
        np.testing.assert_allclose(float(sx.lr), float(sy.lr), rtol=1e-15)
        np.testing.assert_allclose(np.asarray(x.params["w"]), np.asarray(y.params["w"]), rtol=1e-14, atol=1e-15)
    assert float(sx.lr) != float(hyper(a).lr)  # b's schedule, not a's
