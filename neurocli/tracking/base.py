"""What every tracking backend is: `Tracker` (no tracking: every call does nothing) and the one
warning line a failing backend prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def warn(backend: str, problem: object) -> None:
    text = " ".join(str(problem).split())[:300] or type(problem).__name__
    print(f"warning: tracking: {backend}: {text}; the run directory has everything", file=sys.stderr)


class Tracker:
    """No tracking: every call does nothing. Backends override `rows` and `finish`."""

    name = "none"

    def rows(self, rows: Sequence[dict[str, float]], step: int) -> None:
        """A logged training step's rows (loss.csv's, one per member)."""

    def finish(self, run) -> None:
        """The run's status is final and its files are written."""
