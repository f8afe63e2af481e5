"""The Hodgkin–Huxley cable (model hh_cable): units, node equations, propagation, CLI outputs.

Coarse grids only; each solve compiles once (a few seconds) and runs in well under a second.
Reference numbers: HH 1952 computed 18.8 m/s for this axon at 18.5 °C; cable theory gives
velocity ∝ √(d / R_i) for fixed membrane properties.
"""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import pytest
import yaml

import reference_analysis
from neurocli.analysis import cable as cable_analysis
from neurocli.config.base import ConfigError, validate
from neurocli.config.common import SolverConfig
from neurocli.config.simulate import SimulateConfig
from neurocli.numerics.block_tridiagonal import BlockTridiagonalJacobian
from neurocli.numerics.implicit_stages import OneChordStep
from neurocli.models import HodgkinHuxley, build_model
from neurocli.models.hh_cable import HHCable, axial_conductance_mS, segment_weights
from neurocli.models.stimulus import PulseStimulus
from neurocli.numerics.solve import Problem, SolveSpec, run_solve

HH_1952_VELOCITY_M_PER_S = 18.8  # computed (measured: 21.2) for the squid axon at 18.5 °C


def _cable(**fields) -> HHCable:
    return HHCable(**{k: (v if k == "nx" else jnp.asarray(v, dtype=float)) for k, v in fields.items()})


def _pulse(amplitude=300.0, start=0.5, duration=0.5) -> PulseStimulus:
    return PulseStimulus(start=jnp.asarray(start), duration=jnp.asarray(duration), amplitude=jnp.asarray(amplitude))


def _solve(model, stimulus, *, t1, sweep=None, values=None, solver="kencarp5", save_every=0.01):
    """V (nt, nx) or (members, nt, nx), as `simulate` solves it (V kept only)."""
    cfg = SolverConfig(name=solver, rtol=1e-6, atol=1e-6, dtmax=0.05, max_steps=100_000)
    ts = np.arange(0.0, t1 + 1e-9, save_every)
    jumps = tuple(stimulus.jump_times())
    spec = SolveSpec(cfg, 0.0, t1, ts, jumps, save=lambda t, y: model.full_field(y))
    return run_solve(Problem(model, stimulus), spec, sweep, values)


def _velocity(out_ts, model, V):
    length = float(model.length_cm)
    return reference_analysis.conduction_velocity(out_ts, np.asarray(model.grid()), V, 0.0, (length / 3, 2 * length / 3))


# -- units and node equations (no solve) ------------------------------------------------------


def test_axial_conductance_units_against_si():
    """d/(4 R_i) ∂²V/∂x² in µA/cm², computed independently in SI units."""
    d_um, R_i = 476.0, 35.4
    assert float(axial_conductance_mS(d_um, R_i)) == pytest.approx(d_um / (40 * R_i), rel=1e-14)
    assert float(axial_conductance_mS(d_um, R_i)) == pytest.approx(0.33616, rel=1e-4)

    # V(x) = A x² (x in cm, V in mV): ∂²V/∂x² = 2A mV/cm², exact for central differences.
    A = 3.0
    model = _cable(diameter_um=d_um, R_i_ohm_cm=R_i, length_cm=2.0, nx=21)
    x = np.asarray(model.grid())
    current = np.asarray(model.axial_current(jnp.asarray(A * x**2)))[1:-1]  # µA/cm², interior

    d_m, R_i_ohm_m = d_um * 1e-6, R_i * 1e-2  # µm -> m, Ω·cm -> Ω·m
    curvature_V_per_m2 = 2 * A * 1e-3 / 1e-4  # mV/cm² -> V/m²
    si_A_per_m2 = d_m / (4 * R_i_ohm_m) * curvature_V_per_m2  # S · V/m² = A/m²
    expected_uA_per_cm2 = si_A_per_m2 * 1e6 / 1e4  # A/m² -> µA/cm²
    np.testing.assert_allclose(current, expected_uA_per_cm2, rtol=1e-10)


def test_stimulus_segment_conserves_injected_charge():
    """Σ weight_i · (control-volume length)_i = stim_extent_cm, for any grid."""
    for nx, extent in [(11, 0.1), (101, 0.1), (401, 0.1), (101, 0.37), (57, 1.234)]:
        x = jnp.linspace(0.0, 6.0, nx)
        h = float(x[1] - x[0])
        volumes = np.full(nx, h)
        volumes[[0, -1]] = h / 2
        w = np.asarray(segment_weights(x, extent))
        assert np.all((w >= 0) & (w <= 1))
        assert float(np.sum(w * volumes)) == pytest.approx(extent, rel=1e-12)


