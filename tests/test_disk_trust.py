"""Trust nothing on disk (issue 18): a poisoned or swapped cached program, a cache directory that
cannot serve, links swapped into a run directory, a full disk and a read-only mount. Each case
fails on the code before the issue; here it is a clear message, the right exit code, nothing
written outside the run, and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from neurocli import atomic, runtime
from neurocli.cli import app
from neurocli.config.base import validate
from neurocli.config.simulate import SimulateConfig
from neurocli.numerics import program_cache
from neurocli.numerics.solve import solve_program
from neurocli.plotting import figure_worker
from neurocli.run_dir import RunDirectory, RunDirectoryChanged
from neurocli.simulation.problem import build_problem, make_spec

ROOT = Path(__file__).resolve().parent.parent
SHORT_HH = {"model": {"name": "hh"}, "stimulus": {"kind": "pulse", "start": 1.0, "duration": 1.0, "amplitude": 20.0},
            "time": {"t0": 0.0, "t1": 6.0, "save_every": 0.1}, "solver": {"name": "tsit5", "rtol": 1e-8, "atol": 1e-8}}
SWEEP = {**SHORT_HH, "sweep": {"parameter": "stimulus.amplitude", "values": [5.0, 10.0, 20.0]},
         "runtime": {"chunk_size": 1}}


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def write_config(tmp_path: Path, cfg: dict, name: str = "cfg") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# -- the program cache -----------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(program_cache, "program_dir", lambda: tmp_path / "programs")
    return tmp_path / "programs"


def _scaled(scale):
    return lambda x: jnp.sin(x) * scale


def test_a_changed_byte_in_a_cached_program_is_a_miss_that_removes_it(cache, capsys):
    x = jnp.linspace(0.0, 1.0, 8)
    program_cache.compile_cached(_scaled(6.3), x)
    (path,) = cache.glob("*.jaxexport")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit of the serialised program (a constant, an opcode)
    path.write_bytes(bytes(raw))
    capsys.readouterr()
    compiled = program_cache.compile_cached(_scaled(6.3), x)
    assert compiled.outcome.status == "miss" and "digest" in compiled.outcome.reason
    warning = capsys.readouterr().err
    assert warning.count("warning: program cache:") == 1 and str(path) in warning and "removed it" in warning
    np.testing.assert_array_equal(np.asarray(compiled(x)), np.asarray(jax.jit(_scaled(6.3))(x)))
    # traced again and stored again, verified: the next call hits
    assert program_cache.compile_cached(_scaled(6.3), x).outcome.status == "hit"


def test_a_program_copied_over_another_key_is_not_run(cache, capsys):
    x = jnp.linspace(0.0, 1.0, 8)
    program_cache.compile_cached(_scaled(1.0), x)
    (one,) = cache.glob("*.jaxexport")
    program_cache.compile_cached(_scaled(16.3), x)
    (other,) = set(cache.glob("*.jaxexport")) - {one}
    shutil.copyfile(one, other)  # a valid program, stored under the wrong key
    capsys.readouterr()
    compiled = program_cache.compile_cached(_scaled(16.3), x)
    assert compiled.outcome.status == "miss"
    assert "another program" in capsys.readouterr().err
    np.testing.assert_allclose(np.asarray(compiled(x)), 16.3 * np.sin(np.asarray(x)), rtol=1e-15)


def test_a_file_of_the_old_format_or_garbage_is_a_miss(cache, capsys):
    x = jnp.arange(3.0)
    key = program_cache.program_key(_scaled(2.0), (x,))
    cache.mkdir(parents=True)
    (cache / f"{key[:40]}.jaxexport").write_bytes(b"\x00" * 64)
    compiled = program_cache.compile_cached(_scaled(2.0), x)
    assert compiled.outcome.status == "miss" and "not a neurocli program file" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(compiled(x)), 2.0 * np.sin(np.arange(3.0)))


def test_an_unwritable_program_cache_is_a_warning_and_the_program_still_runs(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(program_cache, "program_dir", lambda: blocker / "programs")  # under a file
    x = jnp.arange(3.0)
    compiled = program_cache.compile_cached(_scaled(3.0), x)
    assert compiled.outcome.status == "miss"
    assert "could not store" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(compiled(x)), 3.0 * np.sin(np.arange(3.0)))


def _solve_key(cfg: dict) -> str:
    config = validate(SimulateConfig, cfg, "test")
    problem = build_problem(config)
    fn, dynamic, values, _ = solve_program(problem, make_spec(config, problem))
    return program_cache.program_key(fn, (dynamic, values))


def test_every_setting_that_changes_the_numbers_changes_the_key():
    base = _solve_key(SHORT_HH)
    assert _solve_key(SHORT_HH) == base
    changed = {
        "rtol": {"solver": {**SHORT_HH["solver"], "rtol": 1e-3}},
        "atol": {"solver": {**SHORT_HH["solver"], "atol": 1e-3}},
        "max_steps": {"solver": {**SHORT_HH["solver"], "max_steps": 5000}},
        "solver": {"solver": {**SHORT_HH["solver"], "name": "dopri5"}},
        "dt0": {"solver": {**SHORT_HH["solver"], "dt0": 0.01}},
        "save_every": {"time": {**SHORT_HH["time"], "save_every": 0.05}},
    }
    keys = {name: _solve_key({**SHORT_HH, **change}) for name, change in changed.items()}
    jax.config.update("jax_enable_x64", False)  # precision: float32 (restored by conftest)
    keys["precision"] = _solve_key(SHORT_HH)
    jax.config.update("jax_enable_x64", True)
    assert base not in keys.values() and len(set(keys.values())) == len(keys), keys
    # a model or stimulus value is an input of the program, not part of it: one program serves all
    assert _solve_key({**SHORT_HH, "stimulus": {**SHORT_HH["stimulus"], "amplitude": 10.0}}) == base


def test_a_swapped_solve_program_gives_the_configs_own_numbers(tmp_path, cache):
    """The hostile tester's case: the program stored for rtol=1e-3 copied over the key of rtol=1e-8."""
    def run(rtol: float) -> dict:
        cfg = {**SHORT_HH, "solver": {**SHORT_HH["solver"], "rtol": rtol}}
        result = invoke("simulate", "--config", write_config(tmp_path, cfg, f"rtol{rtol:g}"),
                        "--output-root", tmp_path / "out")
        assert result.exit_code == 0, result.output
        return json.loads((Path(result.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())

    loose = run(1e-3)
    (loose_file,) = cache.glob("*.jaxexport")
    tight = run(1e-8)
    (tight_file,) = set(cache.glob("*.jaxexport")) - {loose_file}
    assert tight["num_steps"] > loose["num_steps"]
    shutil.copyfile(loose_file, tight_file)
    again = run(1e-8)
    assert again["num_steps"] == tight["num_steps"] and again["peak_V_mV"] == tight["peak_V_mV"]


# -- the cache directory -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_cache_directory_that_cannot_serve_is_named_and_the_run_goes_on(tmp_path):
    """A real process with NEUROCLI_CACHE_DIR on a file: exit 0, one warning naming the variable."""
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a directory")
    env = {**os.environ, "NEUROCLI_CACHE_DIR": str(blocker), "PYTHONPATH": str(ROOT), "NEUROCLI_FIGURE_WORKER": "0"}
    env.pop(runtime.NO_CACHE_ENV, None)
    cfg = write_config(tmp_path, {**SHORT_HH, "time": {**SHORT_HH["time"], "t1": 3.0}})
    out = subprocess.run([sys.executable, "-m", "neurocli", "simulate", "--config", str(cfg), "--output-root",
                          str(tmp_path / "out")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: NEUROCLI_CACHE_DIR={blocker} is a file, not a directory; running without the "
                        "compilation cache (set NEUROCLI_CACHE_DIR to a directory of your own)"]
    assert json.loads((Path(out.stdout.strip().splitlines()[-1]) / "run.json").read_text())["status"] == "completed"


def test_cache_problems_are_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert runtime.cache_problem(blocker) == "is a file, not a directory"
    assert runtime.cache_problem(blocker / "sub") == "lies under a file, not a directory"
    fresh = tmp_path / "new" / "cache"
    assert runtime.cache_problem(fresh) is None and fresh.is_dir()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert "can be written by other users (mode 777)" in runtime.cache_problem(shared)
    if os.geteuid() == 0:  # root can give a directory away
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o755)
        os.chown(theirs, 12345, 12345)
        assert runtime.cache_problem(theirs).startswith("belongs to another user (uid 12345)")


# -- links in the run directory -----------------------------------------------------------------------


def test_a_run_directory_swapped_for_a_link_stops_the_run(tmp_path, monkeypatch):
    """Replaced by a link to elsewhere after it was made: exit 1 naming the path, nothing written
    outside, and the directory the run made says `failed`."""
    import neurocli.commands.simulate as simulate

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real_execute = simulate.execute
    moved = {}

    def swap_then_execute(problem, cfg, run, restored=None):
        moved["to"] = run.path.with_name(run.path.name + ".moved")
        run.path.rename(moved["to"])
        run.path.symlink_to(elsewhere)
        return real_execute(problem, cfg, run, restored)

    monkeypatch.setattr(simulate, "execute", swap_then_execute)
    result = invoke("simulate", "--config", write_config(tmp_path, SHORT_HH), "--output-root", tmp_path / "out")
    assert result.exit_code == 1, result.output
    (line,) = errors(result)
    run_path = Path(result.stdout.strip().splitlines()[-1])
    assert line.startswith(f"error: run failed: cannot write {run_path}: the run directory was replaced by a "
                           f"symbolic link to {elsewhere}")
    assert list(elsewhere.iterdir()) == []
    record = json.loads((moved["to"] / "run.json").read_text())
    assert record["status"] == "failed" and "symbolic link" in record["error"]


def _run_dir(tmp_path: Path) -> RunDirectory:
    return RunDirectory.create(tmp_path / "out", "simulate", "x", ["neurocli"], 0)


def test_writes_never_follow_a_link_inside_the_run_directory(tmp_path):
    run = _run_dir(tmp_path)
    outside = tmp_path / "outside.csv"
    outside.write_text("precious\n")
    (run.path / "loss.csv").symlink_to(outside)
    run.write_text("loss.csv", "step,loss\n")  # replaces the link, never writes through it
    assert outside.read_text() == "precious\n" and not (run.path / "loss.csv").is_symlink()
    (run.path / "members.csv").symlink_to(outside)
    with pytest.raises(atomic.FileWriteError, match="members.csv: it is a symbolic link"):
        run.append_text("members.csv", "1,2\n")
    with pytest.raises(atomic.FileWriteError, match="symbolic link"):
        run.truncate("members.csv", 0)
    elsewhere = tmp_path / "figs"
    elsewhere.mkdir()
    (run.path / "figures").symlink_to(elsewhere)
    with pytest.raises(atomic.FileWriteError, match="figures/a.pdf: figures is a symbolic link"):
        run.write_bytes("figures/a.pdf", b"%PDF")
    assert outside.read_text() == "precious\n" and list(elsewhere.iterdir()) == []
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_a_moved_run_directory_is_noticed(tmp_path):
    run = _run_dir(tmp_path)
    run.path.rename(tmp_path / "gone")
    run.path.mkdir()  # another directory at the same path
    with pytest.raises(RunDirectoryChanged, match="no longer the run directory this run made"):
        run.write_text("config.yaml", "x: 1\n")
    assert list(run.path.iterdir()) == []
    assert run.mark_ended("failed", "moved") is None  # recorded in the directory it made
    assert json.loads((tmp_path / "gone" / "run.json").read_text())["status"] == "failed"


def test_the_figure_worker_writes_only_into_the_run_it_was_given(tmp_path):
    run = _run_dir(tmp_path)
    identity = run.identity()
    figure_worker._write_into(str(run.path), identity, "figures/a.pdf", b"%PDF-1")
    assert (run.path / "figures" / "a.pdf").read_bytes() == b"%PDF-1"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run.path.rename(tmp_path / "moved")
    run.path.symlink_to(elsewhere)
    with pytest.raises(atomic.FileWriteError, match="symbolic link"):
        figure_worker._write_into(str(run.path), identity, "figures/b.pdf", b"%PDF-1")
    shutil.rmtree(elsewhere)
    elsewhere.mkdir()
    run.path.unlink()
    run.path.mkdir()  # a directory, but not the run's
    with pytest.raises(atomic.FileWriteError, match="no longer the run directory"):
        figure_worker._write_into(str(run.path), identity, "figures/b.pdf", b"%PDF-1")
    assert list(run.path.iterdir()) == []


def test_a_link_planted_at_the_run_directory_path_is_stepped_around(tmp_path, monkeypatch):
    """A link waiting at `<stamp>_<name>` is never followed: the run takes the next free name."""
    import datetime as dt

    import neurocli.commands.simulate as simulate

    monkeypatch.setattr(simulate, "execute", lambda *a, **k: {})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    parent = tmp_path / "out" / "simulate"
    parent.mkdir(parents=True)
    now = dt.datetime.now()
    for second in range(0, 4):  # this second and the next few: whichever the run is stamped with
        stamp = (now + dt.timedelta(seconds=second)).strftime("%Y%m%d-%H%M%S")
        (parent / f"{stamp}_cfg").symlink_to(elsewhere)
    result = invoke("simulate", "--config", write_config(tmp_path, SHORT_HH), "--output-root", tmp_path / "out")
    assert result.exit_code == 0, result.output
    run_path = Path(result.stdout.strip().splitlines()[-1])
    assert run_path.name.endswith("_cfg-2") and run_path.is_dir() and not run_path.is_symlink()
    assert list(elsewhere.iterdir()) == []


def test_a_resume_refuses_a_members_csv_swapped_for_a_link(tmp_path, monkeypatch):
    run = _cut_sweep(tmp_path, monkeypatch)
    outside = tmp_path / "outside.csv"
    outside.write_text("precious\n")
    (run / "members.csv").unlink()
    (run / "members.csv").symlink_to(outside)
    result = invoke("simulate", "--resume", run)
    assert result.exit_code == 2, result.output
    assert "members.csv cannot be read safely" in result.output and "not resumable" in result.output
    assert outside.read_text() == "precious\n"


def _cut_sweep(tmp_path: Path, monkeypatch, root: Path | None = None) -> Path:
    """A sweep of SWEEP interrupted (exit 130) after its first chunk."""
    from neurocli.members.file import MembersFile

    append = MembersFile.append

    def interrupt(self, index, rows):
        append(self, index, rows)
        raise KeyboardInterrupt

    monkeypatch.setattr(MembersFile, "append", interrupt)
    result = invoke("simulate", "--config", write_config(tmp_path, SWEEP, "sweep"), "--output-root",
                    root or tmp_path / "out")
    monkeypatch.undo()
    assert result.exit_code == 130, result.output
    return Path(result.stdout.strip().splitlines()[-1])


# -- a full disk, a read-only mount -------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs of that many bytes (needs root and mount rights; skipped where
    this machine cannot mount one)."""
    mounts = []

    def mount(size: int) -> Path:
        point = tmp_path / f"tmpfs{len(mounts)}"
        point.mkdir()
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip() or out.returncode}): needs root with mount rights")
        mounts.append(point)
        return point

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _fill(point: Path, leave: int) -> Path:
    """Fill the filesystem at `point` until `leave` bytes are free; returns the filler file."""
    filler = point / "filler"
    free = shutil.disk_usage(point).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_a_disk_that_fills_during_a_sweep_fails_cleanly_and_resumes(tmp_path, tmpfs, monkeypatch):
    """36 KB free: the sweep stops with exit 1 and one `error:` line naming the file, the status
    `failed`, no temporary file left; with room again, --resume completes it."""
    point = tmpfs(4 * 2**20)
    filler = _fill(point, 36 * 1024)
    result = invoke("simulate", "--config", write_config(tmp_path, SWEEP, "sweep"), "--output-root", point / "out")
    assert result.exit_code == 1, result.output
    (line,) = errors(result)
    assert line.startswith("error: run failed: cannot write ") and line.endswith("No space left on device")
    run = Path(result.stdout.strip().splitlines()[-1])
    assert line.split("cannot write ")[1].startswith(str(run))
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    filler.unlink()
    resumed = invoke("simulate", "--resume", run)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    whole = invoke("simulate", "--config", write_config(tmp_path, SWEEP, "sweep"), "--output-root", tmp_path / "whole")
    assert (run / "members.csv").read_bytes() == (Path(whole.stdout.strip().splitlines()[-1]) / "members.csv").read_bytes()


def test_a_full_disk_leaves_no_empty_run_directory(tmp_path, tmpfs, monkeypatch):
    import neurocli.commands.simulate as simulate

    monkeypatch.setattr(simulate, "execute", lambda *a, **k: {})
    point = tmpfs(1 * 2**20)
    (point / "out" / "simulate").mkdir(parents=True)
    _fill(point, 0)
    result = invoke("simulate", "--config", write_config(tmp_path, SHORT_HH), "--output-root", point / "out")
    assert result.exit_code == 1, result.output
    (line,) = errors(result)
    assert line.startswith(f"error: cannot write {point / 'out' / 'simulate'}/") and "run.json: No space left" in line
    assert list((point / "out" / "simulate").iterdir()) == []


def test_a_resume_on_a_read_only_mount_is_refused_untouched(tmp_path, tmpfs, monkeypatch):
    point = tmpfs(8 * 2**20)
    run = _cut_sweep(tmp_path, monkeypatch, root=point / "out")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
    result = invoke("simulate", "--resume", run)
    assert result.exit_code == 1, result.output
    (line,) = errors(result)
    assert line == f"error: cannot resume: cannot write {run}: Read-only file system"
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
