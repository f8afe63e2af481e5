"""The FitzHugh–Nagumo cable (model fitzhugh_nagumo_cable): node equations, an independent
solver, grid convergence of the pulse speed, the simulate run contract.

The independent reference is SciPy's Radau on the same method-of-lines system, written here in
NumPy from the equations (not from neurocli's model): it checks the discretisation, the stimulus
spreading and the IMEX solve together.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from scipy.integrate import solve_ivp
from scipy.sparse import diags

import reference_analysis
from conftest import CONFIGS
from neurocli.config.base import ConfigError, validate
from neurocli.config.simulate import SimulateConfig
from neurocli.config.common import SolverConfig
from neurocli.models import FitzHughNagumo, FitzHughNagumoCable
from neurocli.models.stimulus import PulseStimulus
from neurocli.numerics.solve import Problem, SolveSpec, run_solve

A, B, TAU, D = 0.7, 0.8, 12.5, 1.0
LENGTH, EXTENT = 20.0, 2.0
START, DURATION, AMPLITUDE = 1.0, 1.0, 2.0
T1 = 30.0


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _cable(nx: int) -> FitzHughNagumoCable:
    f = lambda v: jnp.asarray(v, dtype=float)  # noqa: E731
    return FitzHughNagumoCable(a=f(A), b=f(B), tau=f(TAU), D=f(D), length=f(LENGTH), stim_extent=f(EXTENT), nx=nx)


def _solve(nx: int, save_every: float = 0.05):
    model = _cable(nx)
    stim = PulseStimulus(start=jnp.asarray(START), duration=jnp.asarray(DURATION), amplitude=jnp.asarray(AMPLITUDE))
    cfg = SolverConfig(name="kencarp5", rtol=1e-8, atol=1e-8, dtmax=0.5, max_steps=100_000)
    ts = np.arange(0.0, T1 + 1e-9, save_every)
    out = run_solve(Problem(model, stim), SolveSpec(cfg, 0.0, T1, ts, tuple(stim.jump_times())))
    return ts, np.asarray(model.grid()), np.asarray(out.ys)


def _scipy_solve(nx: int, ts: np.ndarray) -> np.ndarray:
    """The same system by hand: v_t = D v_xx + v − v³/3 − w + I(t) s_i, w_t = (v + a − b w)/τ,
    mirrored ghost nodes, s_i the share of node i's control volume inside [0, EXTENT]."""
    x = np.linspace(0.0, LENGTH, nx)
    h = x[1] - x[0]
    lap = diags([np.ones(nx - 1), -2 * np.ones(nx), np.ones(nx - 1)], [-1, 0, 1]).tolil()
    lap[0, 1] = 2.0
    lap[-1, -2] = 2.0
    lap = (lap / h**2).tocsr()
    lo, hi = np.maximum(x - h / 2, 0.0), np.minimum(x + h / 2, LENGTH)
    share = np.clip(np.minimum(hi, EXTENT) - lo, 0.0, None) / (hi - lo)
    # rest: the cubic's root where w = (v + a) / b
    roots = np.roots([-1 / 3, 0.0, 1 - 1 / B, -A / B])
    v0 = float(np.real(roots[np.argmin(np.abs(roots.imag))]))
    y = np.concatenate([np.full(nx, v0), np.full(nx, (v0 + A) / B)])
    jac_sparsity = diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(nx, nx))
    pattern = np.block([[jac_sparsity.toarray(), np.eye(nx)], [np.eye(nx), np.eye(nx)]])

    def rhs(current):
        def f(t, y):
            v, w = y[:nx], y[nx:]
            return np.concatenate([D * (lap @ v) + v - v**3 / 3 - w + current * share, (v + A - B * w) / TAU])
        return f

    out = []
    edges = [0.0, START, START + DURATION, T1]
    for k, current in enumerate([0.0, AMPLITUDE, 0.0]):
        lo_t, hi_t = edges[k], edges[k + 1]
        inside = ts[(ts >= lo_t) & ((ts < hi_t) if k < 2 else (ts <= hi_t))]
        sol = solve_ivp(rhs(current), (lo_t, hi_t), y, method="Radau", t_eval=inside, rtol=1e-10, atol=1e-10,
                        jac_sparsity=pattern)
        assert sol.success, sol.message
        out.append(sol.y.T)
        y = solve_ivp(rhs(current), (lo_t, hi_t), y, method="Radau", rtol=1e-10, atol=1e-10,
                      jac_sparsity=pattern).y[:, -1]
    return np.concatenate(out)


