"""One training loop for every training command: phases, steps, log, best, checkpoints, signals.

A command supplies a `Task`: its train state, a compiled step per phase, and what a step's
statistics mean (`Record`). The engine owns the rest:

- `Cursor`: where training stands (step, phase, the task's state, best parameters and losses,
  failures, the log, timings). `advance(cursor) -> cursor` takes one step; a cursor is replaced
  as a whole, never torn, so whatever the loop is stopped by, the last cursor is consistent.
- Phases run in order; the state enters a phase by `task.enter_phase` (its optimiser state).
- The log (`History`, named columns) gets rows every `log_every` steps and at each phase's end.
- Best: per member, the parameters a logged step started from, when accepted and lower than the
  best so far; while a step's loss is not `comparable` (a curriculum window, shooting segments),
  the latest accepted parameters are best and the best loss stays +inf.
- Failures: a step that is not accepted counts; `max_consecutive_failures` in a row of one member
  (each member counts its own: members rejected on alternate steps go on) stop the run
  (`TrainingFailed`, exit 1) after a checkpoint. A task without its own rejection (train-pinn)
  uses 1: a non-finite loss ends the run with the reason.
- Checkpoints: `checkpoints/latest.eqx` (state, best, log) and `checkpoints/best.eqx` (the task's
  best artefact), JSON header + leaves (`training.checkpoint`), and loss.csv, every
  `checkpoint_every` steps, at the end, on a signal and before a failure.
- Signals: the loop runs in `run.guard.deferred()` (the runner's guard); a SIGINT or SIGTERM is acted on
  between steps: checkpoint, then `Interrupted` (exit 130 / 143).
- Timings accumulate across resumes: compile_s (the time the loop waited for the task's
  `compile`), train_s (the steps), steps_timed, per phase.
- Later phases compile in the background: a task whose `prefetch` is true (its `compile` reads
  only the shapes of the state it is given) has the steps of the phases after the current one
  compiled in a thread, from their skeletons, while the current phase trains; a phase waits for
  its step only if that is not done yet. A prefetched step is used only if the state entering its
  phase has the skeleton's structure, shapes, dtypes and shardings (else it is compiled again).
  A warm train-ude of configs/ude_smoke.yaml reads its L-BFGS and Levenberg–Marquardt steps from
  the cache while Adam trains.

Resuming replays nothing: the cursor is rebuilt from latest.eqx and training continues
bit-for-bit (CPU).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jax
import numpy as np

from neurocli import tracking
from neurocli.background import Background
from neurocli.numerics.program_cache import signature
from neurocli.progress import progress
from neurocli.run_dir import RunDirectory
from neurocli.training import checkpoint, signals
from neurocli.training.history import History

FORMAT = "neurocli-train/2"
LATEST = "checkpoints/latest.eqx"
BEST = "checkpoints/best.eqx"


class TrainingFailed(RuntimeError):
    """Too many rejected steps in a row, or a loss that is not finite."""


@dataclasses.dataclass(frozen=True)
class Settings:
    iterations: tuple[int, ...]  # steps of each phase
    checkpoint_every: int
    log_every: int = 1
    max_consecutive_failures: int = 1

    @property
    def starts(self) -> tuple[int, ...]:
        """First step of each phase, and the total at the end."""
        return tuple(int(s) for s in np.concatenate([[0], np.cumsum(self.iterations)]))

    @property
    def total(self) -> int:
        return int(sum(self.iterations))


@dataclasses.dataclass(frozen=True)
class Record:
    """What a logged step means: rows for the log, and per member the loss at the parameters the
    step started from, whether the step was accepted, and whether the loss is comparable."""

    rows: list[dict[str, float]]
    loss: np.ndarray  # (members,)
    accepted: np.ndarray  # (members,) bool
    comparable: bool = True


@dataclasses.dataclass(frozen=True)
class Timings:
    compile_s: tuple[float, ...]  # per phase, summed over sessions
    train_s: tuple[float, ...]
    steps: tuple[int, ...]  # steps timed in train_s

    @classmethod
    def zero(cls, phases: int) -> Timings:
        return cls((0.0,) * phases, (0.0,) * phases, (0,) * phases)

    def add(self, phase: int, compile_s: float = 0.0, train_s: float = 0.0, steps: int = 0) -> Timings:
        def bump(values, x):
            return tuple(v + x if i == phase else v for i, v in enumerate(values))

        return Timings(bump(self.compile_s, compile_s), bump(self.train_s, train_s), bump(self.steps, steps))

    @property
    def totals(self) -> dict[str, float]:
        steps = sum(self.steps)
        train = float(sum(self.train_s))
        return {"compile_s": float(sum(self.compile_s)), "train_s": train,
                "s_per_step": train / steps if steps else math.nan}

    def per_phase(self) -> list[float]:
        return [t / n if n else math.nan for t, n in zip(self.train_s, self.steps)]


@dataclasses.dataclass(frozen=True)
class Cursor:
    step: int  # steps done
    phase: int  # the phase whose optimiser state `state` holds
    state: Any  # the task's train state (on devices)
    best: Any  # best parameters (on devices)
    best_loss: np.ndarray  # (members,)
    best_step: np.ndarray  # (members,) the step whose starting parameters are best (-1: none)
    failed: int
    consecutive: np.ndarray  # (members,) each member's rejected steps in a row
    history: History
    timings: Timings
    elapsed_s: float  # wall time of the sessions before this one (the log's wall_s)
    final_loss: np.ndarray | None = None
    complete: bool = False
    steps_this_session: int = 0


class Task(Protocol):
    """What a training command supplies."""

    settings: Settings
    columns: tuple[str, ...]  # the log's columns
    members: int
    identity: dict  # header keys a checkpoint must match to be resumed

    def initial_state(self) -> Any: ...  # at step 0, host layout
    def params(self, state) -> Any: ...
    def enter_phase(self, phase: int, state, best) -> Any: ...
    def compile(self, phase: int, state) -> Callable: ...  # call(state, step) -> (state, stats)
    def record(self, step: int, phase: int, stats, wall_s: float) -> Record: ...  # step: 0-based index
    def select(self, mask: np.ndarray, params, best) -> Any: ...  # members where mask: params, else best
    def final_loss(self, cursor: Cursor) -> np.ndarray: ...
    def failure(self, cursor: Cursor, record: Record) -> str: ...
    # optional: `prefetch = True` when `compile` reads only the shapes of its state (see Engine)
    def to_host(self, tree) -> Any: ...
    def to_device(self, tree) -> Any: ...
    def skeleton(self, phase: int) -> tuple[Any, Any]: ...  # (state, best) on the host
    def best_artefact(self, cursor: Cursor) -> tuple[dict, Any]: ...  # (header, tree) of best.eqx
    def loss_csv(self, history: History) -> tuple[list, list]: ...


@dataclasses.dataclass(frozen=True)
class Restored:
    """A checkpoint read back (host arrays), checked against the task's identity."""

    header: dict
    tree: dict


