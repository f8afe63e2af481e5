"""Neuron models against the seed's table, published behaviour, and scipy's solve_ivp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurocli.config.common import SolverConfig
from neurocli.models import FitzHughNagumo, HodgkinHuxley, ReducedHodgkinHuxley
from neurocli.models.stimulus import NoStimulus, PulseStimulus, PulseTrainStimulus
from neurocli.numerics.solve import Problem, SolveSpec, run_solve
from reference_analysis import spike_times

TIGHT = SolverConfig(name="tsit5", rtol=1e-10, atol=1e-10)


def pulse(start=10.0, duration=1.0, amplitude=20.0):
    return PulseStimulus(jnp.asarray(start), jnp.asarray(duration), jnp.asarray(amplitude))


def solve(problem, t1, every, solver=TIGHT):
    ts = np.arange(0.0, t1 + 1e-9, every)
    jumps = tuple(problem.stimulus.jump_times())
    return run_solve(problem, SolveSpec(solver, 0.0, t1, ts, jumps))


def test_reduced_hh_reproduces_the_seed_table():
    problem = Problem(ReducedHodgkinHuxley(), pulse(), jnp.asarray([-65.0, 0.3177]), (0, 1))
    out = solve(problem, 50.0, 0.1)
    assert out.ys.shape == (501, 2)
    np.testing.assert_allclose(out.ys[1:5, 0], [-64.9997, -64.9994, -64.9991, -64.9989], atol=5e-5)
    np.testing.assert_allclose(out.ys[1:5, 1], 0.3177, atol=1e-4)
    # the seed: with h = h∞(V) the pulse gives a depolarisation peaking near −25 mV, no spike
    assert -30.0 < out.ys[:, 0].max() < -20.0


def test_hh_rest_is_a_fixed_point():
    out = solve(Problem(HodgkinHuxley(), NoStimulus()), 50.0, 0.1)
    assert np.abs(out.ys[:, 0] - out.ys[0, 0]).max() < 1e-3
    assert out.ys[0, 0] == pytest.approx(-65.0, abs=0.1)


def test_hh_pulse_gives_exactly_one_spike():
    out = solve(Problem(HodgkinHuxley(), pulse()), 50.0, 0.01)
    v = out.ys[:, 0]
    assert spike_times(out.ts, v, 0.0).size == 1
    assert 35.0 < v.max() < 45.0
    assert -78.0 < v.min() < -74.0  # after-hyperpolarisation near −76 mV


def _scipy_reference(model, stimulus, y0, t1, ts):
    """DOP853 at rtol = atol = 1e-12, restarted at every stimulus edge."""
    f = jax.jit(lambda t, y: model.vector_field(t, y, stimulus(t)))
    rhs = lambda t, y: np.asarray(f(t, y))  # noqa: E731
    edges = [0.0, *sorted(stimulus.jump_times()), t1]
    pieces, y = [], np.asarray(y0)
    for a, b in zip(edges[:-1], edges[1:]):
        sel = ts[(ts >= a) & (ts < b)]
        sol = solve_ivp(rhs, (a, b), y, method="DOP853", t_eval=np.append(sel, b), rtol=1e-12, atol=1e-12)
        pieces.append(sol.y.T[:-1])
        y = sol.y[:, -1]
    pieces.append(y[None])  # the sample at t1
    return np.concatenate(pieces)[: len(ts)]


@pytest.mark.parametrize("model, stimulus, t1, scale", [
    (HodgkinHuxley(), pulse(5.0, 1.0, 20.0), 25.0, np.array([1.0, 1e-2, 1e-2, 1e-2])),
    (ReducedHodgkinHuxley(), pulse(5.0, 1.0, 20.0), 25.0, np.array([1.0, 1e-2])),
    (FitzHughNagumo(), PulseTrainStimulus(jnp.asarray(5.0), jnp.asarray(40.0), jnp.asarray(5.0),
                                          jnp.asarray(0.5), 2), 100.0, np.array([1e-2, 1e-2])),
], ids=["hh", "hh_reduced", "fitzhugh_nagumo"])
def test_agrees_with_scipy_solve_ivp(model, stimulus, t1, scale):
    problem = Problem(model, stimulus)
    out = solve(problem, t1, 0.1)
    ref = _scipy_reference(model, stimulus, np.asarray(problem.y0()), t1, out.ts)
    # |error| below 1e-5 mV on V (1e-7 on gates) along the whole trajectory, spike included
    err = np.abs(out.ys - ref) / scale
    assert err.max() < 1e-5, err.max(axis=0)


def test_initial_state_is_the_fixed_point_of_each_model():
    for model in (HodgkinHuxley(), ReducedHodgkinHuxley(), FitzHughNagumo()):
        y0 = model.initial_state()
        assert np.abs(np.asarray(model.vector_field(0.0, y0, 0.0))).max() < 1e-10
