"""Loss weighting: causal (time-ordered) residual weights and gradient-norm balancing of terms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float


def causal_residual(
    r2: Float[Array, " n"], t: Float[Array, " n"], T: float, chunks: int, epsilon: float
) -> Float[Array, ""]:
    """mean_i w_i L_i over `chunks` time slices, w_i = exp(−ε Σ_{j<i} L_j) held constant
    (Wang, Sankaran & Perdikaris 2022): later times count once earlier ones are resolved."""
    idx = jnp.clip(jnp.floor(t / T * chunks).astype(jnp.int32), 0, chunks - 1)
    sums = jax.ops.segment_sum(r2, idx, chunks)
    counts = jax.ops.segment_sum(jnp.ones_like(r2), idx, chunks)
    per_chunk = sums / jnp.maximum(counts, 1.0)
    before = jnp.cumsum(per_chunk) - per_chunk
    w = jax.lax.stop_gradient(jnp.exp(-epsilon * before))
    return jnp.mean(w * per_chunk)


def balanced_weights(grads: list, previous: Float[Array, " terms"], alpha: float) -> Float[Array, " terms"]:
    """λ_i ← (1 − α) λ_i + α Σ_j ‖∇L_j‖ / ‖∇L_i‖ (learning-rate annealing, Wang, Teng & Perdikaris)."""
    norms = jnp.stack([optax.tree.norm(g) for g in grads])
    target = jnp.sum(norms) / jnp.maximum(norms, jnp.finfo(norms.dtype).tiny)
    return jax.lax.stop_gradient((1.0 - alpha) * previous + alpha * target)
