"""Atomic file writes (temporary file in the same directory, fsync, then `os.replace`), so that a
crash never leaves a half file. Standard library only: the figure worker uses it without JAX."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


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