def start(task: Task) -> Cursor:
    state = task.to_device(task.initial_state())
    n = task.members
    return Cursor(0, 0, state, task.params(state), np.full(n, np.inf), np.full(n, -1), 0, np.zeros(n, int),
                  History(task.columns), Timings.zero(len(task.settings.iterations)), 0.0)


# -- checkpoints ------------------------------------------------------------------------------


def _header(task: Task, cur: Cursor) -> dict:
    return {
        "format": FORMAT,
        **task.identity,
        "step": cur.step,
        "phase": cur.phase,
        "best_loss": cur.best_loss.tolist(),
        "best_step": cur.best_step.tolist(),
        "failed": cur.failed,
        "consecutive_failures": cur.consecutive.tolist(),
        "elapsed_s": cur.elapsed_s,
        "timings": dataclasses.asdict(cur.timings),
        "columns": list(task.columns),
        "history_rows": len(cur.history),
        "final_loss": None if cur.final_loss is None else cur.final_loss.tolist(),
        "complete": cur.complete,
    }


def save(task: Task, run: RunDirectory | None, cur: Cursor) -> None:
    if run is None:
        return
    tree = {"state": task.to_host(cur.state), "best": task.to_host(cur.best), "history": cur.history.array}
    run.write_bytes(LATEST, checkpoint.encode(_header(task, cur), tree))
    best_header, best_tree = task.best_artefact(cur)
    run.write_bytes(BEST, checkpoint.encode({"format": FORMAT, **task.identity, **best_header}, best_tree))
    header, rows = task.loss_csv(cur.history)
    run.write_csv("loss.csv", header, rows)


