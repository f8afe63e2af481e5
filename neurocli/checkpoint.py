"""Checkpoints: one JSON header line, then `eqx.tree_serialise_leaves` of a pytree. No pickle.

The header describes what the leaves belong to (network shape, step, ...). Loading checks the
header against what the caller expects before reading any leaf, so a checkpoint of another
network shape is refused with a message instead of a crash.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import equinox as eqx

from neurocli.run_dir import atomic_write_bytes, to_json


class CheckpointMismatch(ValueError):
    """The checkpoint was written for a different structure than the one asked for."""


def save(path: Path, header: dict[str, Any], tree: Any) -> None:
    buf = io.BytesIO()
    buf.write(to_json(header, strict=False).replace("\n", " ").encode() + b"\n")
    eqx.tree_serialise_leaves(buf, tree)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return json.loads(f.readline())


def load(path: Path, skeleton: Any, expect: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Read (header, tree). `expect`: header keys that must match (e.g. the network's shape)."""
    path = Path(path)
    with open(path, "rb") as f:
        header = json.loads(f.readline())
        for key, want in (expect or {}).items():
            if header.get(key) != want:
                raise CheckpointMismatch(
                    f"{path}: checkpoint has {key} = {header.get(key)!r}, this run needs {want!r}"
                )
        try:
            tree = eqx.tree_deserialise_leaves(f, skeleton)
        except (ValueError, RuntimeError, OSError) as exc:
            raise CheckpointMismatch(f"{path}: leaves do not fit this run's structure ({exc})") from None
    return header, tree
