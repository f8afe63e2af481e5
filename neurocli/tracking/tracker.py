"""The tracker a run hands its loss rows to (the training engine) and finishes with (the runner).

`start(command, cfg, run)` makes the trackers `runtime.tracking` asks for; the runner hands them
to the run (`run.tracker`), which the engine logs to (a no-op `Tracker` when tracking is off). Each backend
catches its own failures: it warns once and stops, and the run goes on.
"""

from __future__ import annotations

from pathlib import Path

from neurocli.tracking.base import Tracker, warn


class Trackers(Tracker):
    """Several backends; one that fails is dropped with a warning, the others go on."""

    def __init__(self, backends: list[Tracker]):
        self.backends = backends

    def _each(self, method: str, *args) -> None:
        for backend in list(self.backends):
            try:
                getattr(backend, method)(*args)
            except (Exception, KeyboardInterrupt) as exc:  # never fail (or cut short) the run
                warn(backend.name, f"{type(exc).__name__}: {exc}")
                self.backends.remove(backend)

    def rows(self, rows, step) -> None:
        self._each("rows", rows, step)

    def finish(self, run) -> None:
        self._each("finish", run)


def start(command: str, cfg, run) -> Tracker:
    """The trackers `cfg.runtime.tracking` asks for (the runner hands them to the run:
    `run.tracker`). Processes other than 0 of a many-process run (a detached run) track nothing."""
    settings = getattr(getattr(cfg, "runtime", None), "tracking", None)
    backends: list[Tracker] = []
    if settings is not None and not run.detached:
        root = Path(run.path).parent.parent  # <output-root>/<command>/<run>
        if settings.tensorboard:
            backends.append(_opened("tensorboard", lambda: _tensorboard().open(run.path)))
        if settings.mlflow:
            uri = f"sqlite:///{root.resolve() / 'mlflow.db'}" if settings.mlflow is True else settings.mlflow
            backends.append(_opened("mlflow", lambda: _mlflow().open(uri, settings.experiment or command, command, cfg)))
    backends = [b for b in backends if b is not None]
    return Trackers(backends) if backends else Tracker()


def _opened(name: str, make) -> Tracker | None:
    try:
        return make()
    except Exception as exc:  # e.g. an event directory that cannot be made
        warn(name, f"{type(exc).__name__}: {exc}")
        return None


def _tensorboard():
    from neurocli.tracking.tensorboard import TensorBoardTracker

    return TensorBoardTracker


def _mlflow():
    from neurocli.tracking.mlflow import MlflowTracker

    return MlflowTracker
