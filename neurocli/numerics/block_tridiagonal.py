"""A lineax solver for block-tridiagonal Jacobians, found by colouring (3·s JVPs, not n).

Method-of-lines PDEs couple each node only to its neighbours. With the state ordered node by node
(s values per node) the Jacobian is block tridiagonal with s×s blocks. diffrax's implicit solvers
by default materialise the dense n×n Jacobian (n JVPs) and LU-factorise it (O(n³)) every step;
this solver instead
  - recovers the three block diagonals from J·v_c for the 3s colour vectors v_c (columns j with
    j mod 3s = c): in any block row, the 3s columns it touches are distinct mod 3s;
  - solves by block Gaussian elimination (block Thomas, O(n s²)), with
    `lax.linalg.tridiagonal_solve` for s = 1.
No pivoting across blocks: meant for I − γhJ systems of diffusion problems (block diagonally dominant).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np


def _colour_vectors(n: int, s: int, dtype) -> jax.Array:
    colours = 3 * s
    return jnp.asarray((np.arange(n)[None, :] % colours) == np.arange(colours)[:, None], dtype=dtype)


def extract_blocks(products: jax.Array, n: int, s: int):
    """(L, D, U), each (n/s, s, s), from products[c] = J · v_c."""
    nb = n // s
    colours = 3 * s
    B = np.arange(nb)[:, None, None]
    p = np.arange(s)[None, :, None]
    k = np.arange(s)[None, None, :]
    rows = B * s + p

    def block(offset):
        cols = (B + offset) * s + k
        valid = (B + offset >= 0) & (B + offset < nb)
        return jnp.where(valid, products[cols % colours, rows], 0.0)

    return block(-1), block(0), block(1)


def block_thomas(L, D, U, y):
    """Solve the block-tridiagonal system for y (nb, s)."""

    def forward(carry, blocks):
        c_prev, d_prev = carry
        Li, Di, Ui, yi = blocks
        den = Di - Li @ c_prev
        c = jnp.linalg.solve(den, Ui)
        d = jnp.linalg.solve(den, yi - Li @ d_prev)
        return (c, d), (c, d)

    s = D.shape[-1]
    init = (jnp.zeros((s, s), D.dtype), jnp.zeros((s,), D.dtype))
    _, (C, Dp) = jax.lax.scan(forward, init, (L, D, U, y))

    def backward(x_next, blocks):
        c, d = blocks
        x = d - c @ x_next
        return x, x

    _, x = jax.lax.scan(backward, jnp.zeros((s,), D.dtype), (C, Dp), reverse=True)
    return x


class BlockTridiagonalJacobian(lx.AbstractLinearSolver):
    """Solve J x = b for a block-tridiagonal J given only as an operator (e.g. a Jacobian)."""

    block_size: int = eqx.field(static=True, default=1)

    def init(self, operator: lx.AbstractLinearOperator, options: dict[str, Any]):
        del options
        n = operator.in_size()
        s = self.block_size
        if operator.out_size() != n or n % s:
            raise ValueError(f"need a square operator whose size is a multiple of {s}")
        dtype = operator.in_structure().dtype
        products = jax.vmap(operator.mv)(_colour_vectors(n, s, dtype))
        return extract_blocks(products, n, s)

    def compute(self, state, vector, options):
        del options
        L, D, U = state
        s = self.block_size
        if s == 1:
            dl = jnp.concatenate([jnp.zeros(1, D.dtype), L[1:, 0, 0]])
            du = jnp.concatenate([U[:-1, 0, 0], jnp.zeros(1, D.dtype)])
            x = jax.lax.linalg.tridiagonal_solve(dl, D[:, 0, 0], du, vector[:, None])[:, 0]
        else:
            x = block_thomas(L, D, U, vector.reshape(-1, s)).reshape(-1)
        return x, lx.RESULTS.successful, {}

    def transpose(self, state, options):
        L, D, U = state
        T = lambda a: jnp.swapaxes(a, -1, -2)  # noqa: E731
        zero = jnp.zeros_like(D[:1])
        # (Jᵀ) block row B: lower = U[B−1]ᵀ, diagonal = D[B]ᵀ, upper = L[B+1]ᵀ
        lower = jnp.concatenate([zero, T(U[:-1])])
        upper = jnp.concatenate([T(L[1:]), zero])
        return (lower, T(D), upper), options

    def conj(self, state, options):
        return tuple(a.conj() for a in state), options

    def assume_full_rank(self):
        return True
