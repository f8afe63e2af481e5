"""Start-up: the CLI module imports neither JAX nor matplotlib, `--help` runs without JAX, and
`--version` names the versions, the backend and the devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from neurocli import __version__
from neurocli.cli import app

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("jax", "matplotlib", "optax", "scipy", "diffrax", "equinox", "rich")


def _modules_after(code: str) -> list[str]:
    # reported at exit: `neurocli.cli.main` ends the process with os._exit after the atexit handlers
    script = (f"import atexit, json, sys\natexit.register(lambda: print(json.dumps([m for m in {HEAVY!r} "
              f"if m in sys.modules])))\n" + code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library():
    assert _modules_after("import neurocli.cli") == []


def test_help_runs_without_jax():
    code = ("import sys\nfrom neurocli.cli import main\nsys.argv = ['neurocli', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    assert set(_modules_after(code)) <= {"rich"}  # typer draws its help with rich


def test_plotting_modules_import_matplotlib_only_when_drawing():
    """Every plotting module and every command: a run whose figures the figure worker draws never
    imports matplotlib (~0.1-0.2 s of its start-up)."""
    plotting = sorted(p.stem for p in (ROOT / "neurocli" / "plotting").glob("*.py") if p.stem != "__init__")
    commands = sorted(p.stem for p in (ROOT / "neurocli" / "commands").glob("*.py") if p.stem != "__init__")
    assert "sweeps" in plotting and "train_pinn" in commands
    modules = [f"neurocli.plotting.{m}" for m in plotting] + [f"neurocli.commands.{m}" for m in commands]
    assert "matplotlib" not in _modules_after("import " + ", ".join(modules))


def test_version_names_package_jax_backend_and_devices():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"neurocli {__version__}"
    import jax

    assert f"jax {jax.__version__}" in lines[1] and "diffrax" in lines[1] and "equinox" in lines[1]
    assert lines[2].startswith(f"backend {jax.default_backend()}: ") and str(jax.devices()[0]) in lines[2]


def test_stimulus_trace_for_figures_is_the_solve_formula_in_numpy():
    """The figure's I_ext(t) comes from `trace` (NumPy, no compile): the same values as the JAX
    formula the solve uses, for every stimulus kind."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from neurocli.models.stimulus import NoStimulus, PulseStimulus, PulseTrainStimulus, StepStimulus

    t = np.linspace(0.0, 100.0, 10001)
    stimuli = [NoStimulus(), PulseStimulus(jnp.asarray(10.0), jnp.asarray(1.0), jnp.asarray(20.0)),
               StepStimulus(5.0, 3.0), PulseTrainStimulus(jnp.asarray(10.0), jnp.asarray(7.0), jnp.asarray(1.0),
                                                           jnp.asarray(20.0), 5)]
    for stimulus in stimuli:
        expected = np.asarray(jax.jit(jax.vmap(stimulus))(jnp.asarray(t)))
        got = stimulus.trace(t)
        assert isinstance(got, np.ndarray) and got.shape == t.shape
        np.testing.assert_array_equal(got, expected)


def test_the_process_exits_at_once_with_the_command_s_code(tmp_path):
    """`main` ends with os._exit after flushing: exit codes and the last stdout line as before."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: nope}\n")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "NEUROCLI_FIGURE_WORKER": "0"}
    out = subprocess.run([sys.executable, "-m", "neurocli", "simulate", "--config", str(bad)], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 2 and "invalid config" in out.stderr, out.stderr
    out = subprocess.run([sys.executable, "-m", "neurocli", "--version"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith(f"neurocli {__version__}")


def test_one_program_initialisations_give_the_op_by_op_values():
    """Start-up builds a UDE network and the PINN members' keys each in one cached program
    (neurocli.numerics.program_cache.cached_jit): bit for bit what building them op by op gives,
    over the whole seed range (seeds up to 2**32 - 1)."""
    import equinox as eqx
    import jax
    import numpy as np

    from neurocli.pinn.train import member_keys
    from neurocli.ude.model import ScaledMLP
    from neurocli.ude.setup import build_network

    for seed in (0, 11, 2**31 + 5, 2**32 - 1):
        base = jax.random.PRNGKey(seed)
        loop = jax.numpy.stack([jax.random.fold_in(base, i) for i in range(3)])
        np.testing.assert_array_equal(np.asarray(member_keys(seed, 3)), np.asarray(loop))
        for width, depth, activation, final in ((6, 1, "tanh", 0.1), (16, 3, "softplus", 1.0)):
            desc = {"centre": [-60.0, 0.3], "scale": [30.0, 0.5], "output_scale": 50.0, "width": width,
                    "depth": depth, "activation": activation, "final_layer_scale": final}
            net = build_network(desc, seed)
            op_by_op = ScaledMLP((-60.0, 0.3), (30.0, 0.5), 50.0, width, depth, activation, jax.random.key(seed),
                                 final_layer_scale=final)
            assert jax.tree_util.tree_structure(net) == jax.tree_util.tree_structure(op_by_op)
            for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_array)),
                            jax.tree_util.tree_leaves(eqx.filter(op_by_op, eqx.is_array))):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
