import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

from neurocli.numerics.block_tridiagonal import BlockTridiagonalJacobian


def random_block_tridiagonal(s, nb, rng):
    n = s * nb
    A = np.zeros((n, n))
    for B in range(nb):
        for q in (-1, 0, 1):
            if 0 <= B + q < nb:
                A[B * s:(B + 1) * s, (B + q) * s:(B + q + 1) * s] = rng.normal(size=(s, s)) * (0.3 if q else 1.0)
    return A + 4.0 * np.eye(n)


@pytest.mark.parametrize("s, nb", [(1, 12), (2, 6), (4, 5)])
def test_solves_match_dense_from_a_jacobian_operator(s, nb):
    rng = np.random.default_rng(s)
    A = random_block_tridiagonal(s, nb, rng)
    b = rng.normal(size=s * nb)
    # the operator only offers Jacobian-vector products, as inside diffrax's implicit solvers
    op = lx.JacobianLinearOperator(lambda x, args: jnp.asarray(A) @ x, jnp.zeros(s * nb))
    x = lx.linear_solve(op, jnp.asarray(b), BlockTridiagonalJacobian(s)).value
    xt = lx.linear_solve(op.T, jnp.asarray(b), BlockTridiagonalJacobian(s)).value
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(A, b), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np.asarray(xt), np.linalg.solve(A.T, b), rtol=1e-11, atol=1e-12)
