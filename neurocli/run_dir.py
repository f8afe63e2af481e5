"""The run directory: the only module that writes to the filesystem (see shared RUNS.md).

Every file is written atomically (temporary file in the same directory, then `os.replace`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

VERSIONED = ("jax", "jaxlib", "diffrax", "equinox", "optax", "numpy")


@functools.cache
def _file_mode() -> int:
    """0666 less the umask, read on the first write (os.umask has no getter: it is set and put back)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600 files; outputs are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_none(obj: Any) -> Any:
    """obj with every inf and NaN replaced by None (JSON null), arrays and numpy scalars included."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite_or_none(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj: Any, strict: bool = True) -> str:
    """Indented JSON. Strict (the run directory's files): standard JSON, a number that is not finite
    becomes null. Not strict (checkpoint headers, read back by Python): inf and NaN kept."""
    if strict:
        return json.dumps(_finite_or_none(obj), indent=2, default=_json_default, allow_nan=False) + "\n"
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n"


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


class RunDirectory:
    """`<root>/<command>/<YYYYMMDD-HHMMSS>_<name>/` with run.json kept up to date."""

    def __init__(self, path: Path, info: dict):
        self.path = path
        self.info = info

    # -- creation and reopening ------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, command: str, name: str, argv: Sequence[str], seed: int | None) -> RunDirectory:
        parent = Path(root) / command
        parent.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for i in range(1, 1000):
            path = parent / (f"{stamp}_{name}" if i == 1 else f"{stamp}_{name}-{i}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise RuntimeError(f"could not create a run directory under {parent}")
        info = {
            "command": command,
            "argv": list(argv),
            "status": "running",
            "started": _now(),
            "finished": None,
            "versions": _versions(),
            "seed": seed,
            "git_commit": _git_commit(),
            "error": None,
        }
        run = cls(path, info)
        run.write_run_json()
        return run

    @classmethod
    def open(cls, path: Path) -> RunDirectory:
        """Reopen an existing run (for --resume)."""
        info = json.loads((Path(path) / "run.json").read_text())
        return cls(Path(path), info)

    # -- run.json ---------------------------------------------------------------------------
    def record_backend(self) -> None:
        import jax

        self.info["jax_backend"] = jax.default_backend()
        self.info["devices"] = [str(d) for d in jax.devices()]
        self.write_run_json()

    def write_run_json(self) -> None:
        self.write_json("run.json", self.info)

    def mark(self, status: str, error: str | None = None, **extra: Any) -> None:
        self.info.update(status=status, error=error, **extra)
        if status != "running":
            self.info["finished"] = _now()
        self.write_run_json()

    # -- files ----------------------------------------------------------------------------------
    def file(self, relative: str) -> Path:
        return self.path / relative

    def write_text(self, relative: str, text: str) -> Path:
        path = self.file(relative)
        atomic_write_bytes(path, text.encode())
        return path

    def write_bytes(self, relative: str, data: bytes) -> Path:
        path = self.file(relative)
        atomic_write_bytes(path, data)
        return path

    def write_json(self, relative: str, obj: Any) -> Path:
        return self.write_text(relative, to_json(obj))

    def write_csv(self, relative: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return self.write_text(relative, buf.getvalue())

    def write_npz(self, relative: str, **arrays: np.ndarray) -> Path:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        return self.write_bytes(relative, buf.getvalue())

    def save_figure(self, name: str, fig) -> Path:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        # a figure laid out by its layout engine (constrained) already fits its canvas; a tight
        # bounding box would draw it twice (~40 % of the save)
        fig.savefig(buf, format="pdf", bbox_inches=None if fig.get_layout_engine() is not None else "tight")
        plt.close(fig)
        return self.write_bytes(f"figures/{name}.pdf", buf.getvalue())


def warn(message: str) -> None:
    print(message, file=sys.stderr)
