"""The run directory: the only module that writes to the filesystem (see shared RUNS.md).

Every file is written atomically (temporary file in the same directory, then `os.replace`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from neurocli.atomic import atomic_write_bytes
from neurocli.config.base import UsageError

VERSIONED = ("jax", "jaxlib", "diffrax", "equinox", "optax", "numpy")


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


NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
NAME_RULE = "letters, digits, '-', '_' and '.', not starting with '.', at most 100 characters"


def check_name(name: str | None, config_path: Path) -> str:
    """The run's name: `--name`, else the config file's stem; UsageError unless it is a plain name."""
    if name is not None:
        if not NAME_PATTERN.match(name):
            shown = name if len(name) <= 60 else name[:55] + "..."
            raise UsageError("--name", f"{shown!r} is not a plain name; expected {NAME_RULE}")
        return name
    stem = Path(config_path).stem
    if not NAME_PATTERN.match(stem):
        raise UsageError(
            "--name", f"the config file's stem {stem!r} is not a plain run name ({NAME_RULE}); pass --name NAME"
        )
    return stem


def check_output_root(root: str | os.PathLike) -> Path:
    """The output root as an absolute path, or UsageError naming it and what is wrong (it is a file,
    lies under a file, is not writable, is empty). Writes nothing."""
    if str(root) == "":
        raise UsageError("--output-root", "is empty; expected a directory (the default is outputs)")
    path = Path(os.path.abspath(os.fspath(root)))
    try:
        if path.exists() and not path.is_dir():
            raise UsageError(f"--output-root {root}", "is a file, not a directory")
        existing = path
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"--output-root {root}", f"lies under {existing}, which is a file, not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            where = "" if existing == path else f" ({existing} is not)"
            raise UsageError(f"--output-root {root}", f"is not writable{where}")
    except OSError as exc:
        raise UsageError(f"--output-root {root}", f"cannot be used: {exc.strerror or exc}") from None
    return path.resolve()


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


class RunDirectory:
    """`<root>/<command>/<YYYYMMDD-HHMMSS>_<name>/` with run.json kept up to date."""

    detached = False  # True for DetachedRun (processes other than 0 write nothing)

    def __init__(self, path: Path, info: dict):
        self.path = path
        self.info = info

    # -- creation and reopening ------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, command: str, name: str, argv: Sequence[str], seed: int | None) -> RunDirectory:
        """Make `<root>/<command>/<stamp>_<name>/`. The name must be a plain name and the directory
        must resolve inside the root (a symlinked `<root>/<command>` pointing elsewhere is refused);
        a filesystem refusal is a UsageError naming the path (exit 2), not a traceback."""
        if not NAME_PATTERN.match(name):
            raise UsageError("--name", f"{name[:60]!r} is not a plain name; expected {NAME_RULE}")
        root = check_output_root(root)
        parent = root / command
        where = f"--output-root {root}"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if not _inside(parent, root):
                raise UsageError(where, f"{parent} resolves to {parent.resolve()}, outside the output root")
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for i in range(1, 1000):
                path = parent / (f"{stamp}_{name}" if i == 1 else f"{stamp}_{name}-{i}")
                if not _inside(path, root):  # pragma: no cover - the name rule forbids it
                    raise UsageError("--name", f"{name!r} would place the run outside the output root")
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover
                raise UsageError(where, f"could not create a run directory under {parent}")
        except OSError as exc:
            raise UsageError(where, f"cannot create {exc.filename or 'the run directory'}: {exc.strerror or exc}") from None
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
        """Reopen an existing run (for --resume); ValueError names what is wrong. Writes nothing."""
        file = Path(path) / "run.json"
        if not file.is_file():
            raise ValueError(f"{path}: not a run directory (no run.json)")
        try:
            info = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{file}: unreadable ({exc})") from None
        if not isinstance(info, dict):
            raise ValueError(f"{file}: not a run record")
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

    def read_bytes(self, relative: str) -> bytes:
        return self.file(relative).read_bytes()

    def read_text(self, relative: str) -> str:
        return self.file(relative).read_text()

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

    def append_text(self, relative: str, text: str) -> int:
        """Append to a file and fsync it; returns its size after. For files streamed in pieces
        (members.csv): a record of the size written atomically after each append tells a resume
        where the last complete piece ends (see `truncate`)."""
        path = self.file(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()

    def truncate(self, relative: str, size: int) -> None:
        """Cut a streamed file back to `size` bytes (drops a piece written after the last record)."""
        with open(self.file(relative), "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())

    def read_text(self, relative: str) -> str | None:
        path = self.file(relative)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write_npz(self, relative: str, **arrays: np.ndarray) -> Path:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        return self.write_bytes(relative, buf.getvalue())

    def save_figure(self, name: str, fig) -> Path:
        from neurocli.plotting.style import pdf_bytes

        return self.write_bytes(f"figures/{name}.pdf", pdf_bytes(fig))


def read_file(path: Path) -> bytes:
    """A file's bytes (an input: a CSV recording, a checkpoint to warm-start from)."""
    return Path(path).read_bytes()


class DetachedRun(RunDirectory):
    """What processes other than 0 of a multi-process run get: the same interface, no files
    (shared RUNS.md: process 0 alone writes the run directory)."""

    detached = True

    def __init__(self, info: dict | None = None):
        super().__init__(Path(os.devnull), dict(info or {}))

    def write_run_json(self) -> None:
        pass

    def write_bytes(self, relative: str, data: bytes) -> Path:
        return self.file(relative)

    def write_text(self, relative: str, text: str) -> Path:
        return self.file(relative)

    def append_text(self, relative: str, text: str) -> int:
        return 0

    def truncate(self, relative: str, size: int) -> None:
        pass

    def read_text(self, relative: str) -> str | None:
        return None

    def save_figure(self, name: str, fig) -> Path:
        return self.file(f"figures/{name}.pdf")