def test_zero_diffusion_node_equations_are_the_fitzhugh_nagumo_model():
    cable = FitzHughNagumoCable(D=jnp.asarray(0.0), nx=11)
    point = FitzHughNagumo()
    rng = np.random.default_rng(0)
    y = jnp.asarray(rng.normal(size=2 * 11))
    dy = np.asarray(cable.vector_field(0.0, y, 0.0)).reshape(2, 11)
    expect = np.stack([np.asarray(point.vector_field(0.0, y.reshape(2, 11)[:, i], 0.0)) for i in range(11)], axis=1)
    np.testing.assert_allclose(dy, expect, rtol=1e-12, atol=1e-12)
    rest = np.asarray(cable.initial_state()).reshape(2, 11)
    np.testing.assert_allclose(rest, np.repeat(np.asarray(point.initial_state())[:, None], 11, axis=1), atol=1e-12)


def test_matches_an_independent_scipy_solve():
    ts, x, y = _solve(101, save_every=0.5)
    ref = _scipy_solve(101, ts)
    assert ref.shape == y.shape
    err = np.max(np.abs(y - ref))
    assert err < 1e-5, err  # both at rtol ≤ 1e-8 on the same grid: the solvers agree


@pytest.mark.slow  # three grids, three compiles; the scipy comparison checks the discretisation fast
def test_pulse_speed_converges_at_second_order_in_the_grid():
    speeds = []
    for nx in (51, 101, 201):
        ts, x, y = _solve(nx)
        speeds.append(reference_analysis.front_speed(ts, x, y[:, :nx], 0.0, (LENGTH / 3, 2 * LENGTH / 3)))
    c = np.asarray(speeds)
    assert np.all(np.isfinite(c)) and np.all((c > 0.5) & (c < 1.2)), c
    d1, d2 = abs(c[1] - c[0]), abs(c[2] - c[1])
    assert d2 < d1 / 3, (c, d1, d2)  # second order: the difference falls by about 4 per halving
    assert d2 / c[2] < 2e-3, c  # Δx = 0.1: the speed to 0.2 %


def test_simulate_cli_writes_the_cable_contract(cli, tmp_path):
    result, run = cli("simulate", "--config", CONFIGS / "fhn_cable.yaml", "--set", "model.nx=201",
                      "--set", "time.save_every=0.5", "--output-root", tmp_path)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["reached_far_end"] is True
    assert metrics["spike_count"] == 1
    assert 0.7 < metrics["conduction_velocity_m_per_s"] < 0.9  # dimensionless: length units per time unit
    assert metrics["peak_V_mV"] == pytest.approx(1.6, abs=0.15)
    assert {p.name for p in (run / "figures").iterdir()} == {"heatmap.pdf", "voltage_traces.pdf", "snapshots.pdf"}


@pytest.mark.parametrize(("overrides", "key"), [
    ({"stim_extent": 70.0}, "model.stim_extent"),
    ({"D": -1.0}, "model.D"),
    ({"nx": 5}, "model.nx"),
])
def test_config_errors_name_the_key(overrides, key):
    raw = yaml.safe_load((CONFIGS / "fhn_cable.yaml").read_text())
    raw["model"].update(overrides)
    with pytest.raises(ConfigError) as err:
        validate(SimulateConfig, raw, "fhn_cable.yaml")
    assert [k for k, _ in err.value.problems] == [key]


def test_an_explicit_solver_is_refused():
    raw = yaml.safe_load((CONFIGS / "fhn_cable.yaml").read_text())
    raw["solver"]["name"] = "tsit5"
    with pytest.raises(ConfigError) as err:
        validate(SimulateConfig, raw, "fhn_cable.yaml")
    assert [k for k, _ in err.value.problems] == ["solver.name"]
