"""The run directory: the one module that writes a run's files (the layout the README states).

Every file is written atomically (temporary file in the same directory, fsync, then
`os.replace`), relative to the run directory's descriptor and never through a symbolic link
(neurocli.atomic). The figure worker writes figures the same way from its own process.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import io
import json
import math
import os
import platform
import re
import stat
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from neurocli.atomic import FileWriteError, append_at, open_dir, overwrite_at, read_at, reason, truncate_at, write_at
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


class RunDirectoryChanged(FileWriteError):
    """The run directory's path no longer leads to the directory this run made (it was moved,
    or replaced by a link): nothing more is written through that path."""


class RunDirectory:
    """`<root>/<command>/<YYYYMMDD-HHMMSS>_<name>/` with run.json kept up to date.

    Every file is written relative to a descriptor of the directory the run made (or reopened),
    with O_NOFOLLOW at each component (neurocli.atomic), and before each write the path is
    checked to still be that directory (its device and inode): a run directory swapped for a
    link, or a link planted for one of its files, stops the run instead of being written through."""

    detached = False  # True for DetachedRun (processes other than 0 write nothing)
    tracker = None  # the run's trackers (runtime.tracking), set by the runner; the engine logs to them
    guard = None  # the run's signal guard, set by the runner; the engine defers signals through it

    def __init__(self, path: Path, info: dict, fd: int | None = None):
        self.path = Path(path)
        self.info = info
        self._fd = fd
        self._identity = None if fd is None else _identity(os.fstat(fd))

    # -- creation and reopening ------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, command: str, name: str, argv: Sequence[str], seed: int | None) -> RunDirectory:
        """Make `<root>/<command>/<stamp>_<name>/`. The name must be a plain name and the directory
        must resolve inside the root (a symlinked `<root>/<command>` pointing elsewhere is refused);
        a filesystem refusal is a UsageError naming the path (exit 2), not a traceback. When its
        run.json cannot be written (a full disk), the new directory is removed again and
        FileWriteError names the file (exit 1)."""
        if not NAME_PATTERN.match(name):
            raise UsageError("--name", f"{name[:60]!r} is not a plain name; expected {NAME_RULE}")
        root = check_output_root(root)
        parent = root / command
        where = f"--output-root {root}"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if not _inside(parent, root):
                raise UsageError(where, f"{parent} resolves to {parent.resolve()}, outside the output root")
            parent = parent.resolve()
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for i in range(1, 1000):
                path = parent / (f"{stamp}_{name}" if i == 1 else f"{stamp}_{name}-{i}")
                try:
                    path.mkdir()  # never follows a link planted at the path: that name is taken
                    fd = open_dir(path)
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
        run = cls(path, info, fd)
        try:
            run.write_run_json()
        except OSError:
            run._remove_empty()
            raise
        return run

    @classmethod
    def open(cls, path: Path) -> RunDirectory:
        """Reopen an existing run (for --resume); ValueError names what is wrong. Writes nothing.
        A path given through a link is followed here, once: the run is the directory it leads to."""
        path = Path(os.path.realpath(path))
        try:
            fd = open_dir(path)
        except OSError as exc:
            raise ValueError(f"{path}: not a run directory ({exc.strerror or exc})") from None
        run = cls(path, {}, fd)
        try:
            data = read_at(fd, "run.json")
            info = None if data is None else json.loads(data.decode())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            run.close()
            raise ValueError(f"{path / 'run.json'}: unreadable ({exc})") from None
        if not isinstance(info, dict):
            run.close()
            raise ValueError(f"{path}: not a run directory (no run.json)" if data is None
                             else f"{path / 'run.json'}: not a run record")
        run.info = info
        return run

    def close(self) -> None:
        """Release the directory's descriptor (the run is over); a later write opens it again."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass

    def _remove_empty(self) -> None:
        """Remove the run's directory again: nothing was written into it whole (run.json failed)."""
        self.close()
        try:
            os.rmdir(self.path)
        except OSError:
            pass

    def _dir(self, check: bool = True) -> int:
        """The run directory's descriptor, after checking that its path still leads there."""
        if self._fd is None:
            try:
                fd = open_dir(self.path)
            except OSError as exc:
                raise RunDirectoryChanged(self.path, f"cannot open the run directory ({reason(exc)})") from None
            if self._identity is not None and _identity(os.fstat(fd)) != self._identity:
                os.close(fd)
                raise RunDirectoryChanged(self.path, "it is no longer the run directory this run made; stopping")
            self._fd, self._identity = fd, _identity(os.fstat(fd))
        elif check:
            try:
                now = os.lstat(self.path)
            except OSError as exc:
                raise RunDirectoryChanged(self.path, f"the run directory is gone ({exc.strerror}); stopping") from None
            if stat.S_ISLNK(now.st_mode):
                raise RunDirectoryChanged(self.path, f"the run directory was replaced by a symbolic link to "
                                                     f"{os.readlink(self.path)}; stopping")
            if _identity(now) != self._identity:
                raise RunDirectoryChanged(self.path, "it is no longer the run directory this run made "
                                                     "(moved or replaced); stopping")
        return self._fd

    def identity(self) -> tuple[int, int]:
        """(device, inode) of the run directory this run made (after checking its path leads there)."""
        self._dir()
        return self._identity

    def check_writable(self) -> None:
        """FileWriteError unless a file can be made here now (a read-only mount, a full disk)."""
        fd = self._dir()
        probe = f".write-check.{os.getpid()}.tmp"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=fd))
            os.unlink(probe, dir_fd=fd)
        except OSError as exc:
            raise FileWriteError(self.path, exc) from None

    # -- run.json ---------------------------------------------------------------------------
    def record_backend(self) -> None:
        import jax

        self.info["jax_backend"] = jax.default_backend()
        self.info["devices"] = [str(d) for d in jax.devices()]
        self.write_run_json()

    def write_run_json(self, check: bool = True) -> None:
        self._write("run.json", to_json(self.info).encode(), check)

    def mark(self, status: str, error: str | None = None, **extra: Any) -> None:
        self.info.update(status=status, error=error, **extra)
        if status != "running":
            self.info["finished"] = _now()
        self.write_run_json()

    def mark_ended(self, status: str, error: str) -> str | None:
        """Record a failed or interrupted end where it can still be recorded: into the directory
        this run made even when its path was moved or replaced. Returns why it could not be
        recorded (None when it was)."""
        self.info.update(status=status, error=error, finished=_now())
        try:
            self.write_run_json(check=False)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                return str(exc)
            try:  # a full disk: run.json's own block may still hold the record
                overwrite_at(self._dir(check=False), "run.json", to_json(self.info).encode(), self.file("run.json"))
            except OSError:
                return str(exc)
        return None

    # -- files ----------------------------------------------------------------------------------
    def file(self, relative: str) -> Path:
        return self.path / relative

    def _write(self, relative: str, data: bytes, check: bool = True) -> Path:
        write_at(self._dir(check), relative, data, self.file(relative))
        return self.file(relative)

    def read_bytes(self, relative: str) -> bytes:
        data = read_at(self._dir(), relative)
        if data is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self.file(relative)))
        return data

    def write_text(self, relative: str, text: str) -> Path:
        return self._write(relative, text.encode())

    def write_bytes(self, relative: str, data: bytes) -> Path:
        return self._write(relative, data)

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
        return append_at(self._dir(), relative, text.encode("utf-8"), self.file(relative))

    def truncate(self, relative: str, size: int) -> None:
        """Cut a streamed file back to `size` bytes (drops a piece written after the last record)."""
        truncate_at(self._dir(), relative, size, self.file(relative))

    def check_file(self, relative: str) -> None:
        """OSError unless the file `relative` (in the run directory itself) is absent or a regular
        file: a link or a FIFO planted for it is refused before anything reads or writes it."""
        try:
            st = os.stat(relative, dir_fd=self._dir(), follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, "it is a symbolic link", str(self.file(relative)))
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file", str(self.file(relative)))

    def read_text(self, relative: str) -> str | None:
        """A file's text, None when it does not exist; OSError when it is a link or unreadable."""
        data = read_at(self._dir(), relative)
        return None if data is None else data.decode("utf-8")

    def write_npz(self, relative: str, **arrays: np.ndarray) -> Path:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        return self.write_bytes(relative, buf.getvalue())

    def save_figure(self, name: str, fig) -> Path:
        from neurocli.plotting.style import pdf_bytes

        return self.write_bytes(f"figures/{name}.pdf", pdf_bytes(fig))


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def read_file(path: Path) -> bytes:
    """A file's bytes (an input: a CSV recording, a checkpoint to warm-start from)."""
    return Path(path).read_bytes()


class DetachedRun(RunDirectory):
    """What processes other than 0 of a multi-process run get: the same interface, no files
    (the run contract: process 0 alone writes the run directory)."""

    detached = True

    def __init__(self, info: dict | None = None):
        super().__init__(Path(os.devnull), dict(info or {}))

    def _write(self, relative: str, data: bytes, check: bool = True) -> Path:
        return self.file(relative)

    def mark_ended(self, status: str, error: str) -> str | None:
        self.info.update(status=status, error=error)
        return None

    def check_writable(self) -> None:
        pass

    def check_file(self, relative: str) -> None:
        pass

    def append_text(self, relative: str, text: str) -> int:
        return 0

    def truncate(self, relative: str, size: int) -> None:
        pass

    def read_text(self, relative: str) -> str | None:
        return None

    def save_figure(self, name: str, fig) -> Path:
        return self.file(f"figures/{name}.pdf")