def test_zero_diffusion_node_equations_are_the_hh_model():
    """With d = 0 every node obeys exactly `HodgkinHuxley` (its share of the stimulus in)."""
    nx = 7
    params = dict(temperature_C=11.0, g_Na=110.0, E_L=-54.0)
    cable = _cable(diameter_um=0.0, nx=nx, length_cm=1.2, stim_extent_cm=0.45, **params)
    point = HodgkinHuxley(**{k: jnp.asarray(v) for k, v in params.items()})
    key_v, key_g = jax.random.split(jax.random.PRNGKey(0))
    V = jax.random.uniform(key_v, (nx,), minval=-90.0, maxval=40.0)
    gates = jax.random.uniform(key_g, (3, nx))
    y = jnp.concatenate([V, gates.reshape(-1)])  # blocks: V, m, h, n
    i_ext = 37.0
    weights = np.asarray(cable.stimulus_profile())
    assert weights[0] == 1.0 and weights[-1] == 0.0 and weights[2] == pytest.approx(0.75)  # 0.45 cm of 1.2, nodes 0.2 apart

    got = np.asarray(jax.jit(lambda y: cable.vector_field(0.3, y, i_ext))(y)).reshape(4, nx)
    point_field = jax.jit(lambda t, node, i: point.vector_field(t, node, i))
    for i in range(nx):
        node = jnp.stack([V[i], gates[0, i], gates[1, i], gates[2, i]])
        want = np.asarray(point_field(0.3, node, i_ext * weights[i]))
        np.testing.assert_allclose(got[:, i], want, rtol=1e-15, atol=0)
    rest = np.asarray(cable.initial_state()).reshape(4, nx)
    np.testing.assert_allclose(rest, np.repeat(np.asarray(point.initial_state())[:, None], nx, axis=1), rtol=1e-15)

    # with diffusion, only dV/dt changes, by the axial current / C_m
    wired = _cable(diameter_um=476.0, nx=nx, length_cm=1.2, stim_extent_cm=0.45, **params)
    diff = np.asarray(wired.vector_field(0.3, y, i_ext) - cable.vector_field(0.3, y, i_ext)).reshape(4, nx)
    np.testing.assert_array_equal(diff[1:], 0.0)
    np.testing.assert_allclose(diff[0], np.asarray(wired.axial_current(V)), rtol=1e-12)


def test_one_chord_step_solves_an_affine_equation_exactly():
    n = 12
    rng = np.random.default_rng(0)
    matrix = np.diag(4 + rng.normal(size=n)) + np.diag(rng.normal(size=n - 1), -1) + np.diag(rng.normal(size=n - 1), 1)

    def fn(y, args):
        return jnp.asarray(matrix) @ y + 1.5

    sol = optx.root_find(fn, OneChordStep(linear_solver=BlockTridiagonalJacobian(1)), jnp.ones(n))
    np.testing.assert_allclose(np.asarray(sol.value), np.linalg.solve(matrix, -1.5 * np.ones(n)), rtol=1e-12)
    assert int(sol.stats["num_steps"]) == 1


def test_stiff_part_is_linear_with_a_tridiagonal_jacobian():
    """What `split_jacobian_block_size = 1` and `split_linear` promise the IMEX solvers."""
    nx = 9
    model = _cable(nx=nx, length_cm=1.0)
    stiff = jax.jit(lambda y: model.split_vector_field(0.0, y, 10.0)[1])
    y0 = model.initial_state()
    y1 = y0 + 0.1 * jax.random.normal(jax.random.PRNGKey(1), (4 * nx,))
    J0, J1 = (np.asarray(jax.jacfwd(stiff)(y)) for y in (y0, y1))
    np.testing.assert_array_equal(J0, J1)  # constant Jacobian
    np.testing.assert_allclose(np.asarray(stiff(y1)), J0 @ np.asarray(y1), rtol=1e-12, atol=1e-9)  # linear
    i, j = np.indices(J0.shape)
    assert np.all(J0[np.abs(i - j) > 1] == 0)
    assert np.all(J0[nx:] == 0)  # the gates are not stiff here


# -- propagation (two vmapped solves shared by several tests) --------------------------------


@pytest.fixture(scope="module")
def amplitude_sweep():
    """nx = 101 (Δx = 0.06 cm): a subthreshold (60) and a suprathreshold (300 µA/cm²) pulse."""
    model = _cable(nx=101, length_cm=6.0, temperature_C=18.5)
    out = _solve(model, _pulse(), t1=7.0, sweep="stimulus.amplitude", values=[60.0, 300.0])
    return model, out


@pytest.fixture(scope="module")
def diameter_sweep():
    """nx = 201 (Δx = 0.03 cm): diameters 238, 476, 952 µm in one solve."""
    model = _cable(nx=201, length_cm=6.0, temperature_C=18.5)
    out = _solve(model, _pulse(), t1=7.0, sweep="model.diameter_um", values=[238.0, 476.0, 952.0])
    return model, out


def test_subthreshold_stimulus_does_not_propagate(amplitude_sweep):
    model, out = amplitude_sweep
    x = np.asarray(model.grid())
    sub, supra = (
        reference_analysis.analyse(out.ts, x, out.ys[i], rest=float(out.ys[i, 0, 0]), threshold=0.0,
                               positions=(2.0, 4.0), site=3.0)
        for i in range(2)
    )
    assert not sub.reached_far_end and math.isnan(sub.velocity_m_per_s)
    assert np.all(out.ys[0][:, x > 1.0] < -60.0)  # a local, decaying depolarisation only
    assert supra.reached_far_end and supra.spike_times_ms and np.isfinite(supra.velocity_m_per_s)


