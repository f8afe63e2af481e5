"""Atomic file writes (temporary file in the same directory, fsync, then `os.replace`), so that a
crash never leaves a half file. Standard library only: the figure worker uses it without JAX.

Inside a run directory nothing follows a symbolic link: files are opened relative to a file
descriptor of the directory with `O_NOFOLLOW` (`write_at`, `append_at`, `truncate_at`,
`read_at`), subdirectories likewise, so a link planted in the run directory (or swapped for one
of its files) is refused instead of written through. A failed write raises `FileWriteError`,
which names the file and the reason in one line; its temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import stat
import tempfile
from pathlib import Path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC


class FileWriteError(OSError):
    """A file neurocli could not write (a full disk, a read-only filesystem, a symbolic link where
    a file or directory belongs). `str()` is one line naming the file."""

    def __init__(self, path: str | os.PathLike, exc: OSError | str):
        why = exc if isinstance(exc, str) else reason(exc)
        super().__init__(exc.errno if isinstance(exc, OSError) else errno.EPERM, why)
        self.path = str(path)
        self.reason = why

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


class LinkRefused(OSError):
    """A symbolic link where neurocli opens a directory of a run (strerror says which)."""


NO_LINKS = "neurocli does not write through links in a run directory"


def reason(exc: OSError) -> str:
    """Why an OSError happened, in words (a refused link says which component it was)."""
    if isinstance(exc, LinkRefused):
        return exc.strerror
    if exc.errno == errno.ELOOP:
        return f"it is a symbolic link ({NO_LINKS})"
    return exc.strerror or str(exc)


@functools.cache
def _file_mode() -> int:
    """0666 less the umask, read on the first write (os.umask has no getter: it is set and put back)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `path` atomically (outside run directories: the program cache)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileWriteError(path, exc) from None
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600 files; outputs are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise FileWriteError(path, exc) from None
        raise


# -- relative to a directory's file descriptor, never through a link ------------------------------


def open_dir(path: str | os.PathLike, dir_fd: int | None = None) -> int:
    """A file descriptor of the directory `path`; LinkRefused when it is a symbolic link."""
    try:
        return os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                link = stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode)
            except OSError:
                link = False
            if link:
                raise LinkRefused(errno.ELOOP, f"{os.fspath(path)} is a symbolic link ({NO_LINKS})") from None
        raise


@contextlib.contextmanager
def _in_parent(dir_fd: int, relative: str, create: bool):
    """(descriptor of the directory holding `relative`, its last component), each intermediate
    directory opened with O_NOFOLLOW (and made when `create`); closed again on leaving."""
    *parts, name = Path(relative).parts
    fd = dir_fd
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            sub = open_dir(part, dir_fd=fd)
            if fd != dir_fd:
                os.close(fd)
            fd = sub
        yield fd, name
    finally:
        if fd != dir_fd:
            os.close(fd)


def _open_file(dir_fd: int, relative: str, flags: int) -> int:
    """Open a file below `dir_fd` without following a link anywhere below it (O_NONBLOCK: a FIFO
    planted there does not hang the open)."""
    with _in_parent(dir_fd, relative, create=bool(flags & os.O_CREAT)) as (parent, name):
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0), _file_mode(),
                       dir_fd=parent)


def write_at(dir_fd: int, relative: str, data: bytes, shown: str | os.PathLike) -> None:
    """Write `relative` (below the directory `dir_fd`) atomically; `shown` names it in errors."""
    try:
        with _in_parent(dir_fd, relative, create=True) as (parent, name):
            tmp = f".{name}.{secrets.token_hex(4)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, _file_mode(), dir_fd=parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)  # replaces a link, never follows it
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=parent)
                except OSError:
                    pass
                raise
    except OSError as exc:
        raise FileWriteError(shown, exc) from None


@contextlib.contextmanager
def _regular(dir_fd: int, relative: str, flags: int, shown):
    """An open regular file below `dir_fd`, never through a link (a FIFO or a device is refused);
    any OSError while it is used becomes a FileWriteError naming `shown`."""
    try:
        fd = _open_file(dir_fd, relative, flags)
    except OSError as exc:
        raise FileWriteError(shown, exc) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileWriteError(shown, "it is not a regular file")
        yield fd
    except FileWriteError:
        raise
    except OSError as exc:
        raise FileWriteError(shown, exc) from None
    finally:
        os.close(fd)


def append_at(dir_fd: int, relative: str, data: bytes, shown) -> int:
    """Append `data` and fsync; returns the file's size after."""
    with _regular(dir_fd, relative, os.O_WRONLY | os.O_APPEND | os.O_CREAT, shown) as fd:
        os.write(fd, data)  # regular files: written whole (or an OSError)
        os.fsync(fd)
        return os.fstat(fd).st_size


def truncate_at(dir_fd: int, relative: str, size: int, shown) -> None:
    with _regular(dir_fd, relative, os.O_RDWR, shown) as fd:
        os.ftruncate(fd, size)
        os.fsync(fd)


def overwrite_at(dir_fd: int, relative: str, data: bytes, shown) -> None:
    """Rewrite an existing small file in place: the last resort of a full disk, where the atomic
    write's temporary file finds no room but the file's own block still has it (run.json's final
    status). Not atomic: used only after `write_at` failed for want of space."""
    with _regular(dir_fd, relative, os.O_WRONLY, shown) as fd:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)


def read_at(dir_fd: int, relative: str) -> bytes | None:
    """The bytes of a regular file below `dir_fd`; None when it does not exist. OSError (ELOOP)
    when it, or a directory on the way, is a link."""
    try:
        fd = _open_file(dir_fd, relative, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(errno.EINVAL, f"{relative} is not a regular file")
        return f.read()
