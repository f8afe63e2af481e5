"""Sparse regression of a learned current on a term library (NumPy; no JAX).

- Columns are scaled to unit RMS and the target too, so a threshold is a fraction of the current.
- STLSQ (sequentially thresholded least squares, SINDy's) keeps or drops whole term *groups*: a
  conductance's two columns (G·V, G) go together. A group is dropped when its contribution to the
  fit, RMS(A_g w_g), is below the threshold; least squares (a small ridge) on the rest; repeat.
- A path of thresholds (geometric) gives sparse supports. With them, every conductance form alone
  is a candidate too: over the voltages a recording visits many gate products are nearly
  collinear, and a mixture of several forms can fit a little better than the true one alone.
- Each candidate support is scored by K-fold cross-validation over the samples (least squares on
  K−1 folds, RMS error on the held-out one, in the current's units). The selected one is the
  *simplest* (fewest columns; then the lowest CV error) within a tolerance of the best CV error:
  max(its standard error over the folds, `complexity_tolerance` × RMS of the current), among the
  candidates of at most `max_terms` term groups.
- The chosen support is refitted on all samples by plain least squares; the covariance of its coefficients is the least
  squares one, σ² (AᵀA)⁻¹ with σ² = RSS / (n − s).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Candidate:
    groups: tuple[int, ...]  # term-group indices in the support
    columns: tuple[int, ...]
    cv_rmse: float  # µA/cm²
    cv_se: float  # standard error of the fold mean
    origin: str  # "stlsq" or "single term"
    threshold: float | None  # the largest path threshold that gave it (stlsq)


@dataclasses.dataclass(frozen=True)
class Selection:
    chosen: Candidate
    coefficients: np.ndarray  # (columns,) raw units, zero off the support
    covariance: np.ndarray  # (s, s) of the support's coefficients
    fit_rmse: float  # in-sample RMS error of the chosen support, µA/cm²
    candidates: list[Candidate]  # sorted by CV error
    path: list[dict]  # per threshold: threshold, groups, columns, cv_rmse
    tolerance: float  # CV errors within best + tolerance count as equal
    target_rms: float


def _solve(A: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Least squares with a ridge of `ridge` per sample (on unit-RMS columns)."""
    if ridge > 0:
        k = A.shape[1]
        A = np.vstack([A, np.sqrt(ridge * len(y)) * np.eye(k)])
        y = np.concatenate([y, np.zeros(k)])
    return np.linalg.lstsq(A, y, rcond=None)[0]


class Normal:
    """The ridge normal equations of (A, y): each support's solve is a small dense solve of its
    block of AᵀA (a path and its cross-validation solve hundreds of supports)."""

    def __init__(self, A: np.ndarray, y: np.ndarray, ridge: float):
        self.gram, self.rhs, self.ridge, self.rows = A.T @ A, A.T @ y, ridge, len(y)

    def without(self, A: np.ndarray, y: np.ndarray) -> Normal:
        """The equations with the rows (A, y) taken out (a training fold)."""
        out = object.__new__(Normal)
        out.gram, out.rhs = self.gram - A.T @ A, self.rhs - A.T @ y
        out.ridge, out.rows = self.ridge, self.rows - len(y)
        return out

    def solve(self, cols: list[int]) -> np.ndarray:
        G = self.gram[np.ix_(cols, cols)] + self.ridge * self.rows * np.eye(len(cols))
        try:
            return np.linalg.solve(G, self.rhs[cols])
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(G, self.rhs[cols], rcond=None)[0]


def stlsq(A: np.ndarray, normal: Normal, groups: list[list[int]], threshold: float,
          max_iterations: int) -> tuple[int, ...]:
    """The groups STLSQ keeps at `threshold` (A scaled: unit-RMS columns; the target too)."""
    active = list(range(len(groups)))
    for _ in range(max_iterations):
        if not active:
            break
        cols = [c for g in active for c in groups[g]]
        w = dict(zip(cols, normal.solve(cols)))
        keep = [g for g in active
                if np.sqrt(np.mean((A[:, groups[g]] @ np.array([w[c] for c in groups[g]])) ** 2)) >= threshold]
        if keep == active:
            break
        active = keep
    return tuple(active)


