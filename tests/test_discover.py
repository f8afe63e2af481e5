"""`neurocli discover`: the library and the regression on exact currents (the truth must come back),
the refit through the ODE, the equation's numbers, the command end to end and its refusals."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, invoke
from neurocli.config.base import validate
from neurocli.config.discover import DiscoverConfig
from neurocli.discover import equation, regression
from neurocli.discover.library import LibraryError, build_library
from neurocli.discover.pipeline import chosen_library
from neurocli.discover.refit import RecoveredCurrent, refit
from neurocli.discover.samples import features
from neurocli.models import gating
from neurocli.models.hh_reduced import ReducedHodgkinHuxley

SMOKE = ROOT / "configs" / "ude_smoke.yaml"
TRUTH = ReducedHodgkinHuxley()  # the squid-axon parameters: g_Na = 120, E_Na = 50, g_K = 36, E_K = −77


def library_for(inputs, centre, scale, **changes):
    cfg = validate(DiscoverConfig, {"run": "x", "library": changes}, "test").library
    return build_library(cfg, inputs, centre, scale)


def select(lib, x, y, **changes):
    reg = validate(DiscoverConfig, {"run": "x", "regression": changes}, "test").regression
    return regression.select(features(lib, x), y, lib.groups(), folds=reg.folds, thresholds=reg.thresholds,
                             ridge=reg.ridge, complexity_tolerance=reg.complexity_tolerance,
                             max_iterations=reg.max_iterations, seed=0, max_terms=reg.max_terms)


def conductance(lib, sel):
    chosen = chosen_library(lib, sel.chosen.groups)
    return equation.describe(chosen, sel.coefficients[list(sel.chosen.columns)], sel.covariance, "sodium")


def test_the_true_sodium_current_gives_back_m3h_with_g_na_and_e_na():
    """The exact reduced-HH sodium current over the visited voltages, through the default library
    (m, h, n; powers to 4; pairs; cubic polynomials): the form m∞³h∞ alone, g and E exact."""
    V = np.linspace(-65.0, -25.0, 401)
    lib = library_for(("V",), [-45.0], [20.0])
    assert lib.columns == 2 * (3 * 4 + 3 * 16) + 4
    y = np.asarray(TRUTH.i_na_inf(jnp.asarray(V)))
    sel = select(lib, V[:, None], y)
    eq = conductance(lib, sel)
    assert eq["form_key"] == "m3h1" and len(eq["conductances"]) == 1
    c = eq["conductances"][0]
    assert c["gates"] == {"m": 3, "h": 1} and c["gate_sources"] == {"m": "steady_state", "h": "steady_state"}
    assert c["g"] == pytest.approx(float(TRUTH.g_Na), rel=1e-8)
    assert c["E"] == pytest.approx(float(TRUTH.E_Na), abs=1e-6)
    assert sel.chosen.cv_rmse < 1e-3  # µA/cm², of a current of RMS 52: the ridge alone


def test_the_true_potassium_current_of_the_state_n_gives_back_n4():
    """A network of (V, n): the gate n is the state itself, not n∞(V). n off its steady state (as
    along a trajectory) must select n⁴ with g_K and E_K."""
    rng = np.random.default_rng(0)
    V = rng.uniform(-75.0, -20.0, 400)
    n = np.clip(np.asarray(gating.n_inf(V)) + rng.uniform(-0.1, 0.1, V.size), 0.05, 0.9)
    x = np.column_stack([V, n])
    lib = library_for(("V", "n"), [-47.5, 0.5], [27.5, 0.4])
    y = np.asarray(TRUTH.i_k(jnp.asarray(V), jnp.asarray(n)))
    eq = conductance(lib, select(lib, x, y))
    assert eq["form_key"] == "n4s"
    c = eq["conductances"][0]
    assert c["gate_sources"] == {"n": "state"}
    assert c["g"] == pytest.approx(float(TRUTH.g_K), rel=1e-8)
    assert c["E"] == pytest.approx(float(TRUTH.E_K), abs=1e-6)


def test_noise_on_the_current_keeps_the_form_and_g_within_a_percent():
    V = np.linspace(-65.0, -25.0, 401)
    lib = library_for(("V",), [-45.0], [20.0])
    y = np.asarray(TRUTH.i_na_inf(jnp.asarray(V))) + 0.5 * np.random.default_rng(1).standard_normal(V.size)
    c = conductance(lib, select(lib, V[:, None], y))["conductances"][0]
    assert c["key"] == "m3h1"
    assert c["g"] == pytest.approx(120.0, rel=0.02) and c["E"] == pytest.approx(50.0, abs=1.0)


def test_equation_numbers_and_text():
    lib = library_for(("V",), [-45.0], [20.0], gates=["m", "h"], max_power=3, polynomial_degree=None)
    chosen = chosen_library(lib, (next(i for i, t in enumerate(lib.terms) if t.key == "m3h1"),))
    cov = np.array([[4.0, -100.0], [-100.0, 2600.0]])
    eq = equation.describe(chosen, np.array([120.0, -6000.0]), cov, "sodium")
    c = eq["conductances"][0]
    assert c["g"] == 120.0 and c["E"] == 50.0 and c["g_standard_error"] == 2.0
    grad = np.array([-6000.0 / 120.0**2, -1.0 / 120.0])  # ∂E/∂(c1, c2), E = −c2/c1
    assert c["E_standard_error"] == pytest.approx(np.sqrt(grad @ cov @ grad), rel=1e-12)
    assert eq["equation"] == "I_Na = 120 · m∞(V)³·h∞(V) · (V − 50)"
    assert eq["latex"] == "I_{\\mathrm{Na}} = 120\\, m_\\infty(V)^{3} h_\\infty(V)\\, (V - 50)"
    assert [t["expression"] for t in eq["terms"]] == ["m∞(V)³·h∞(V)·V", "m∞(V)³·h∞(V)"]


def test_a_library_needs_v_for_conductances_and_some_term():
    with pytest.raises(LibraryError, match="need V"):
        library_for(("n",), [0.5], [0.4])
    assert library_for(("n",), [0.5], [0.4], gates=[], polynomial_degree=2).columns == 3
    with pytest.raises(Exception, match="library is empty"):
        library_for(("V",), [0.0], [1.0], gates=[], polynomial_degree=None)


@pytest.mark.slow
def test_the_refit_through_the_ode_recovers_g_and_e_from_wrong_start():
    """The smoke config's data (the true model), the m∞³h∞ current started 8 % and 5 mV off: the
    Levenberg–Marquardt refit through the solve (data and fit at tolerance 1e-10) gives back the model's g_Na and E_Na."""
    from ude_helpers import build, smoke_config

    tight = {"rtol": 1e-10, "atol": 1e-10}
    loss, _, _ = build(smoke_config(**{"data.solver": tight, "solve.solver": {**tight, "max_steps": 4096}}))
    lib = library_for(("V",), [-45.0], [20.0], gates=["m", "h"], max_power=3, polynomial_degree=None)
    chosen = chosen_library(lib, (next(i for i, t in enumerate(lib.terms) if t.key == "m3h1"),))
    start = RecoveredCurrent(chosen, [110.0, -110.0 * 45.0])
    out = refit(loss, start, iterations=40, tolerance=1e-12, damping=1e-3)
    g, c2 = out.current.coefficients
    assert out.loss_before > 10.0 and out.loss < 1e-10
    assert g == pytest.approx(float(TRUTH.g_Na), rel=1e-6)
    assert -c2 / g == pytest.approx(float(TRUTH.E_Na), abs=1e-4)
    assert np.sqrt(out.covariance[0, 0]) < 1e-3  # the data pin g down


