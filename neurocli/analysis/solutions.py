"""Distinct solutions among a sweep's fields: u_t − u_xx + u ∈ H(u − a) need not have a unique
solution, and members that differ only in how H is regularised (its value at the threshold) can
land on different ones. Members are grouped by the relative L2 distance of their fields u(t, x).

    d(i, j) = ‖u_i − u_j‖ / max(‖u_i‖, ‖u_j‖)      (discrete L2 over every saved (t, x); 0 if both vanish)

Clustering (leader): members in order; a member joins the first cluster whose leader (its first
member) lies within `threshold`, else it starts a new cluster. Cluster ids follow member order. The
representative of a cluster is its medoid (the member with the smallest largest distance to the
rest; the first on a tie); clusters are compared by their representatives' distance.
"""

from __future__ import annotations

import numpy as np


def relative_distances(fields: np.ndarray) -> np.ndarray:
    """(n, n) symmetric matrix of d(i, j) for fields (n, ...), computed from the differences (not
    from a Gram matrix, which loses near-equal fields to cancellation)."""
    flat = np.asarray(fields, dtype=np.float64).reshape(len(fields), -1)
    norms = np.linalg.norm(flat, axis=1)
    n = len(flat)
    out = np.zeros((n, n))
    for i in range(n):
        diff = np.linalg.norm(flat[i + 1:] - flat[i], axis=1)
        scale = np.maximum(norms[i + 1:], norms[i])
        d = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        out[i, i + 1:] = d
        out[i + 1:, i] = d
    return out


def cluster(distances: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster ids (n,) by the leader rule of the module docstring."""
    leaders: list[int] = []
    labels = np.empty(len(distances), dtype=int)
    for i in range(len(distances)):
        for c, leader in enumerate(leaders):
            if distances[i, leader] <= threshold:
                labels[i] = c
                break
        else:
            labels[i] = len(leaders)
            leaders.append(i)
    return labels


def representatives(distances: np.ndarray, labels: np.ndarray) -> list[int]:
    """The medoid of each cluster, in cluster order."""
    reps = []
    for c in range(int(labels.max()) + 1):
        members = np.nonzero(labels == c)[0]
        spread = distances[np.ix_(members, members)].max(axis=1)
        reps.append(int(members[np.argmin(spread)]))
    return reps


def summary(fields: np.ndarray, threshold: float) -> tuple[np.ndarray, dict]:
    """(labels, metrics.json's `solutions`): the clusters, each with its members, representative,
    largest distance inside it and distances from its representative to every cluster's."""
    d = relative_distances(fields)
    labels = cluster(d, threshold)
    reps = representatives(d, labels)
    clusters = []
    for c, rep in enumerate(reps):
        members = np.nonzero(labels == c)[0]
        clusters.append({
            "id": c,
            "members": members.tolist(),
            "representative": rep,
            "max_distance_within": float(d[np.ix_(members, members)].max()),
            "distance_to": [float(d[rep, other]) for other in reps],
        })
    return labels, {
        "count": len(reps),
        "threshold": float(threshold),
        "distance": "relative L2 over (t, x): ‖u_i − u_j‖ / max(‖u_i‖, ‖u_j‖)",
        "member_solution": labels.tolist(),
        "clusters": clusters,
    }
