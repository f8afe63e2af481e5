"""Errors of the PINN fields against the reference, per member."""

from __future__ import annotations

import numpy as np


def member_errors(u: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
    """u, ref: (members, nt, nx). rel_l2 over the whole grid, max |u − ref|, rel_l2 at the last time."""
    diff = u - ref
    return {
        "rel_l2": np.sqrt((diff**2).sum(axis=(1, 2)) / (ref**2).sum(axis=(1, 2))),
        "max_abs_err": np.abs(diff).max(axis=(1, 2)),
        "rel_l2_T": np.sqrt((diff[:, -1] ** 2).sum(axis=1) / (ref[:, -1] ** 2).sum(axis=1)),
    }
