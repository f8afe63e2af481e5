"""The checkpoint format: one JSON header line, then `eqx.tree_serialise_leaves` of a pytree. No pickle.

The header says what the leaves belong to (the run's identity: network shape, members, phases...)
and where training stood. Loading checks the header against what the caller expects before it
reads a leaf, so a checkpoint of another configuration is refused with a message, and a file
that is cut short or not a checkpoint at all is named as such (`CheckpointCorrupt`).

These functions work on bytes; `neurocli.run_dir` reads and writes the files.
"""

from __future__ import annotations

import io
import json
from typing import Any

import equinox as eqx

from neurocli.run_dir import to_json


class CheckpointError(ValueError):
    """A checkpoint that cannot be used by this run (the message names the file)."""


class CheckpointMismatch(CheckpointError):
    """The checkpoint was written for a different structure than the one asked for."""


class CheckpointCorrupt(CheckpointError):
    """The file is not a whole neurocli checkpoint (truncated, overwritten, not a checkpoint)."""


def encode(header: dict[str, Any], tree: Any) -> bytes:
    leaves = io.BytesIO()
    eqx.tree_serialise_leaves(leaves, tree)
    body = leaves.getvalue()
    line = to_json({**header, "leaf_bytes": len(body)}, strict=False).replace("\n", " ")
    return line.encode() + b"\n" + body


def decode_header(data: bytes, name: str) -> dict[str, Any]:
    line, newline, _ = data.partition(b"\n")
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        header = None
    if not newline or not isinstance(header, dict):
        raise CheckpointCorrupt(f"{name}: not a neurocli checkpoint (no JSON header line)")
    return header


def decode(data: bytes, name: str, skeleton: Any, expect: dict[str, Any] | None = None) -> tuple[dict, Any]:
    """(header, tree) from a checkpoint's bytes. `expect`: header keys that must match."""
    header = decode_header(data, name)
    for key, want in (expect or {}).items():
        if header.get(key) != want:
            raise CheckpointMismatch(f"{name}: checkpoint has {key} = {header.get(key)!r}, this run needs {want!r}")
    body = data.partition(b"\n")[2]
    size = header.get("leaf_bytes")
    if size is not None and len(body) != size:
        raise CheckpointCorrupt(f"{name}: checkpoint is truncated or corrupt ({len(body)} of {size} bytes of leaves)")
    try:
        tree = eqx.tree_deserialise_leaves(io.BytesIO(body), skeleton)
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise CheckpointCorrupt(f"{name}: checkpoint is truncated or corrupt ({exc})") from None
    return header, tree
