"""Figures drawn in a second process while this one imports JAX, compiles and solves (issue 12).

Importing matplotlib and its PDF backend and drawing a run's first figure cost about a second on
the critical path of a short run. `neurocli simulate`, `train-ude` and `train-pinn` therefore
start a figure worker first thing (`start()`, from `neurocli.cli.main`; a training run's figures
come after training, so the worker's imports are long done by then): a fresh interpreter (`python -m
neurocli.plotting.figure_worker`; spawned, never forked: JAX runs threads) that imports
matplotlib and draws a throw-away figure (fonts, caches) on another core, then waits for work.

- `save(run, name, draw, *args, **kwargs)` hands it a figure: the arguments are pickled to a file
  in a private temporary directory and the file's path is sent on the worker's stdin; the worker
  calls `draw(*args, **kwargs)` (a module-level function of neurocli.plotting, found by name),
  writes `run/figures/<name>.pdf` atomically, as `RunDirectory.save_figure` would, and answers
  one JSON line on its stdout.
- `wait()` (neurocli.runner, before metrics.json and the status `completed`) closes the worker's
  stdin and waits for every answer, so every figure exists when the process exits. A figure the
  worker failed to draw raises `FigureError` with the worker's message: the run fails (exit 1),
  as a figure failure in this process would. A figure the worker never answered for (it died)
  is drawn in this process.
- `abandon()` (a failed or interrupted run, and at exit) stops the worker without waiting.

A run hands most of its figures over at its end, when its own process only waits for them. On two
or more cores the worker, once warm, therefore forks a second drawer (`_Helper`: a fork of a
process that runs no JAX, with matplotlib imported and its fonts loaded, so it starts at no cost);
a figure goes to the helper when it is idle, else the worker draws it. Both write their answers
to the same pipe, one whole line per write. Four train-pinn figures handed over at once took
0.9 s instead of 1.5 s on the 2-core machine (medians of 8). The worker ends with `os._exit` once
every answer is written: an interpreter holding matplotlib takes a while to tear down.

The worker pays only when a core would otherwise idle: it adds about 0.35 s of CPU (a second
interpreter, NumPy imported twice, the throw-away figure) to take about 0.8 s of matplotlib off
the run's critical path. Measured on a 2-core machine (benchmarks/results/startup.md): quiet, a
warm hh_pulse run took 1.60 s with the worker and 1.98 s without; busy with other people's test
suites, 2.56 s with and 2.19 s without. So by default (`NEUROCLI_FIGURE_WORKER` unset or `auto`)
it starts only when a core looks idle (`_core_idles`: the 1-minute load average is below the
number of usable CPUs, and no other task is runnable beyond what leaves a core free);
`NEUROCLI_FIGURE_WORKER=1` starts it always, `0` never.

Without a worker (off, a busy machine, it could not start, other commands, tests calling the CLI
in this process) `save` draws in this process, as before. The worker ignores SIGINT
(the main process handles interruption and stops it) and exits when its stdin closes, so it
never outlives the run.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from neurocli import runtime

ENV = "NEUROCLI_FIGURE_WORKER"
"""1: always a worker; 0: every figure in the main process; auto or unset: when a core idles."""


class FigureError(RuntimeError):
    """A figure the worker could not draw (its message names the figure and the exception)."""


class _Worker:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.tmp: str | None = None  # made with the first figure: a run killed before leaves none
        self.jobs: list[tuple] = []  # (run, name, draw, args, kwargs) by job number
        self.sent = True  # False once the pipe broke: the rest is drawn here
        self.drawn_by: dict[int, int] = {}  # job -> the pid of the process that drew it


_state: dict = {"worker": None}


def enabled() -> bool:
    """Whether `start` starts a worker (NEUROCLI_FIGURE_WORKER; see the module doc)."""
    setting = os.environ.get(ENV, "auto").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting not in ("", "auto"):
        return True
    return _core_idles()


def _core_idles() -> bool:
    """Whether a second core is free for the worker: at least 2 usable CPUs, a 1-minute load
    average below their number (on average a core had idle time), and, in the /proc/loadavg
    snapshot, no more runnable tasks besides this one than CPUs less two (none on 2 cores: idle now).
    The snapshot tells other work running now; the average, work that kept every core busy all
    minute. Runs of this command one after another leave an average of 1–2 on 2 cores (about 1.1
    for train-ude ude_smoke repeated; 1.5–2 in bench_startup's alternation of heavier runs), which
    a bound of CPUs less a half took for a busy machine."""
    cpus = runtime.cpu_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average: assume a busy machine
        return False
    return cpus >= 2 and load < cpus and _runnable_others() <= cpus - 2


def _runnable_others() -> int:
    """Tasks runnable right now besides this process (/proc/loadavg's `running/total`); 0 where
    there is no such file."""
    try:
        with open("/proc/loadavg") as f:
            return max(0, int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        return 0


def active() -> bool:
    """Whether figures go to a worker now."""
    return _state["worker"] is not None


def start() -> bool:
    """Start the worker (once per process) unless disabled; False when figures stay here."""
    if _state["worker"] is not None:
        return True
    if not enabled():
        return False
    root = str(Path(__file__).resolve().parents[2])  # the directory holding the neurocli package
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
    try:
        proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env, close_fds=True)
    except OSError as exc:
        print(f"note: no figure worker ({exc}); figures are drawn in this process", file=sys.stderr)
        return False
    _state["worker"] = _Worker(proc)
    atexit.register(abandon)
    return True


def _plain(value):
    """Arrays of other libraries (JAX) as NumPy arrays: the worker imports no JAX."""
    import numpy as np

    if isinstance(value, np.ndarray) or not hasattr(value, "__array__"):
        return value
    return np.asarray(value)


def save(run, name: str, draw, *args, **kwargs) -> Path:
    """`run.save_figure(name, draw(*args, **kwargs))`, in the worker when one is running.
    `draw` must be a module-level function (the worker imports it by name)."""
    worker: _Worker | None = _state["worker"]
    if worker is None or run.detached:
        return run.save_figure(name, draw(*args, **kwargs))
    args = tuple(_plain(a) for a in args)
    kwargs = {k: _plain(v) for k, v in kwargs.items()}
    job = len(worker.jobs)
    worker.jobs.append((run, name, draw, args, kwargs))
    relative = f"figures/{name}.pdf"
    if worker.sent:
        try:
            worker.tmp = worker.tmp or tempfile.mkdtemp(prefix="neurocli-figures-")
            file = Path(worker.tmp) / f"{job}.pickle"
            target = (str(run.path), run.identity(), relative)
            file.write_bytes(pickle.dumps((draw.__module__, draw.__qualname__, args, kwargs, target),
                                          protocol=pickle.HIGHEST_PROTOCOL))
            worker.proc.stdin.write(f"{job} {file}\n".encode())
            worker.proc.stdin.flush()
        except OSError:  # the worker has gone (a broken pipe): wait() draws what it did not answer
            worker.sent = False
    return run.file(relative)


def wait() -> None:
    """Wait for every figure handed to the worker (see the module doc); then no worker runs."""
    worker: _Worker | None = _state["worker"]
    if worker is None:
        return
    if not worker.jobs:  # nothing to wait for: do not wait for its imports
        abandon()
        return
    answers = {}
    try:
        try:
            worker.proc.stdin.close()  # the worker exits once it has drawn what it was given
        except OSError:
            pass
        for line in worker.proc.stdout:  # until every figure is answered (or the worker is gone)
            try:
                answer = json.loads(line)
                answers[int(answer["job"])] = answer["error"]
                worker.drawn_by[int(answer["job"])] = answer.get("pid")
            except (ValueError, KeyError, TypeError):
                continue
            if len(answers) == len(worker.jobs):
                break
        worker.proc.stdout.close()
        code = worker.proc.wait()  # answered: it is exiting (os._exit, no teardown)
    except BaseException:  # a signal while waiting: stop the worker, remove its files
        abandon()
        raise
    _state["worker"] = None
    if worker.tmp:
        shutil.rmtree(worker.tmp, ignore_errors=True)
    errors = []
    for job, (run, name, draw, args, kwargs) in enumerate(worker.jobs):
        if job not in answers:
            print(f"note: the figure worker stopped (exit {code}) before drawing {name}; drawing it here",
                  file=sys.stderr)
            run.save_figure(name, draw(*args, **kwargs))
        elif answers[job] is not None:
            errors.append(f"figure {name}: {answers[job]}")
    if errors:
        raise FigureError("; ".join(errors))


def abandon() -> None:
    """Stop the worker without waiting for its figures (a failed or interrupted run, exit)."""
    worker: _Worker | None = _state["worker"]
    _state["worker"] = None
    if worker is None:
        return
    for stream in (worker.proc.stdin, worker.proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    if worker.proc.poll() is None:
        worker.proc.kill()  # our own child, by its pid
    worker.proc.wait()
    if worker.tmp:
        shutil.rmtree(worker.tmp, ignore_errors=True)


# -- the worker process -----------------------------------------------------------------------


def _warm_up(style) -> None:
    """Draw and save a throw-away figure: loads fonts, the PDF backend and matplotlib's caches."""
    from neurocli.plotting import neuron

    import numpy as np

    t = np.linspace(0.0, 1.0, 50)
    style.pdf_bytes(neuron.voltage_trace(t, np.sin(t), np.cos(t)))
    style.pdf_bytes(neuron.state_variables(t, np.column_stack([t, t]), ["m", "h"]))


def _write_into(run_path: str, identity: tuple[int, int], relative: str, data: bytes) -> None:
    """Write a figure into the run directory as `RunDirectory` does: only into the directory the
    run made (same device and inode), never through a link."""
    from neurocli import atomic

    shown = os.path.join(run_path, relative)
    try:
        fd = atomic.open_dir(run_path)
    except OSError as exc:
        raise atomic.FileWriteError(run_path, f"cannot open the run directory ({atomic.reason(exc)})") from None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != identity:
            raise atomic.FileWriteError(run_path, "it is no longer the run directory this run made; stopping")
        atomic.write_at(fd, relative, data, shown)
    finally:
        os.close(fd)


def _draw(line: bytes) -> None:
    """Draw one handed-over figure into its run directory; answer its job number (and the error,
    if any) as one JSON line on stdout (a line is written whole: the helper shares the pipe)."""
    import importlib

    from neurocli.plotting import style

    job, _, file = line.decode().rstrip("\n").partition(" ")
    error = None
    try:
        module, qualname, args, kwargs, (run_path, identity, relative) = pickle.loads(Path(file).read_bytes())
        draw = getattr(importlib.import_module(module), qualname)
        _write_into(run_path, tuple(identity), relative, style.pdf_bytes(draw(*args, **kwargs)))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]  # the answer stays one atomic write
    finally:
        Path(file).unlink(missing_ok=True)
    sys.stdout.write(json.dumps({"job": int(job), "error": error, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()


class _Helper:
    """A second drawer forked from the warm worker (matplotlib imported, fonts loaded: it starts
    at no cost): a run hands its last figures over at once, when its own process only waits, so
    two cores draw them. It takes a figure only while idle; the worker draws the others."""

    def __init__(self, pid: int, jobs: int, done: int):
        self.pid, self.jobs, self.done = pid, jobs, done
        self.busy = 0

    @classmethod
    def fork(cls) -> "_Helper | None":
        if not hasattr(os, "fork") or runtime.cpu_cores() < 2:
            return None
        jobs_r, jobs_w = os.pipe()
        done_r, done_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # the helper: draws what comes down its pipe, says when done; never returns
            code = 0
            try:
                os.close(jobs_w)
                os.close(done_r)
                os.close(0)  # the run's pipe is the worker's to read
                with os.fdopen(jobs_r, "rb") as jobs:
                    for line in jobs:
                        _draw(line)
                        os.write(done_w, b".")
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(jobs_r)
        os.close(done_w)
        os.set_blocking(done_r, False)
        return cls(pid, jobs_w, done_r)

    def idle(self) -> bool:
        try:
            self.busy -= len(os.read(self.done, 64))
        except BlockingIOError:
            pass
        except OSError:  # it died: its figure is never answered, and the run draws it
            self.busy = 1 << 30
        return self.busy == 0

    def take(self, line: bytes) -> bool:
        try:
            os.write(self.jobs, line)
        except OSError:
            return False
        self.busy += 1
        return True

    def close(self) -> None:
        os.close(self.jobs)
        os.waitpid(self.pid, 0)


def _serve() -> None:
    import signal

    from neurocli.plotting import style

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C and stops us
    try:
        _warm_up(style)
    except Exception:  # a real figure will report the problem
        pass
    helper = _Helper.fork()
    for line in sys.stdin.buffer:
        if helper is None or not (helper.idle() and helper.take(line)):
            _draw(line)
    if helper is not None:
        helper.close()
    sys.stdout.flush()
    os._exit(0)  # every answer is written: no interpreter teardown (matplotlib's is slow)


if __name__ == "__main__":
    _serve()
