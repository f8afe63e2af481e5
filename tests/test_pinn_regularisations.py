"""train-pinn with the regularisation families of H (issue 21): pde.heaviside, a swept ramp
offset, each member's reference solved with its own H_k."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import CONFIGS, invoke

from neurocli.config.base import load_config
from neurocli.config.common import SolverConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.models import ReactionDiffusion
from neurocli.models.heaviside import RampHeaviside, SigmoidHeaviside
from neurocli.models.profiles import ConstantProfile
from neurocli.numerics.solve import Problem, SolveSpec, run_solve
from neurocli.pinn.loss import _member
from neurocli.pinn.members import column, constants, members_of
from neurocli.pinn.reference import solve_reference
from neurocli.pinn.residual import reaction
from neurocli.pinn.setup import build_setup
from pinn_helpers import keep_global_jax_state, tiny_config  # noqa: F401 (autouse fixture)

NONUNIQUE = CONFIGS / "pinn_nonunique.yaml"
SMALL = ["reference.nx=63", "output.nt=11", "output.nx=32"]


def test_each_members_reference_is_the_exact_solution_of_its_regularisation():
    cfg, _ = load_config(TrainPinnConfig, NONUNIQUE, SMALL)
    ref = solve_reference(cfg)
    t = ref.t[:, None]
    exact = [0.3 * np.exp(-t), np.full_like(t, 0.3), 1 - 0.7 * np.exp(-t)]  # θ = 0, a, 1
    for u, e in zip(ref.u, exact):
        assert np.abs(u - e).max() < 1e-6
    members = members_of(cfg)
    assert members.names == ("pde.heaviside.offset",)
    assert column(cfg, constants(cfg, members), "pde.heaviside.offset").tolist() == [0.0, 0.3, 1.0]


def test_a_sigmoid_reference_is_simulates_solve_of_the_sigmoid():
    cfg, _ = load_config(TrainPinnConfig, NONUNIQUE, [*SMALL, "sweep=null", "pde.heaviside={kind: sigmoid}"])
    ref = solve_reference(cfg)
    with jax.enable_x64(True):
        model = ReactionDiffusion(a=jnp.asarray(0.3), k=jnp.asarray(5.0), initial=ConstantProfile(jnp.asarray(0.3)),
                                  heaviside=SigmoidHeaviside(), nx=63, boundary="neumann")
        out = run_solve(Problem(model), SolveSpec(SolverConfig(name="kvaerno5", rtol=1e-10, atol=1e-10), 0.0, 1.0,
                                                  ref.t))
    np.testing.assert_allclose(ref.u[0], np.asarray(out.ys)[:, ::2], rtol=0, atol=1e-7)
    assert ref.u[0, -1].min() > 0.5  # H_k(0) = 1/2 > a: up (0.52 at T = 1 for k = 5)


def test_the_residual_takes_each_members_offset():
    cfg, _ = load_config(TrainPinnConfig, NONUNIQUE, SMALL)
    setup = build_setup(cfg)
    pde = jnp.asarray(constants(cfg, members_of(cfg)), setup.dtype)
    u = jnp.asarray([0.3, 0.35], setup.dtype)
    for m, want in enumerate(([0.0, 0.25], [0.3, 0.55], [1.0, 1.0])):
        model, _, _ = _member(setup.numerics, None, None, pde[m])
        assert isinstance(model.heaviside, RampHeaviside)
        np.testing.assert_allclose(np.asarray(reaction(model, u)), want, rtol=1e-6)
    sigmoid = build_setup(tiny_config(pde={"heaviside": {"kind": "sigmoid"}}))
    member = jnp.asarray(constants(sigmoid.cfg, members_of(sigmoid.cfg)), sigmoid.dtype)[0]
    model, _, _ = _member(sigmoid.numerics, None, None, member)
    assert isinstance(model.heaviside, SigmoidHeaviside)
    np.testing.assert_allclose(np.asarray(reaction(model, jnp.asarray([0.1]))), 0.5, rtol=1e-6)  # a = 0.1


def test_pinn_nonunique_trains_every_member_end_to_end(tmp_path):
    phases = "phases=[{optimizer: adam, iterations: 30, lr: 1.0e-2}]"
    args = [a for o in [*SMALL, phases, "collocation.batch=128"] for a in ("--set", o)]
    result, run = invoke("train-pinn", "--config", NONUNIQUE, *args, "--output-root", tmp_path)
    assert result.exit_code == 0, result.output
    rows = np.genfromtxt(run / "members.csv", delimiter=",", names=True)
    assert rows.dtype.names[0] == "pdeheavisideoffset" and rows["rel_l2"].shape == (3,)
    assert np.isfinite(rows["rel_l2"]).all()


@pytest.mark.parametrize("overrides, key, words", [
    (["pde.heaviside={kind: sigmoid}"], "sweep.parameter", "no offset"),
    (["sweep.values=[0.0, 1.5]"], "sweep.values[1]", "[0, 1]"),
    (["pde.heaviside={kind: ramp, offset: 0.5}"], "pde.heaviside.offset", "is not used"),
    (["pde.heaviside={kind: ramp, offset: -0.5}", "sweep=null"], "pde.heaviside.offset", "greater than or equal"),
])
def test_bad_pinn_regularisation_exits_2(tmp_path, overrides, key, words):
    args = [a for o in overrides for a in ("--set", o)]
    result, _ = invoke("train-pinn", "--config", NONUNIQUE, *args, "--output-root", tmp_path)
    assert result.exit_code == 2, result.output
    assert f": {key}:" in result.output and words in result.output, result.output


def test_the_exact_solutions_have_zero_inclusion_residual():
    from neurocli.pinn.residual import inclusion_target

    model = ReactionDiffusion(a=jnp.asarray(0.3))
    t = jnp.linspace(0.0, 1.0, 101)
    band = 0.01
    for u, L in ((0.3 * jnp.exp(-t), 0.0 * t), (0.3 + 0.0 * t, 0.3 + 0.0 * t), (1 - 0.7 * jnp.exp(-t), 1.0 + 0.0 * t)):
        # L[u] = u_t − u_xx + u: down 0, stay a, up 1; each lies in H(u − a)
        np.testing.assert_allclose(np.asarray(L - inclusion_target(model, u, L, band)), 0.0, atol=1e-12)
    u = jnp.asarray([0.2, 0.295, 0.305, 0.5, 0.3])
    L = jnp.asarray([0.4, 1.5, -0.2, 0.5, 0.7])
    # below a − δ: H = {0}; within the band: [0, 1] (distance to it); above a + δ: {1}
    np.testing.assert_allclose(np.asarray(L - inclusion_target(model, u, L, band)), [0.4, 0.5, -0.2, -0.5, 0.0])


def test_inclusion_pinn_clusters_its_members(tmp_path):
    phases = "phases=[{optimizer: adam, iterations: 30, lr: 1.0e-2}]"
    overrides = [*SMALL, phases, "collocation.batch=128", "pde.residual=inclusion", "pde.band=0.02",
                 "sweep.values=[0.0, 1.0]"]
    args = [a for o in overrides for a in ("--set", o)]
    result, run = invoke("train-pinn", "--config", NONUNIQUE, *args, "--output-root", tmp_path)
    assert result.exit_code == 0, result.output
    lines = (run / "members.csv").read_text().splitlines()
    assert lines[0].endswith(",solution") and all(line.split(",")[-1] in ("0", "1") for line in lines[1:])
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    sol = metrics["solutions"]
    assert sol["reference_count"] == 2 and sol["reference_member_solution"] == [0, 1]  # down and up
    assert [int(line.split(",")[-1]) for line in lines[1:]] == sol["member_solution"]
    assert "inclusion" in metrics["reference_note"] and (run / "figures" / "solutions.pdf").exists()


@pytest.mark.parametrize("overrides, key", [
    (["pde.band=0.05"], "pde.band"),
    (["pde.residual=inclusion", "pde.band=0"], "pde.band"),
    (["analysis={solutions: false, solution_threshold: 0.1}"], "analysis.solution_threshold"),
    (["pde.residual=exact"], "pde.residual"),
])
def test_bad_inclusion_settings_exit_2(tmp_path, overrides, key):
    args = [a for o in overrides for a in ("--set", o)]
    result, _ = invoke("train-pinn", "--config", NONUNIQUE, *args, "--output-root", tmp_path)
    assert result.exit_code == 2 and f": {key}:" in result.output, result.output
