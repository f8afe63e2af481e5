import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.models import gating


def naive_alpha_n(V):
    return 0.01 * (V + 55.0) / (1.0 - np.exp(-(V + 55.0) / 10.0))


def naive_alpha_m(V):
    return 0.1 * (V + 40.0) / (1.0 - np.exp(-(V + 40.0) / 10.0))


@pytest.mark.parametrize("fn, naive, singular, limit", [
    (gating.alpha_n, naive_alpha_n, -55.0, 0.1),
    (gating.alpha_m, naive_alpha_m, -40.0, 1.0),
])
def test_removable_singularity_finite_with_finite_gradient(fn, naive, singular, limit):
    assert float(fn(singular)) == pytest.approx(limit, rel=1e-12)
    grad = float(jax.grad(fn)(jnp.asarray(singular)))
    # the derivative at the singular point, from the naive formula's symmetric difference
    h = 1e-3
    expected = (naive(singular + h) - naive(singular - h)) / (2 * h)
    assert np.isfinite(grad) and grad == pytest.approx(expected, rel=1e-6)
    # away from the point the safe and naive formulas agree
    V = np.array([-100.0, -70.0, singular - 1e-3, singular + 1e-3, 0.0, 40.0])
    np.testing.assert_allclose(np.asarray(fn(jnp.asarray(V))), naive(V), rtol=1e-9)
    # and vmapped gradients over a range that includes the point are all finite
    grads = jax.vmap(jax.grad(fn))(jnp.linspace(singular - 1, singular + 1, 2001))
    assert np.all(np.isfinite(np.asarray(grads)))


def test_temperature_factor_is_q10_of_three():
    assert float(gating.temperature_factor(6.3)) == pytest.approx(1.0)
    assert float(gating.temperature_factor(16.3)) == pytest.approx(3.0)