# -- the command ----------------------------------------------------------------------------------


def fabricated_run(root, network_fit: bool, members: int | None = None, ude: dict | None = None) -> "Path":
    """A completed train-ude run of the smoke config without training: its config.yaml, run.json
    and a best.eqx holding a network of V (fitted to the true sodium current over the smoke
    record's voltages by Levenberg–Marquardt when `network_fit`, else as initialised)."""
    import equinox as eqx
    import yaml

    from neurocli.config.ude import TrainUDEConfig
    from neurocli.run_dir import RunDirectory
    from neurocli.training import checkpoint, engine
    from neurocli.training.levenberg_marquardt import LevenbergMarquardt
    from neurocli.ude.objective import split_network
    from neurocli.ude.setup import build_network, network_shape

    raw = yaml.safe_load(SMOKE.read_text())
    if ude is not None:
        raw["ude"] = ude
    if members is not None:  # a sweep over network seeds: every member holds the same network
        raw["sweep"] = {"parameter": "runtime.seed", "values": list(range(members))}
    cfg = validate(TrainUDEConfig, raw, str(SMOKE))
    k = len(cfg.network_inputs)
    desc = {**network_shape(cfg), "centre": [-45.0] * k, "scale": [22.0] * k, "output_scale": 100.0,
            "final_layer_scale": 0.1}
    net = build_network(desc, 0)
    if network_fit:
        V = jnp.linspace(-67.0, -23.0, 200)
        target = TRUTH.i_na_inf(V)
        params, static = split_network(net)
        lm = LevenbergMarquardt(1e-3)

        @eqx.filter_jit
        def step(p, state):
            return lm.iterate(lambda q: jax.vmap(eqx.combine(q, static))(V[:, None]) - target, p, state)

        state = lm.init(params)
        for _ in range(300):
            params, state, _, _ = step(params, state)
        net = eqx.combine(params, static)
    header = {"format": engine.FORMAT, "command": "train-ude", "network_shape": network_shape(cfg), "network": desc}
    if members is not None:
        from neurocli.ude.sweep import stack

        params, static = split_network(net)
        net = eqx.combine(stack([params] * members), static)
        header["members"] = members
    run = RunDirectory.create(root, "train-ude", "ude_smoke", ["neurocli", "train-ude"], 0)
    run.write_text("config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    run.write_bytes(engine.BEST, checkpoint.encode(header, net))
    run.mark("completed")
    return run.path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return fabricated_run(tmp_path_factory.mktemp("ude"), network_fit=True)


@pytest.mark.slow
def test_discover_of_a_network_fitted_to_the_true_current(trained, tmp_path):
    """End to end on a network fitted to the true sodium current: the command's files, and the
    form m∞³h∞ with g_Na and E_Na (refit off here: it is tested above; the SSEs are the regression's)."""
    result, run_dir = invoke("discover", trained, "--output-root", tmp_path, "--set", "refit.enabled=false")
    assert result.exit_code == 0, result.output
    assert run_dir.parent == tmp_path / "discover" and run_dir.name.endswith("_ude_smoke")
    for name in ("config.yaml", "run.json", "metrics.json", "equation.json", "equation.txt", "candidates.csv",
                 "current.csv", "validation.csv", "figures/current.pdf", "figures/validation.pdf"):
        assert (run_dir / name).is_file(), name
    info = json.loads((run_dir / "run.json").read_text())
    assert info["command"] == "discover" and info["status"] == "completed"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("form", "equation", "equation_latex", "fit_sse", "fit_sse_network", "validation_sse",
                "validation_sse_network", "cv_rmse", "source_run"):
        assert key in metrics, key
    assert metrics["source_run"] == str(trained.resolve()) and metrics["refit_iterations"] == 0
    assert metrics["form_key"] == "m3h1"
    assert metrics["g"] == pytest.approx(float(TRUTH.g_Na), rel=2e-3)
    assert metrics["E"] == pytest.approx(float(TRUTH.E_Na), abs=0.2)
    assert metrics["validation_sse"] < 1e-2
    eq = json.loads((run_dir / "equation.json").read_text())
    assert all({"expression", "coefficient", "standard_error"} <= set(t) for t in eq["terms"])
    assert eq["conductances"][0]["gates"] == {"m": 3, "h": 1}
    assert "I_Na = " in (run_dir / "equation.txt").read_text()
    config = (run_dir / "config.yaml").read_text()
    assert f"run: {trained.resolve()}" in config


@pytest.mark.slow
def test_a_sweep_is_discovered_member_by_member(tmp_path):
    source = fabricated_run(tmp_path / "ude", network_fit=True, members=2)
    result, run_dir = invoke("discover", source, "--output-root", tmp_path, "--set", "refit.enabled=false")
    assert result.exit_code == 0, result.output
    rows = (run_dir / "members.csv").read_text().splitlines()
    assert rows[0].startswith("runtime.seed,form_key,g,E") and len(rows) == 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["form_counts"] == {"m∞(V)³·h∞(V)": 2} and metrics["form_fraction"] == 1.0
    assert metrics["g_median"] == pytest.approx(float(TRUTH.g_Na), rel=2e-3)
    assert [m["runtime.seed"] for m in metrics["members"]] == [0, 1]
    assert (run_dir / "figures" / "forms.pdf").is_file()
    assert len(json.loads((run_dir / "equation.json").read_text())["members"]) == 2


def _no_discover_dir(root):
    return not (root / "discover").exists()


def test_bad_runs_are_refused_before_anything_is_written(trained, tmp_path):
    out = tmp_path / "out"
    cases = {}
    cases["missing"] = tmp_path / "nowhere"
    empty = tmp_path / "empty"
    empty.mkdir()
    cases["no run.json"] = empty
    other = tmp_path / "simulate_run"
    shutil.copytree(trained, other)
    info = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**info, "command": "simulate"}))
    cases["simulate"] = other
    failed = tmp_path / "failed_run"
    shutil.copytree(trained, failed)
    (failed / "run.json").write_text(json.dumps({**info, "status": "failed"}))
    cases["failed"] = failed
    nockpt = tmp_path / "no_checkpoint"
    shutil.copytree(trained, nockpt)
    (nockpt / "checkpoints" / "best.eqx").unlink()
    cases["best.eqx"] = nockpt
    cut = tmp_path / "cut_checkpoint"
    shutil.copytree(trained, cut)
    data = (cut / "checkpoints" / "best.eqx").read_bytes()
    (cut / "checkpoints" / "best.eqx").write_bytes(data[:-10])
    cases["truncated"] = cut
    for why, path in cases.items():
        result, _ = invoke("discover", path, "--output-root", out, "--name", "x")
        assert result.exit_code == 2, (why, result.output)
        assert f"run {path.resolve()}" in result.output and "Traceback" not in result.output, (why, result.output)
        assert {"missing": "is not a directory"}.get(why, why) in result.output, (why, result.output)
    assert _no_discover_dir(out)


def test_a_network_without_v_has_no_conductance_library(tmp_path):
    source = fabricated_run(tmp_path / "ude", network_fit=False,
                            ude={"replaced": "potassium", "network": {"inputs": ["n"], "width": 6, "depth": 1}})
    result, _ = invoke("discover", source, "--output-root", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"run {source.resolve()}" in result.output and "no library for its network of n" in result.output
    assert _no_discover_dir(tmp_path / "out")  # (polynomials in n alone: test_a_library_needs_v_...)


def test_bad_discover_config_names_the_key(trained, tmp_path):
    result, _ = invoke("discover", trained, "--output-root", tmp_path, "--set", "library.gates=[m, q]")
    assert result.exit_code == 2 and "library.gates" in result.output
    result, _ = invoke("discover", trained, "--output-root", tmp_path, "--set", "library.gates=[]",
                       "--set", "library.polynomial_degree=null")
    assert result.exit_code == 2 and "library is empty" in result.output
    result, _ = invoke("discover", trained, "--output-root", tmp_path, "--set", "refit.enabled=false",
                       "--set", "refit.iterations=3")
    assert result.exit_code == 2 and "refit.iterations" in result.output
    assert _no_discover_dir(tmp_path)
