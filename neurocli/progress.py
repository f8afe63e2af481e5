"""Progress on stderr: the phases of a run, and a bar for loops (training steps, sweep chunks).

- `phase(name, detail)`: one line as each phase of a run begins (building, compiling, solving,
  writing), with the seconds since the process started. On terminals and elsewhere alike.
- `progress(total, description)`: a context manager yielding a `Reporter`; call it as
  `report(step, **fields)` after each step. On a terminal a rich progress bar; elsewhere (CI, a
  log file) a plain line at least every `every_s` seconds (2 by default), at every `every_pct` per
  cent of the total, and at the last step.
- `report.finish(**fields)`: the final values, printed whatever the time since the last line. A
  loop whose reported numbers end up in metrics.json (the best loss) calls it with exactly those
  values once they are final, so that the last progress line agrees with metrics.json.

Floats are printed with 6 significant digits.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager

def _process_start() -> float:
    """time.monotonic() at the start of this process (Linux: from /proc), else at this import."""
    try:
        with open("/proc/self/stat") as f:
            started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - started_ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(0.0, age)
    except (OSError, ValueError, IndexError):
        return time.monotonic()


_T0 = _process_start()


def elapsed() -> float:
    """Seconds since the process started."""
    return time.monotonic() - _T0


_thread = threading.local()


@contextmanager
def silenced():
    """No phase lines from this thread meanwhile (a background compile is not a phase of the run)."""
    before = getattr(_thread, "silent", False)
    _thread.silent = True
    try:
        yield
    finally:
        _thread.silent = before


def phase(name: str, detail: str = "") -> None:
    """Announce a phase of the run: `[  1.2 s] compiling: cached program` on stderr (not from a
    thread inside `silenced()`)."""
    if getattr(_thread, "silent", False):
        return
    text = f"{name}: {detail}" if detail else name
    print(f"[{elapsed():7.2f} s] {text}", file=sys.stderr, flush=True)


def format_fields(fields: dict, sep: str = "=") -> str:
    return "  ".join(f"{k}{sep}{v:.6g}" if isinstance(v, float) else f"{k}{sep}{v}" for k, v in fields.items())


class Reporter:
    """What `progress` yields: `report(step, **fields)` after a step, `report.finish(**fields)` at the end."""

    def __init__(self, total: int, description: str, start: int, every_s: float, every_pct: float, bar=None):
        self.total, self.description = total, description
        self.every_s, self.every_pct = every_s, every_pct
        self.step, self.fields = start, {}
        self._bar, self._task = bar if bar is not None else (None, None)
        self._last_time = time.monotonic()
        self._last_bucket = self._bucket(start)
        self._printed = True  # nothing new to print yet

    def _bucket(self, step: int) -> int:
        if self.total <= 0 or self.every_pct <= 0:
            return 0
        return int(100.0 * step / self.total // self.every_pct)

    def __call__(self, step: int, **fields) -> None:
        self.step, self.fields = step, fields
        if self._bar is not None:
            self._bar.update(self._task, completed=step, info=format_fields(fields, " "))
            return
        now, bucket = time.monotonic(), self._bucket(step)
        if now - self._last_time >= self.every_s or bucket > self._last_bucket or step >= self.total:
            self._line()
            self._last_time, self._last_bucket = now, bucket
        else:
            self._printed = False

    def finish(self, **fields) -> None:
        """The final values (e.g. the best loss as metrics.json will have it): always shown."""
        self.fields = {**self.fields, **fields}
        if self._bar is not None:
            self._bar.update(self._task, completed=self.step, info=format_fields(self.fields, " "))
            return
        self._line(final=True)

    def _line(self, final: bool = False) -> None:
        info = format_fields(self.fields)
        tag = " done" if final else ""
        print(f"[{elapsed():7.2f} s] {self.description}{tag}: {self.step}/{self.total}  {info}".rstrip(),
              file=sys.stderr, flush=True)
        self._printed = True

    def _close(self) -> None:
        if self._bar is None and not self._printed:  # the latest values were never shown
            self._line()


@contextmanager
def progress(total: int, description: str, *, start: int = 0, every_s: float = 2.0, every_pct: float = 10.0):
    """Yields a `Reporter`: `report(step, **fields)`, `step` the number of completed steps."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=total, completed=start, info="")
            yield Reporter(total, description, start, every_s, every_pct, bar=(bar, task))
        return
    reporter = Reporter(total, description, start, every_s, every_pct)
    try:
        yield reporter
    finally:
        reporter._close()
