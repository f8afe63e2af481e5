"""The regularisation families of H and the initial profiles that touch the threshold (issue 21).

With u0 ≡ a and zero-flux ends the solution stays flat in x and the exact answers are known:
H_k(0) = 0 (ramp offset 0) sends u down as a e^{−t}, H_k(0) = 1 (offset 1) up as 1 − (1 − a) e^{−t},
H_k(0) = a (offset a) keeps u at a.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from neurocli.config.common import SolverConfig
from neurocli.models import ReactionDiffusion
from neurocli.models.heaviside import RampHeaviside, SigmoidHeaviside
from neurocli.models.profiles import ConstantProfile, PlateauProfile, SechProfile
from neurocli.models.reaction_diffusion import heaviside_k
from neurocli.numerics.solve import Problem, SolveSpec, run_solve

A = 0.3


def solve(model, t1=1.0, nt=11, solver="kvaerno5"):
    ts = np.linspace(0.0, t1, nt)
    out = run_solve(Problem(model), SolveSpec(SolverConfig(name=solver, rtol=1e-10, atol=1e-10), 0.0, t1, ts))
    return ts, np.asarray(model.full_field(jnp.asarray(out.ys)))


def flat(offset, k, heaviside=None):
    return ReactionDiffusion(
        a=jnp.asarray(A), k=jnp.asarray(k), initial=ConstantProfile(jnp.asarray(A)),
        heaviside=RampHeaviside(jnp.asarray(offset)) if heaviside is None else heaviside, nx=21, boundary="neumann",
    )


@pytest.mark.parametrize("k", [5.0, 50.0, 5000.0])
def test_offset_0_goes_down_offset_1_goes_up_exactly(k):
    ts, down = solve(flat(0.0, k))
    _, up = solve(flat(1.0, k))
    exact_down = A * np.exp(-ts)[:, None]
    exact_up = 1.0 - (1.0 - A) * np.exp(-ts)[:, None]
    assert np.abs(down - exact_down).max() < 1e-6
    assert np.abs(up - exact_up).max() < 1e-6
    assert abs(down[-1].mean() - A * np.exp(-1.0)) < 1e-6 and abs(up[-1].mean() - (1 - 0.7 * np.exp(-1.0))) < 1e-6


@pytest.mark.parametrize("k", [5.0, 5000.0])
def test_offset_a_stays_at_a(k):
    # u_t = −a + H_k(0) = −a + a: exactly 0 in floating point when offset and a are the same double
    _, u = solve(flat(A, k))
    assert np.abs(u - A).max() < 1e-12


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_offset_near_a_departs_at_rate_k_minus_1(sign):
    # offset a + δ: s = u − a obeys s' = (k − 1) s + δ while k|s| < a, so s(t) = δ (e^{(k−1)t} − 1)/(k − 1).
    # Staying at a is unstable: round-off (an ulp of 0.3 is 5.6e-17; a swept offset 0.1 · 3 is
    # 0.30000000000000004) seeds the same growth, invisible at k = 5, fatal for large k.
    delta = sign * 1e-9
    ts, u = solve(flat(A + delta, 5.0))
    expected = delta * np.expm1(4.0 * ts) / 4.0
    np.testing.assert_allclose(u[:, 0] - A, expected, rtol=1e-2, atol=1e-12)  # atol: the solve's 1e-10
    _, u = solve(flat(A + delta, 100.0))
    # s reaches the ramp's end after τ ≈ ln((1 − a)(k − 1)/(k δ))/(k − 1) ≈ 0.2, then u follows
    # 1 − (1 − a) e^{−(t − τ)} (up) or a e^{−(t − τ)} (down): 0.69 and 0.13 at t = 1 (0.74, 0.11 with τ = 0)
    assert (u[-1].min() > 0.65) if sign > 0 else (u[-1].max() < 0.15)


class _Legacy(eqx.Module):
    def __call__(self, s, k):
        return heaviside_k(s, k)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_default_ramp_keeps_the_papers_numbers_bit_for_bit(boundary):
    base = dict(a=jnp.asarray(0.2), k=jnp.asarray(5.0), initial=SechProfile(jnp.asarray(2.0), jnp.asarray(np.pi / 2),
                jnp.asarray(0.1)), nx=41, boundary=boundary)
    _, new = solve(ReactionDiffusion(**base, heaviside=RampHeaviside(jnp.asarray(0.0))))
    _, old = solve(ReactionDiffusion(**base, heaviside=_Legacy()))
    assert np.array_equal(new, old)
    assert isinstance(ReactionDiffusion().heaviside, RampHeaviside) and ReactionDiffusion().heaviside.offset == 0.0


def test_heaviside_families():
    s = jnp.asarray([-1.0, -0.1, 0.0, 0.05, 0.2])
    np.testing.assert_allclose(np.asarray(RampHeaviside(0.5)(s, 5.0)), [0.0, 0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(np.asarray(RampHeaviside(1.0)(s, 5.0)), [0.0, 0.5, 1.0, 1.0, 1.0])
    sig = np.asarray(SigmoidHeaviside()(s, 5.0))
    np.testing.assert_allclose(sig, 1.0 / (1.0 + np.exp(-5.0 * np.asarray(s))), rtol=1e-14)
    big = np.asarray(SigmoidHeaviside()(jnp.asarray([-1.0, 1.0]), 1e6))  # no overflow
    assert np.array_equal(big, [0.0, 1.0])


def test_profiles():
    x = jnp.linspace(0.0, 3.0, 301)
    np.testing.assert_array_equal(np.asarray(ConstantProfile(0.3)(x)), np.full(301, 0.3))
    p = np.asarray(PlateauProfile(0.3, 1.0, 2.0, 0.2)(x))
    xs = np.asarray(x)
    inside, outside = (xs >= 1.0) & (xs <= 2.0), (xs <= 0.8) | (xs >= 2.2)
    np.testing.assert_allclose(p[inside], 0.3, rtol=1e-15)
    assert np.all(p[outside] == 0.0) and np.all((p >= 0) & (p <= 0.3))
    assert np.all(np.diff(p[xs <= 1.5]) >= 0) and np.all(np.diff(p[xs >= 1.5]) <= 0)
    np.testing.assert_allclose(PlateauProfile(0.3, 1.0, 2.0, 0.2)(jnp.asarray(0.9)), 0.15, rtol=1e-14)  # mid-edge


RD = {"model": {"name": "reaction_diffusion", "boundary": "neumann", "nx": 21},
      "time": {"t0": 0.0, "t1": 1.0, "save_every": 0.1}, "solver": {"name": "kvaerno5"}}
BAD = [
    ({"heaviside": {"kind": "ramp", "offset": 1.5}}, None, "model.heaviside.offset"),
    ({"heaviside": {"kind": "step"}}, None, "model.heaviside"),
    ({"heaviside": {"kind": "sigmoid", "offset": 0.5}}, None, "model.heaviside.offset"),
    ({"initial": {"kind": "constant"}}, None, "model.initial.value"),
    ({"initial": {"kind": "plateau", "value": 0.3, "start": 2.0, "stop": 1.0}}, None, "model.initial.stop"),
    ({"initial": {"kind": "plateau", "value": 0.3, "start": 1.0, "stop": 9.0}}, None, "model.initial.stop"),
    ({"initial": {"kind": "plateau", "value": 0.3, "start": 1.0, "stop": 2.0, "edge_width": 0}}, None,
     "model.initial.edge_width"),
    ({}, {"parameter": "model.heaviside.offset", "values": [0.0, -0.5]}, "sweep.values[1]"),
    ({}, {"parameters": [{"parameter": "model.heaviside.offset", "linspace": {"start": 0, "stop": 2, "num": 3}}]},
     "sweep.parameters[0].linspace"),
    ({"heaviside": {"kind": "sigmoid"}}, {"parameter": "model.heaviside.offset", "values": [0.5]}, "sweep.parameter"),
]


@pytest.mark.parametrize("model, sweep, key", BAD, ids=[k for _, _, k in BAD])
def test_bad_regularisation_or_profile_exits_2_naming_the_key(tmp_path, model, sweep, key):
    import yaml
    from typer.testing import CliRunner

    from neurocli.cli import app

    cfg = {**RD, "model": {**RD["model"], **model}, **({"sweep": sweep} if sweep else {})}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"{path}: {key}:" in result.output
    assert not (tmp_path / "out").exists()


def test_nested_paths_are_sweepable_and_reach_the_model():
    from neurocli.config.simulate import SimulateConfig
    from neurocli.models import build_model
    from neurocli.numerics.solve import set_fields

    cfg = SimulateConfig.model_validate({**RD, "model": {**RD["model"], "initial": {"kind": "constant", "value": 0.3}},
                                         "sweep": {"parameters": [
                                             {"parameter": "model.heaviside.offset", "values": [0.0, 1.0]},
                                             {"parameter": "model.initial.value", "values": [0.25]}]}})
    problem = set_fields(Problem(build_model(cfg.model)), cfg.sweep.names, cfg.sweep.table()[1])
    assert float(problem.model.heaviside.offset) == 1.0 and float(problem.model.initial.value) == 0.25


def test_a_nested_path_is_labelled_in_words():
    from neurocli.plotting.style import parameter_label

    assert parameter_label("model.heaviside.offset") == "model heaviside offset"
