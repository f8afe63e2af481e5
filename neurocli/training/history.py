"""The training log: rows of named columns, kept as one float array (what a checkpoint stores).

Columns are read by name (`history["loss"]`), never by position. Text columns of loss.csv (e.g.
the optimiser's name) are derived from numeric ones when the CSV is written (`formats`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np


class History:
    def __init__(self, columns: Sequence[str], rows: np.ndarray | None = None):
        self.columns = tuple(columns)
        width = len(self.columns)
        self.array = np.zeros((0, width)) if rows is None else np.asarray(rows, dtype=float).reshape(-1, width)

    def __len__(self) -> int:
        return self.array.shape[0]

    def __getitem__(self, column: str) -> np.ndarray:
        return self.array[:, self.columns.index(column)]

    def append(self, rows: Iterable[dict[str, float]]) -> History:
        """A new history with these rows added (each a dict with every column)."""
        new = np.array([[float(r[c]) for c in self.columns] for r in rows], dtype=float).reshape(-1, len(self.columns))
        return History(self.columns, np.concatenate([self.array, new]))

    def where(self, mask: np.ndarray) -> History:
        return History(self.columns, self.array[mask])

    def csv(self, formats: dict[str, Callable[[np.ndarray], object]], order: Sequence[str]) -> tuple[list, list]:
        """(header, rows) for loss.csv: `order` names the columns; `formats[name](row)` makes each
        value from the row as a dict of floats (default: repr of the float)."""
        rows = []
        for values in self.array.tolist():
            row = dict(zip(self.columns, values))
            rows.append([formats[c](row) if c in formats else repr(row[c]) for c in order])
        return list(order), rows