def read_header(run: RunDirectory) -> dict:
    """latest.eqx's header (CheckpointError if missing or not a checkpoint)."""
    name = str(run.file(LATEST))
    try:
        data = run.read_bytes(LATEST)
    except FileNotFoundError:
        raise checkpoint.CheckpointError(f"{name}: no checkpoint to resume from") from None
    return checkpoint.decode_header(data, name)


def restore(task_skeleton: Callable[[int], tuple[Any, Any]], identity: dict, columns: Sequence[str],
            run: RunDirectory) -> Restored | None:
    """Read and check latest.eqx fully (every leaf) before anything is written: a refused resume
    changes nothing. `task_skeleton(phase)` -> (state, best) shaped as saved. None if the run
    stopped before its first checkpoint (it starts again from step 0)."""
    name = str(run.file(LATEST))
    try:
        data = run.read_bytes(LATEST)
    except FileNotFoundError:
        return None
    head = checkpoint.decode_header(data, name)
    if head.get("format") != FORMAT:
        raise checkpoint.CheckpointMismatch(f"{name}: checkpoint format {head.get('format')!r}, "
                                            f"this version reads {FORMAT!r}")
    try:
        phase, rows = int(head["phase"]), int(head["history_rows"])
        state, best = task_skeleton(phase)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise checkpoint.CheckpointCorrupt(f"{name}: checkpoint header is incomplete ({exc})") from None
    skeleton = {"state": state, "best": best, "history": np.zeros((rows, len(columns)))}
    header, tree = checkpoint.decode(data, name, skeleton, expect={**identity, "columns": list(columns)})
    return Restored(header, tree)


def resume(task: Task, restored: Restored) -> Cursor:
    h, tree = restored.header, restored.tree
    t = h["timings"]
    return Cursor(
        step=int(h["step"]), phase=int(h["phase"]),
        state=task.to_device(tree["state"]), best=task.to_device(tree["best"]),
        best_loss=np.asarray(h["best_loss"], float), best_step=np.asarray(h["best_step"], int),
        failed=int(h["failed"]),
        consecutive=np.broadcast_to(np.asarray(h["consecutive_failures"], int), (task.members,)).copy(),
        history=History(task.columns, np.asarray(tree["history"])),
        timings=Timings(tuple(t["compile_s"]), tuple(t["train_s"]), tuple(t["steps"])),
        elapsed_s=float(h["elapsed_s"]),
        final_loss=None if h["final_loss"] is None else np.asarray(h["final_loss"], float),
        complete=bool(h["complete"]),
    )


# -- the loop -----------------------------------------------------------------------------------


