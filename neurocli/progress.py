"""Progress on stderr: a rich progress bar on a terminal, a line every so often otherwise."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager


@contextmanager
def progress(total: int, description: str, *, start: int = 0, every_s: float = 10.0):
    """Yields `update(step, **fields)`; `step` is the number of completed steps."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=total, completed=start, info="")

            def update(step: int, **fields):
                info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
                bar.update(task, completed=step, info=info)

            yield update
        return

    last = [time.monotonic()]

    def update(step: int, **fields):
        now = time.monotonic()
        if now - last[0] >= every_s or step == total:
            last[0] = now
            info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
            print(f"{description}: {step}/{total}  {info}", file=sys.stderr, flush=True)

    yield update