def test_velocity_converged_in_nx_and_near_hh_1952(amplitude_sweep, diameter_sweep):
    coarse_model, coarse = amplitude_sweep
    fine_model, fine = diameter_sweep
    v_coarse = _velocity(coarse.ts, coarse_model, coarse.ys[1])  # nx 101, d 476 µm
    v_fine = _velocity(fine.ts, fine_model, fine.ys[1])  # nx 201, d 476 µm
    assert abs(v_coarse / v_fine - 1) < 0.01
    assert v_fine == pytest.approx(HH_1952_VELOCITY_M_PER_S, rel=0.03)


def test_velocity_grows_as_square_root_of_diameter(diameter_sweep):
    model, out = diameter_sweep
    velocities = [_velocity(out.ts, model, out.ys[i]) for i in range(3)]
    assert all(np.isfinite(velocities))
    exponent = cable_analysis.power_law_exponent([238.0, 476.0, 952.0], velocities)
    assert exponent == pytest.approx(0.5, abs=0.05)


# -- config and CLI ---------------------------------------------------------------------------


def _config(**overrides) -> dict:
    data = {
        "model": {"name": "hh_cable", "nx": 41, "length_cm": 4.0},
        "stimulus": {"kind": "pulse", "start": 0.5, "duration": 0.5, "amplitude": 300.0},
        "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.02},
        "solver": {"name": "kencarp5", "rtol": 1e-6, "atol": 1e-6, "dtmax": 0.05},
    }
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return data


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"solver.name": "tsit5"}, "solver.name"),
        ({"solver.name": "kvaerno5"}, "solver.name"),
        ({"initial_state": {"V": -60.0}}, "initial_state"),
        ({"model.stim_extent_cm": 5.0}, "model.stim_extent_cm"),
        ({"analysis": {"velocity_points": [0.7, 0.3]}}, "analysis.velocity_points"),
        ({"model.diameter_um": -1.0}, "model.diameter_um"),
        ({"sweep": {"parameter": "model.nx", "values": [1.0]}}, "sweep.parameter"),
    ],
)
def test_config_errors_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(SimulateConfig, _config(**overrides), "cable.yaml")
    assert [k for k, _ in err.value.problems] == [key]


def test_config_defaults_are_the_squid_axon():
    cfg = validate(SimulateConfig, {"model": {"name": "hh_cable"}, "time": {"t1": 8.0, "save_every": 0.01},
                                    "solver": {"name": "kencarp5"}}, "x")
    model = build_model(cfg.model)
    assert isinstance(model, HHCable)
    assert (float(model.diameter_um), float(model.R_i_ohm_cm), float(model.C_m)) == (476.0, 35.4, 1.0)
    assert float(model.temperature_C) == 18.5


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`neurocli simulate` on a 2-member diameter sweep, nx = 41, through the runner."""
    from neurocli.commands import simulate
    from neurocli.runner import launch

    root = tmp_path_factory.mktemp("cable")
    path = root / "cable.yaml"
    path.write_text(yaml.safe_dump(_config(sweep={"parameter": "model.diameter_um", "values": [300.0, 600.0]})))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROCLI_NO_COMPILATION_CACHE", "1")
        code = launch("simulate", simulate, path, [], root / "out", None, ["test"])
    assert code == 0
    (run,) = (root / "out" / "simulate").iterdir()
    return run


def test_simulate_cli_sweep_writes_run_contract(cli_run):
    run = cli_run
    sol = np.load(run / "solution.npz")
    assert sol["u"].shape == (2, sol["t"].size, 41) and sol["x"].shape == (41,)
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("conduction_velocity_m_per_s", "spike_count", "spike_times_ms", "peak_V_mV", "min_V_mV",
                "spike_half_width_ms", "reached_far_end", "num_steps", "num_rejected_steps", "compile_s",
                "run_s", "swept", "values", "velocity_power_law_exponent", "nx", "nt"):
        assert key in metrics, key
    assert metrics["reached_far_end"] == [True, True]
    v = metrics["conduction_velocity_m_per_s"]
    assert v[1] > v[0] > 0
    for name in ("heatmap", "voltage_traces", "snapshots", "velocity"):
        assert (run / "figures" / f"{name}.pdf").stat().st_size > 0


def test_imex_solution_matches_an_explicit_solver(cli_run):
    """On the coarse grid of the CLI run the axial current is not stiff, so Tsit5 (explicit, no
    implicit stages) independently checks the IMEX machinery: tridiagonal solve, one chord step,
    the stimulus inside the split."""
    sol = np.load(cli_run / "solution.npz")
    model = _cable(nx=41, length_cm=4.0)
    explicit = _solve(model, _pulse(), t1=5.0, save_every=0.02, solver="tsit5",
                      sweep="model.diameter_um", values=[300.0, 600.0])
    np.testing.assert_allclose(explicit.ts, sol["t"], atol=1e-12)
    assert float(sol["u"].max()) > 0  # the impulse is in the comparison
    np.testing.assert_allclose(sol["u"], explicit.ys, atol=0.05, rtol=0)
