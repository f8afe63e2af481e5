"""The hard constraint holds exactly; the heat base is the linear solution; derivative modes agree."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.pinn.derivatives import MODES, value_and_derivatives
from neurocli.pinn.setup import build_setup
from neurocli.pinn.train import member_keys
from pinn_helpers import tiny_config


def _net(setup, seed=0):
    nets = setup.make_network(member_keys(seed, 1))
    return jax.tree_util.tree_map(lambda v: v[0] if isinstance(v, jax.Array) else v, nets)


def _points(n=64, T=1.0, L=math.pi):
    t = jnp.linspace(0.0, T, n, dtype=jnp.float32)
    x = jnp.linspace(0.0, L, n, dtype=jnp.float32)
    return t, x


@pytest.mark.parametrize("base", ["initial", "heat"])
@pytest.mark.parametrize("boundary", ["dirichlet", "neumann", "none"])
def test_hard_constraint_holds_exactly(base, boundary):
    setup = build_setup(tiny_config(pde={"a": 0.2, "boundary": boundary}, conditions={"kind": "hard", "base": base}))
    net, ans = _net(setup), setup.ansatz
    t, x = _points()
    L = ans.length
    u = lambda tt, xx: ans(net, tt, xx)  # noqa: E731
    field = jax.jit(jax.vmap(u))
    u0 = field(jnp.zeros_like(x), x)
    phi = setup.model.initial(x)
    if base == "initial":
        assert np.array_equal(np.asarray(u0), np.asarray(phi))  # exactly φ
    else:  # the eigen-series of φ, to float32 rounding of a sum of O(100) terms
        np.testing.assert_allclose(u0, phi, atol=2e-6)
    # the learned part vanishes exactly at t = 0 whatever the network
    assert np.all(np.asarray(jax.jit(jax.vmap(lambda xx: ans.learned(net, 0.0 * xx, xx)))(x)) == 0.0)
    ends = [jnp.zeros_like(t), jnp.full_like(t, L)]
    if boundary == "dirichlet":
        for e in ends:
            values = np.asarray(field(t, e))
            if base == "heat":
                assert np.all(values == 0.0)
            else:  # φ(0) = 2/cosh(5π) ≈ 3e-7 is the only boundary value left: it is in φ
                assert np.max(np.abs(values - np.asarray(setup.model.initial(e)))) == 0.0
    if boundary == "neumann":
        for e in ends:
            slope = jax.jit(jax.vmap(jax.grad(u, argnums=1)))(t, e)
            if base == "heat":
                assert np.all(np.asarray(slope) == 0.0)
            else:  # the learned part is flat; φ'(0) ≈ 3e-6 remains
                slope_w = jax.jit(jax.vmap(jax.grad(lambda tt, xx: ans.learned(net, tt, xx), argnums=1)))(t, e)
                assert np.all(np.asarray(slope_w) == 0.0)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_heat_base_solves_the_linear_equation(boundary):
    """v_t − v_xx + v = 0 by autodiff (float64), away from t = 0 where the series converges slowly."""
    with jax.enable_x64(True):
        cfg = tiny_config(pde={"a": 0.2, "boundary": boundary}, runtime={"precision": "float64"})
        heat = build_setup(cfg).ansatz.heat
        t = jnp.linspace(0.01, 1.0, 50)
        x = jnp.linspace(0.0, math.pi, 50)
        v, v_t, v_xx = jax.jit(lambda t, x: value_and_derivatives(heat, t, x, "forward"))(t, x)
        scale = np.abs(np.asarray(v_xx)).max()
        np.testing.assert_allclose(np.asarray(v_t - v_xx + v) / scale, 0.0, atol=1e-10)


def test_heat_base_matches_the_finite_difference_solution():
    """With H_k switched off (u stays below a), the reference solve IS the linear solution."""
    from neurocli.pinn.reference import solve_reference

    cfg = tiny_config(
        pde={"a": 0.9, "boundary": "dirichlet", "initial": {"kind": "gaussian", "height": 0.5, "width": 0.2}},
        reference={"nx": 151}, output={"nt": 11, "nx": 31},
    )
    ref = solve_reference(cfg)
    assert ref.u.max() < 0.9  # the reaction never switches on
    with jax.enable_x64(True):
        heat = build_setup(tiny_config(pde=cfg.pde.model_dump(), runtime={"precision": "float64"})).ansatz.heat
        tt, xx = np.meshgrid(ref.t, ref.x, indexing="ij")
        v = np.asarray(jax.jit(jax.vmap(heat))(jnp.asarray(tt.ravel()), jnp.asarray(xx.ravel()))).reshape(tt.shape)
    rel = np.linalg.norm(v - ref.u[0]) / np.linalg.norm(ref.u[0])
    assert rel < 2e-4  # the finite-difference error at nx = 151 (second order)


def test_derivative_modes_agree():
    setup = build_setup(tiny_config(pde={"a": 0.2}))
    net, ans = _net(setup), setup.ansatz
    t, x = _points(32)
    f = lambda tt, xx: ans.learned(net, tt, xx)  # noqa: E731
    results = {m: jax.jit(lambda t, x, m=m: value_and_derivatives(f, t, x, m))(t, x) for m in MODES}
    for m in [m for m in MODES if m != "reverse"]:
        for got, want in zip(results[m], results["reverse"]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # and on a function with known derivatives
    g = lambda tt, xx: jnp.sin(2.0 * xx) * jnp.exp(-tt) * (1.0 + tt * xx)  # noqa: E731
    for m in MODES:
        w, w_t, w_xx = jax.jit(lambda t, x, m=m: value_and_derivatives(g, t, x, m))(t, x)
        s2, e = jnp.sin(2.0 * x), jnp.exp(-t)
        want_t = s2 * e * (x - 1.0 - t * x)
        want_xx = e * (-4.0 * s2 * (1.0 + t * x) + 4.0 * t * jnp.cos(2.0 * x))
        np.testing.assert_allclose(w_t, want_t, atol=1e-5)
        np.testing.assert_allclose(w_xx, want_xx, atol=5e-5)
