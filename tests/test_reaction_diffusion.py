"""The method-of-lines reaction–diffusion model: grid convergence, the front speed, boundaries."""

import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.config.common import SolverConfig
from neurocli.models import ReactionDiffusion, SechProfile
from neurocli.models.reaction_diffusion import heaviside_k, laplacian
from neurocli.numerics.solve import Problem, SolveSpec, run_solve


def solve_rd(model, t1, nt, solver="kvaerno5", tol=1e-8):
    ts = np.linspace(0.0, t1, nt)
    out = run_solve(Problem(model), SolveSpec(SolverConfig(name=solver, rtol=tol, atol=tol), 0.0, t1, ts))
    return ts, np.asarray(model.grid()), np.asarray(model.full_field(jnp.asarray(out.ys)))


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_doubling_nx_changes_u_by_less_than_1e_3(boundary):
    nx = ReactionDiffusion().nx  # the default resolution
    coarse = ReactionDiffusion(a=jnp.asarray(0.1), nx=nx, boundary=boundary)
    fine = ReactionDiffusion(a=jnp.asarray(0.1), nx=2 * nx - 1, boundary=boundary)  # nodes nest
    _, _, u = solve_rd(coarse, 1.0, 11)
    _, _, u_fine = solve_rd(fine, 1.0, 11)
    rel = np.linalg.norm(u_fine[:, ::2] - u) / np.linalg.norm(u_fine)
    assert rel < 1e-3, rel


def test_front_speed_matches_the_sharp_threshold_theory():
    # c = (1 − 2a)/√(a(1 − a)) is the speed for the sharp H; k = 100 is close to that limit.
    # A domain long enough for the travelling wave to form; the speed is measured before the
    # front nears the boundary.
    a, length = 0.1, 8.0
    profile = SechProfile(jnp.asarray(2.0), jnp.asarray(length / 2), jnp.asarray(0.1))
    model = ReactionDiffusion(a=jnp.asarray(a), k=jnp.asarray(100.0), length=jnp.asarray(length),
                              initial=profile, nx=321, boundary="dirichlet")
    ts, x, u = solve_rd(model, 0.8, 17, solver="kencarp4", tol=1e-5)
    right = x > length / 2
    position = []
    for row in u[:, right]:
        i = np.nonzero(row >= a)[0][-1]  # last node above threshold: the front lies beyond it
        xr = x[right]
        position.append(xr[i] + (row[i] - a) / (row[i] - row[i + 1]) * (xr[i + 1] - xr[i]))
    position = np.asarray(position)
    window = ts >= 0.3
    assert position[window].max() < length - 0.9  # still well away from the boundary
    speed = np.polyfit(ts[window], position[window], 1)[0]
    theory = (1 - 2 * a) / np.sqrt(a * (1 - a))
    assert abs(speed / theory - 1) < 0.25, (speed, theory)


def test_heaviside_k_is_the_papers_regularisation():
    s = jnp.asarray([-1.0, 0.0, 0.05, 0.2, 0.3])
    np.testing.assert_allclose(np.asarray(heaviside_k(s, 5.0)), [0.0, 0.0, 0.25, 1.0, 1.0])


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_laplacian_is_second_order(boundary):
    # u = cos(x) satisfies zero flux on (0, π); u = sin(x) vanishes there. u_xx = −u for both.
    errs = []
    for nx in (41, 81):
        x = np.linspace(0, np.pi, nx)
        u = np.sin(x) if boundary == "dirichlet" else np.cos(x)
        state = u[1:-1] if boundary == "dirichlet" else u
        lap = np.asarray(laplacian(jnp.asarray(state), np.pi / (nx - 1), boundary))
        errs.append(np.abs(lap + state).max())
    order = np.log2(errs[0] / errs[1])
    assert 1.9 < order < 2.1, order