def folds_of(n: int, k: int, seed: int) -> list[np.ndarray]:
    """K folds of a random permutation of the n samples."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(f) for f in np.array_split(order, k)]


def cv_error(A: np.ndarray, y: np.ndarray, cols: list[int], folds: list[tuple[np.ndarray, Normal]]) -> tuple[float, float]:
    """(mean, standard error) over the folds of the held-out RMS error of (ridge) least squares on
    `cols`; `folds`: (held-out rows, the training rows' normal equations)."""
    errors = np.array([np.sqrt(np.mean((A[np.ix_(test, cols)] @ normal.solve(cols) - y[test]) ** 2))
                       for test, normal in folds])
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(len(errors)) if len(errors) > 1 else 0.0)


def select(A: np.ndarray, y: np.ndarray, groups: list[list[int]], *, folds: int, thresholds: int, ridge: float,
           complexity_tolerance: float, max_iterations: int, seed: int, max_terms: int | None = None) -> Selection:
    """Sparse candidates (the STLSQ path and each group alone), scored by cross-validation; the
    simplest within tolerance of the best (module doc)."""
    A, y = np.asarray(A, float), np.asarray(y, float)
    col_rms = np.sqrt(np.mean(A**2, axis=0))
    usable = [g for g, cols in enumerate(groups) if np.all(col_rms[cols] > 0) and np.isfinite(A[:, cols]).all()]
    col_rms = np.where(col_rms > 0, col_rms, 1.0)
    y_rms = float(np.sqrt(np.mean(y**2))) or 1.0
    An, yn = A / col_rms, y / y_rms
    full = Normal(An, yn, ridge)
    split = [(test, full.without(An[test], yn[test])) for test in folds_of(len(y), folds, seed)]
    sub = [groups[g] for g in usable]

    def score(support: tuple[int, ...]) -> tuple[float, float]:
        cols = [c for g in support for c in groups[g]]
        mean, se = cv_error(An, yn, cols, split)
        return mean * y_rms, se * y_rms

    found: dict[tuple[int, ...], Candidate] = {}
    path = []
    for thr in np.geomspace(1.0, 1e-4, thresholds) if thresholds > 1 else [1e-2]:
        support = tuple(usable[g] for g in stlsq(An, full, sub, float(thr), max_iterations))
        if not support:
            path.append({"threshold": float(thr), "groups": 0, "columns": 0, "cv_rmse": None})
            continue
        if support not in found:
            cv, se = score(support)
            found[support] = Candidate(support, tuple(c for g in support for c in groups[g]), cv, se, "stlsq", float(thr))
        path.append({"threshold": float(thr), "groups": len(support), "columns": len(found[support].columns),
                     "cv_rmse": found[support].cv_rmse})
    for g in usable:
        if (g,) not in found:
            cv, se = score((g,))
            found[(g,)] = Candidate((g,), tuple(groups[g]), cv, se, "single term", None)
    ranked = sorted(found.values(), key=lambda c: c.cv_rmse)
    allowed = [c for c in ranked if max_terms is None or len(c.groups) <= max_terms]  # singles always are
    best = allowed[0]
    tolerance = max(best.cv_se, complexity_tolerance * y_rms)
    eligible = [c for c in allowed if c.cv_rmse <= best.cv_rmse + tolerance]
    chosen = min(eligible, key=lambda c: (len(c.columns), c.cv_rmse))

    cols = list(chosen.columns)
    w = _solve(An[:, cols], yn, 0.0)  # the chosen support alone: plain least squares
    resid = An[:, cols] @ w - yn
    dof = max(len(y) - len(cols), 1)
    sigma2 = float(np.sum(resid**2) / dof)
    cov_n = sigma2 * np.linalg.pinv(An[:, cols].T @ An[:, cols])
    scale = y_rms / col_rms[cols]
    coefficients = np.zeros(A.shape[1])
    coefficients[cols] = w * scale
    return Selection(chosen, coefficients, cov_n * np.outer(scale, scale), float(np.sqrt(np.mean(resid**2)) * y_rms),
                     ranked, path, float(tolerance), y_rms)
