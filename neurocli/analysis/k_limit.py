"""How fast the regularised solutions u_k approach their k → ∞ limit: for each group of sweep
members that differ only in k, the relative L2 distance of every u_k to the one of the largest k,

    e(k) = ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖      (discrete L2 over every saved (t, x)),

and a power law e ≈ C k^(−p) fitted by least squares in log–log over k ≤ k_max / FIT_GAP (closer to
k_max the reference's own distance to the limit, e(k_max) ≠ 0 really, bends the curve down).
"""

from __future__ import annotations

import numpy as np

FIT_GAP = 10.0
"""The fit uses k ≤ k_max / FIT_GAP."""


def groups(names: list[str], table: np.ndarray, swept: str = "model.k") -> list[np.ndarray]:
    """Member indices of each group sharing every swept value but `swept`, in order of appearance."""
    j = names.index(swept)
    others = np.delete(np.asarray(table, dtype=float), j, axis=1)
    keys: dict[tuple, list[int]] = {}
    for i, row in enumerate(others):
        keys.setdefault(tuple(row.tolist()), []).append(i)
    return [np.asarray(v) for v in keys.values()]


def power_law(k: np.ndarray, e: np.ndarray) -> tuple[float, float, int]:
    """(p, C, points) of e ≈ C k^(−p) over the k ≤ max(k) / FIT_GAP with e > 0; NaN with < 2 points."""
    k, e = np.asarray(k, dtype=float), np.asarray(e, dtype=float)
    use = (k <= k.max() / FIT_GAP) & (e > 0) & np.isfinite(e)
    if use.sum() < 2:
        return float("nan"), float("nan"), int(use.sum())
    slope, intercept = np.polyfit(np.log(k[use]), np.log(e[use]), 1)
    return float(-slope), float(np.exp(intercept)), int(use.sum())


def convergence(fields: np.ndarray, names: list[str], table: np.ndarray) -> list[dict]:
    """One entry per group: its other swept values, k, e(k) and the fitted rate."""
    j = names.index("model.k")
    out = []
    for members in groups(names, table):
        ks = table[members, j]
        order = np.argsort(ks)
        members, ks = members[order], ks[order]
        ref = np.asarray(fields[members[-1]], dtype=np.float64).ravel()
        norm = np.linalg.norm(ref)
        e = np.array([np.linalg.norm(np.asarray(fields[m], dtype=np.float64).ravel() - ref) for m in members])
        e = e / norm if norm > 0 else e
        p, c, used = power_law(ks, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            local = -np.diff(np.log(e[:-1])) / np.diff(np.log(ks[:-1]))  # between neighbours, k_max left out
        fixed = {name: float(table[members[0], i]) for i, name in enumerate(names) if i != j}
        out.append({"fixed": fixed, "members": members.tolist(), "k": ks.tolist(), "distance": e.tolist(),
                    "k_max": float(ks[-1]), "rate": p, "prefactor": c, "fit_points": used,
                    "local_rates": local.tolist()})
    return out
