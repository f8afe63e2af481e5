"""analysis.k_convergence: ‖u_k − u_{k_max}‖ / ‖u_{k_max}‖ against k and its fitted rate (issue 21)."""

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from neurocli.analysis.k_limit import convergence, groups, power_law
from neurocli.cli import app
from neurocli.config.base import load_config
from neurocli.config.simulate import SimulateConfig
from neurocli.models import build_model
from neurocli.numerics.solve import Problem, SolveSpec, run_solve, set_fields

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "rd_k_limit.yaml"
SMALL = ["--set", "model.nx=21", "--set", "time.save_every=0.1", "--set", "sweep.parameters[1].logspace.num=4",
         "--set", "sweep.parameters[0].values=[0.0, 1.0]"]


def test_power_law_fit_and_groups():
    k = np.geomspace(5, 5000, 13)
    p, c, used = power_law(k, 3.0 * k ** -1.5)
    assert used == 9 and p == pytest.approx(1.5, rel=1e-12) and c == pytest.approx(3.0, rel=1e-12)
    assert np.isnan(power_law(k[:3], k[:3] ** -1.0)[0])  # one point below k_max / 10: no fit
    table = np.array([[0.0, 5.0], [0.0, 50.0], [1.0, 5.0], [1.0, 50.0]])
    assert [g.tolist() for g in groups(["model.heaviside.offset", "model.k"], table)] == [[0, 1], [2, 3]]
    fields = np.stack([np.full((2, 2), v) for v in (1.0, 2.0, 3.0, 3.0)])
    curves = convergence(fields, ["model.heaviside.offset", "model.k"], table)
    assert curves[0]["distance"] == [0.5, 0.0] and curves[1]["distance"] == [0.0, 0.0]
    assert curves[1]["fixed"] == {"model.heaviside.offset": 1.0}


@pytest.mark.slow
def test_rd_k_limit_distances_match_independent_solves(tmp_path):
    result = CliRunner().invoke(app, ["simulate", "--config", str(CONFIG), *SMALL, "--output-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    conv = json.loads((run / "metrics.json").read_text())["k_convergence"]
    assert [c["fixed"] for c in conv["curves"]] == [{"model.heaviside.offset": 0.0}, {"model.heaviside.offset": 1.0}]
    assert (run / "figures" / "k_convergence.pdf").stat().st_size > 0
    # the distance of k = 5 to k = 5000 at θ = 1, from two solves of the model outside the sweep
    cfg, _ = load_config(SimulateConfig, CONFIG, SMALL[1::2])
    base = Problem(build_model(cfg.model))
    spec = SolveSpec(cfg.solver, cfg.time.t0, cfg.time.t1, cfg.time.grid)
    names = ["model.heaviside.offset", "model.k"]
    u = [np.asarray(base.model.full_field(jnp.asarray(run_solve(set_fields(base, names, row), spec).ys)))
         for row in ([1.0, 5.0], [1.0, 5000.0])]
    expected = np.linalg.norm(u[0] - u[1]) / np.linalg.norm(u[1])
    curve = conv["curves"][1]
    assert curve["k"][0] == 5.0 and curve["k"][-1] == 5000.0 and curve["distance"][-1] == 0.0
    np.testing.assert_allclose(curve["distance"][0], expected, rtol=1e-6)
    for c in conv["curves"]:
        assert np.all(np.diff(c["distance"]) < 0) and c["rate"] > 0  # closer to the limit as k grows


@pytest.mark.parametrize("extra, message", [
    (["--set", "sweep={parameter: model.heaviside.offset, values: [0.0, 1.0]}"], "sweep model.k"),
    (["--set", "sweep.parameters[1].logspace.num=2"], "at least 3 values"),
    (["--set", "sweep.combine=zip", "--set", "sweep.parameters[0].values=[0.0, 0.5, 1.0]",
      "--set", "sweep.parameters[1]={parameter: model.k, values: [5.0, 50.0, 500.0]}"],
     "grid sweep"),
])
def test_bad_k_convergence_settings_exit_2(tmp_path, extra, message):
    result = CliRunner().invoke(app, ["simulate", "--config", str(CONFIG), *extra, "--output-root", str(tmp_path / "o")])
    assert result.exit_code == 2 and "analysis.k_convergence:" in result.output and message in result.output