class Engine:
    """Runs a task's phases from a cursor to the end, writing into `run` (None: keep nothing)."""

    def __init__(self, task: Task, run: RunDirectory | None = None, description: str = "training",
                 on_step: Callable[[Cursor], None] | None = None):
        self.task = task
        self.run_dir = run
        self.description = description
        self.on_step = on_step
        self._session_start = time.perf_counter()
        self._calls: dict[int, Callable] = {}
        self._prefetched: dict[int, Background] = {}  # phase -> (signature, step) compiling
        self.cursor: Cursor | None = None  # the latest cursor of `run` (after a failure: where it failed)

    def _call(self, phase: int, cur: Cursor) -> tuple[Callable, Cursor]:
        if phase not in self._calls:
            t0 = time.perf_counter()
            prefetched = self._prefetched.pop(phase, None)
            call = _prefetched_for(prefetched, cur.state) if prefetched is not None else None
            self._calls[phase] = call if call is not None else self.task.compile(phase, cur.state)
            cur = dataclasses.replace(cur, timings=cur.timings.add(phase, compile_s=time.perf_counter() - t0))
        return self._calls[phase], cur

    def _prefetch(self, cur: Cursor) -> None:
        """Start compiling the steps of the phases after `cur`'s, each in a background thread
        (tasks with `prefetch`; see the module doc)."""
        task = self.task
        if not getattr(task, "prefetch", False):
            return
        for p in range(cur.phase + 1, len(task.settings.iterations)):
            if p not in self._calls and p not in self._prefetched:
                self._prefetched[p] = Background(_compile_skeleton, task, p, name=f"neurocli-prefetch-{p}")

    def _wall(self, cur: Cursor) -> float:
        return time.perf_counter() - self._session_start + cur.elapsed_s

    def advance(self, cur: Cursor) -> tuple[Cursor, Record | None]:
        """One step (entering the next phase first if this one is done), and its record if logged."""
        task, st = self.task, self.task.settings
        starts = st.starts
        phase = cur.phase
        if cur.step >= starts[phase + 1]:  # this phase is done: the next one starts from `best`
            phase += 1
            cur = dataclasses.replace(cur, phase=phase, state=task.enter_phase(phase, cur.state, cur.best))
        call, cur = self._call(phase, cur)
        t0 = time.perf_counter()
        state, stats = call(cur.state, cur.step)
        step = cur.step + 1
        logged = step % st.log_every == 0 or step == starts[phase + 1]
        if not logged:
            return dataclasses.replace(cur, step=step, state=state, steps_this_session=cur.steps_this_session + 1,
                                       timings=cur.timings.add(phase, train_s=time.perf_counter() - t0, steps=1)), None
        rec = task.record(cur.step, phase, jax.device_get(stats), self._wall(cur))
        if step == starts[phase + 1]:
            jax.block_until_ready(state)
        timings = cur.timings.add(phase, train_s=time.perf_counter() - t0, steps=1)
        accepted = np.asarray(rec.accepted, bool)
        loss = np.asarray(rec.loss, float)
        better = accepted & (not rec.comparable or (loss < cur.best_loss))
        best = cur.best
        if better.any():
            best = task.select(better, task.params(cur.state), cur.best)
        return dataclasses.replace(
            cur, step=step, state=state, best=best,
            best_loss=np.where(better, loss if rec.comparable else np.inf, cur.best_loss),
            best_step=np.where(better, cur.step, cur.best_step),
            failed=cur.failed + int((~accepted).sum()),
            consecutive=np.where(accepted, 0, cur.consecutive + 1),
            history=cur.history.append(rec.rows), timings=timings,
            steps_this_session=cur.steps_this_session + 1,
        ), rec

    def run(self, cur: Cursor) -> Cursor:
        """Train to the end (or return `cur` as is if it is complete)."""
        if cur.complete:
            return cur
        task, st = self.task, self.task.settings
        guard = getattr(self.run_dir, "guard", None) or signals.SignalGuard()  # outside a run: bookkeeping only
        tracker = getattr(self.run_dir, "tracker", None) or tracking.Tracker()
        self.cursor = cur
        self._session_start = time.perf_counter()
        self._prefetch(cur)
        try:
            with guard.deferred(), progress(st.total, self.description, start=cur.step) as update:
                while cur.step < st.total:
                    guard.check()
                    cur, rec = self.advance(cur)
                    self.cursor = cur
                    if rec is not None:
                        update(cur.step, loss=float(np.max(rec.loss)), best=float(np.max(cur.best_loss)))
                        tracker.rows(rec.rows, cur.step)  # TensorBoard as the run goes (if on)
                        if cur.consecutive.max() >= st.max_consecutive_failures:
                            self._save(cur)
                            raise TrainingFailed(task.failure(cur, rec))
                    if cur.step % st.checkpoint_every == 0 and cur.step < st.total:
                        self._save(cur)
                    if self.on_step is not None:
                        self.on_step(cur)
                guard.check()
                final = np.asarray(task.final_loss(cur), float)
                better = final < cur.best_loss
                if better.any():
                    cur = dataclasses.replace(cur, best=task.select(better, task.params(cur.state), cur.best),
                                              best_loss=np.where(better, final, cur.best_loss),
                                              best_step=np.where(better, cur.step, cur.best_step))
                cur = dataclasses.replace(cur, final_loss=final, complete=True)
                self.cursor = cur
                self._save(cur)
        except KeyboardInterrupt:
            self._save(self.cursor)
            raise
        return cur

    def _save(self, cur: Cursor) -> None:
        save(self.task, self.run_dir, dataclasses.replace(cur, elapsed_s=self._wall(cur)))


def _compile_skeleton(task: Task, phase: int) -> tuple[tuple, Callable]:
    """(the signature of the phase's skeleton state, its step compiled for it)."""
    state = task.to_device(task.skeleton(phase)[0])
    return signature(state), task.compile(phase, state)


def _prefetched_for(prefetched: Background, state) -> Callable | None:
    """The step compiled in the background, if `state` has the signature it was compiled for;
    else None (the loop compiles the phase's step for `state`; a failure in the background is
    reported then, by that compile)."""
    try:
        compiled_for, call = prefetched.result()
    except Exception:  # noqa: BLE001
        return None
    return call if compiled_for == signature(state) else None
