"""Work started now and collected later: `Background(fn, *args)` runs `fn(*args)` in a daemon
thread; `result()` waits for it and returns its value or raises its exception, in the caller.

For work that mostly waits on XLA (compiling a cached program, running a solve), which releases
Python's lock: on a machine with a free core it overlaps with what the caller does meanwhile. The
thread announces no phases on stderr (`neurocli.progress.silenced`): the run's phase lines stay
the caller's. A daemon thread never keeps the process alive: an interrupted run exits without it.
"""

from __future__ import annotations

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

        threading.Thread(target=work, name=name, daemon=True).start()

    def result(self) -> Any:
        """`fn(*args)`'s value, once it is done (its exception raised here)."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value
