"""members.csv: one row per sweep member, streamed chunk by chunk, resumable (simulate), or
written at once when every member finishes together (`write_members`: train-pinn).

After each chunk its rows are appended to members.csv (fsync), then `sweep_progress.json` is
rewritten atomically with the number of finished chunks and the byte size of members.csv at that
point. A crash between the two leaves rows past that size; a resume cuts them off and runs their
chunk again, so members.csv never holds a half row or a row twice.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from neurocli.atomic import reason
from neurocli.run_dir import RunDirectory

FILE = "members.csv"
PROGRESS = "sweep_progress.json"


def _cell(value: float) -> str:
    return repr(value) if np.isfinite(value) else "nan"  # repr: the shortest text that reads back exactly


def write_members(run: RunDirectory, header: list[str], rows, integers=()) -> None:
    """members.csv in one atomic write: `header`, then one row of numbers per member (cells as
    MembersFile writes them: the shortest text that reads back exactly, `nan` when not finite;
    the columns named in `integers` as integers)."""
    whole = [name in set(integers) for name in header]
    lines = [",".join(header)] + [",".join(str(int(v)) if w else _cell(v) for v, w in zip(row, whole))
                                  for row in np.asarray(rows, dtype=float).tolist()]
    run.write_text(FILE, "\n".join(lines) + "\n")


class MembersFile:
    """members.csv of one run: `header` (swept parameters, then metrics), rows appended per chunk."""

    def __init__(self, run: RunDirectory, header: list[str], members: int, chunk: int, integers=()):
        self.run = run
        self.header = list(header)
        self.integer = [name in set(integers) for name in header]
        self.members = members
        self.chunk = chunk
        self.chunks_done = 0

    @classmethod
    def start(cls, run: RunDirectory, header: list[str], members: int, chunk: int, integers=()) -> MembersFile:
        """A new members.csv (header only); `integers`: columns written as integers."""
        store = cls(run, header, members, chunk, integers)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(header)
        run.write_text(FILE, buf.getvalue())
        store._record(len(buf.getvalue().encode()))
        return store

    @staticmethod
    def progress(run: RunDirectory, header: list[str], members: int) -> dict | None:
        """The recorded progress of an interrupted sweep (None: nothing written yet). Raises
        ValueError, saying why, when the record is corrupt or belongs to another sweep."""
        import json

        for name in (PROGRESS, FILE):  # a link planted for either is refused here, before any write
            try:
                run.check_file(name)
            except OSError as exc:
                raise ValueError(f"{name} cannot be read safely ({reason(exc)})") from None
        try:
            text = run.read_text(PROGRESS)
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{PROGRESS} is unreadable ({exc})") from None
        if text is None:
            return None
        try:
            progress = json.loads(text)
            record = {k: int(progress[k]) for k in ("members", "chunk", "chunks_done", "csv_bytes")}
            record["header"] = list(progress["header"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{PROGRESS} is corrupt ({type(exc).__name__}: {exc})") from None
        if record["header"] != list(header) or record["members"] != members:
            raise ValueError(f"{FILE} was written by a different sweep (other parameters, metrics or members)")
        if not (record["chunk"] > 0 and record["chunks_done"] >= 0 and record["csv_bytes"] > 0):
            raise ValueError(f"{PROGRESS} is corrupt (chunk {record['chunk']}, chunks_done {record['chunks_done']})")
        return record

    @classmethod
    def reopen(cls, run: RunDirectory, header: list[str], members: int, integers=()) -> MembersFile | None:
        """The store of an interrupted sweep, members.csv cut back to its last finished chunk;
        None when there is none to continue (nothing written yet). The record was checked by
        `progress` before the run was touched (commands/simulate.py `restore`)."""
        record = cls.progress(run, header, members)
        if record is None:
            return None
        store = cls(run, header, members, record["chunk"], integers)
        store.chunks_done = record["chunks_done"]
        if store.chunks_done * store.chunk < members:  # a finished sweep's file is whole (and may be rewritten:
            run.truncate(FILE, record["csv_bytes"])   # simulate's solution ids), so it is left as it is
        return store

    def append(self, index: int, rows: np.ndarray | list) -> None:
        """The rows of chunk `index` (which must be the next one)."""
        if index != self.chunks_done:
            raise RuntimeError(f"members.csv: chunk {index} written after {self.chunks_done} chunks")
        text = "".join(
            ",".join(str(int(v)) if integer else _cell(v) for v, integer in zip(row, self.integer)) + "\n"
            for row in np.asarray(rows, dtype=float).tolist()
        )
        size = self.run.append_text(FILE, text)
        self.chunks_done += 1
        self._record(size)

    def rewritten(self, text: str) -> None:
        """members.csv replaced, whole, by `text` (a finished sweep's file with columns filled in at the
        end): written atomically, then its size recorded."""
        self.run.write_text(FILE, text)
        self._record(len(text.encode()))

    def _record(self, size: int) -> None:
        self.run.write_json(PROGRESS, {
            "members": self.members,
            "chunk": self.chunk,
            "chunks_done": self.chunks_done,
            "csv_bytes": size,
            "header": self.header,
        })

    def read(self) -> dict[str, np.ndarray]:
        """Every column of members.csv as a float array (integers and flags as floats)."""
        text = self.run.read_text(FILE) or ""
        data = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2, dtype=float)
        data = data.reshape(-1, len(self.header))
        return {name: data[:, j] for j, name in enumerate(self.header)}
