"""Work started now and collected later: `Background(fn, *args)` runs `fn(*args)` in a daemon
thread; `result()` waits for it and returns its value or raises its exception, in the caller.

For work that mostly waits on XLA (compiling a cached program, running a solve), which releases
Python's lock: on a machine with a free core it overlaps with what the caller does meanwhile. The
thread announces no phases on stderr (`neurocli.progress.silenced`): the run's phase lines stay
the caller's. A daemon thread never keeps the process alive: an interrupted run exits without it.

A process that ends through the interpreter's own exit (a library caller, a test session; the CLI
ends with `os._exit` and skips this) first waits for work still running: a daemon thread stopped
by the interpreter's finalisation inside XLA's compiler aborted the process (`terminate called
after throwing an instance of ...`, exit 134) after a training run that failed while its later
phases compiled in the background. The CLI's `os._exit` needs no such wait (`no_wait_at_exit`):
a failed or interrupted run exits at once.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

from neurocli import progress


class Background:
    def __init__(self, fn: Callable[..., Any], *args, name: str = "neurocli-background"):
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

        def work() -> None:
            try:
                with progress.silenced():
                    self._value = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
                self._error = exc
            finally:
                self._done.set()
                _running.discard(self._done)

        _running.add(self._done)
        threading.Thread(target=work, name=name, daemon=True).start()

    def result(self) -> Any:
        """`fn(*args)`'s value, once it is done (its exception raised here)."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


_running: set[threading.Event] = set()  # the done-events of work still running


@atexit.register
def _finish_running() -> None:
    """At the interpreter's exit: wait for work still running (see the module doc)."""
    for done in list(_running):
        done.wait()


def no_wait_at_exit() -> None:
    """For a process about to end with `os._exit`, which stops the threads without unwinding them:
    its exit handlers need not wait for unfinished work."""
    atexit.unregister(_finish_running)
