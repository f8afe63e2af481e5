"""SIGINT and SIGTERM during a run: stop cleanly, with the latest checkpoint and status written.

`SignalGuard` is installed by the runner around a command's whole execution and handed to the
run (`run.guard`, which the training engine reads; nothing global). Outside a training
loop a signal raises `Interrupted` at once (a solve or a figure is not worth finishing). Inside
`guard.deferred()` (the training loop) the first signal only sets a flag, which the loop checks
between steps: it saves its checkpoint and raises `Interrupted` there. A second signal raises at
once, wherever the loop is.

The handlers are installed even when SIGINT was inherited as ignored (a job started with `&` by a
non-interactive shell): Ctrl-C at a terminal reaches only the foreground process group, so such a
job gets SIGINT only from an explicit `kill -INT`, which is a request to stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT: exit 130; SIGTERM: exit 143)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 130)


class SignalGuard:
    """Holds the received signal; `deferred()` turns a first signal into `pending`."""

    def __init__(self):
        self.pending: int | None = None
        self._defer = False

    def _handle(self, signum, frame):
        if self.pending is None:
            self.pending = signum
            if self._defer:
                return
        # Kept in `pending` too: Python ignores an exception raised where the signal lands inside a
        # garbage-collection callback or __del__ (JAX runs one), so `check()` catches it later
        raise Interrupted(signum)

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextlib.contextmanager
    def deferred(self):
        before, self._defer = self._defer, True
        try:
            yield self
        finally:
            self._defer = before

    def check(self) -> None:
        """Raise `Interrupted` if a signal came while deferred."""
        if self.pending is not None:
            raise Interrupted(self.pending)


@contextlib.contextmanager
def guarding():
    """A fresh guard installed for one run (the runner hands it to the run: `run.guard`)."""
    guard = SignalGuard()
    with guard.installed():
        yield guard
