"""Hostile and broken input (issue 9): every case an exit 2 naming what is wrong, before anything
compiles, nothing written where it must not be. Runs that pass the checks are stopped before the
solve by `stub_execute` unless a test needs the numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from neurocli import memory
from neurocli.cli import app
from neurocli.config.base import ConfigError, dump_config, load_config, load_yaml_text, validate
from neurocli.config.common import TimeConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.config.simulate import SimulateConfig
from neurocli.config.ude import TrainUDEConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SIM = CONFIGS / "smoke_simulate.yaml"
PINN = CONFIGS / "pinn_smoke.yaml"
UDE = CONFIGS / "ude_smoke.yaml"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def schema_for(path: Path):
    if path.name in ("a_sweep.yaml", "paper.yaml") or path.name.startswith("pinn_"):
        return "train-pinn", TrainPinnConfig
    if path.name.startswith("ude") or path.name == "fit_conductances.yaml":
        return "train-ude", TrainUDEConfig
    return "simulate", SimulateConfig


@pytest.fixture
def stub_execute(monkeypatch):
    """Stop each command after its run directory exists (no compile, no solve)."""
    import neurocli.commands.simulate
    import neurocli.commands.train_pinn
    import neurocli.commands.train_ude

    for module in (neurocli.commands.simulate, neurocli.commands.train_pinn, neurocli.commands.train_ude):
        monkeypatch.setattr(module, "execute", lambda *a, **k: {})


def invoke(args: list[str], cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(old)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def error_line(result) -> str:
    return next(line for line in result.output.splitlines() if line.strip() and line.strip() != "error: invalid config")


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")}


# -- names ------------------------------------------------------------------------------------------

BAD_NAMES = ["x/../../../escaped_here", "../up", "/abs/path", "a" * 101, "a" * 300, ".hidden", "..", "", "a b",
             "semi;colon", "new\nline", "tab\tname", "ü-umlaut", "a/b"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_bad_name_exits_2_naming_the_option_and_writes_nothing(tmp_path: Path, stub_execute, name):
    (tmp_path / "work").mkdir()
    result = invoke(["simulate", "--config", str(SIM), "--output-root", "out", "--name", name], cwd=tmp_path / "work")
    assert result.exit_code == 2, result.output
    assert error_line(result).startswith("error: --name: ")
    assert files_under(tmp_path) == {tmp_path / "work"}  # not even the output root was made


@pytest.mark.parametrize("name", ["run.v1", "a" * 100, "A-b_c.9", "-dash"])
def test_plain_names_are_accepted(tmp_path: Path, stub_execute, name):
    result = invoke(["simulate", "--config", str(SIM), "--output-root", str(tmp_path / "out"), "--name", name])
    assert result.exit_code == 0, result.output
    run = Path(result.output.strip().splitlines()[-1])
    assert run.parent == (tmp_path / "out" / "simulate").resolve() and run.name.endswith("_" + name)


def test_a_config_stem_that_is_no_plain_name_asks_for_name(tmp_path: Path, stub_execute):
    cfg = tmp_path / "my config.yaml"
    cfg.write_text(SIM.read_text())
    result = invoke(["simulate", "--config", str(cfg), "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "'my config'" in result.output and "pass --name" in result.output
    assert invoke(["simulate", "--config", str(cfg), "--output-root", str(tmp_path / "out"), "--name", "ok"]).exit_code == 0


def test_a_symlinked_command_directory_outside_the_root_is_refused(tmp_path: Path, stub_execute):
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "simulate").symlink_to(elsewhere)
    result = invoke(["simulate", "--config", str(SIM), "--output-root", str(root)])
    assert result.exit_code == 2 and "outside the output root" in result.output
    assert list(elsewhere.iterdir()) == []


# -- the output root and the config file -----------------------------------------------------------


def test_output_root_problems_are_one_line_naming_the_path(tmp_path: Path, stub_execute):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = {
        str(afile): "is a file, not a directory",
        str(afile / "sub"): f"lies under {afile}, which is a file",
        "": "--output-root: is empty",
    }
    for root, expected in cases.items():
        result = invoke(["simulate", "--config", str(SIM), "--output-root", root], cwd=tmp_path)
        assert result.exit_code == 2, (root, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: --output-root") and expected in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # "" did not write into the cwd


def test_an_output_root_the_system_refuses(tmp_path: Path, stub_execute):
    result = invoke(["simulate", "--config", str(SIM), "--output-root", "/proc/neurocli-out"])
    assert result.exit_code == 2 and error_line(result).startswith("error: --output-root /proc/neurocli-out: ")


@pytest.mark.skipif(IS_ROOT, reason="root may write anywhere")
def test_an_unwritable_output_root(tmp_path: Path, stub_execute):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = invoke(["simulate", "--config", str(SIM), "--output-root", str(locked / "out")])
    assert result.exit_code == 2 and "is not writable" in result.output


def test_config_file_problems_are_one_line_naming_the_path(tmp_path: Path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"model: {name: hh}\n# caf\xe9\n")
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(17 * 2**20)
    for path, expected in [(latin, "is not UTF-8 text (byte 0xe9 on line 2)"), (tmp_path / "nope.yaml", "file not found"),
                           (big, "is 17 MiB; a config is at most 16 MiB"), (Path("/dev/null"), "is not a regular file; expected a YAML config file")]:
        result = invoke(["simulate", "--config", str(path), "--output-root", str(tmp_path / "out")])
        assert result.exit_code == 2
        assert error_line(result) == f"error: --config {path}: {expected}"
    directory = invoke(["simulate", "--config", str(tmp_path), "--output-root", str(tmp_path / "out")])
    assert directory.exit_code == 2 and "is a directory" in directory.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(IS_ROOT, reason="root reads every file")
def test_an_unreadable_config(tmp_path: Path):
    path = tmp_path / "secret.yaml"
    path.write_text(SIM.read_text())
    path.chmod(0)
    result = invoke(["simulate", "--config", str(path)])
    assert result.exit_code == 2 and "cannot be read: Permission denied" in result.output


@pytest.mark.parametrize("content, expected", [
    (b"t,V,n\n\xff\xfe\n", "is not UTF-8 text (byte 0xff)"),
    (b"t,V,n\n0,1\n", "not numeric"),
    (b"t,V,n\n0,-65,0.3\n1,nan,0.3\n2,-64,0.3\n", "contains non-finite values"),
    (b"root:x:0:0\n", "missing columns t, V, n"),
], ids=["latin", "short", "nan", "passwd"])
def test_a_broken_csv_recording_exits_2(tmp_path: Path, content, expected):
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    args = ["train-ude", "--config", str(UDE), "--output-root", str(tmp_path / "out"), "--set", "initial_state=null",
            "--set", f"data={{kind: csv, path: {data}}}"]
    result = invoke(args)
    assert result.exit_code == 2 and f"data.path: {data}: {expected}" in result.output, result.output
    assert not (tmp_path / "out").exists()


# -- numbers ----------------------------------------------------------------------------------------

NON_FINITE = [
    (SIM, "stimulus.amplitude=.inf", "stimulus.amplitude", "finite number"),
    (SIM, "stimulus.amplitude=.nan", "stimulus.amplitude", "finite number"),
    (SIM, "stimulus.amplitude=-.inf", "stimulus.amplitude", "finite number"),
    (SIM, "solver.rtol=.nan", "solver.rtol", "finite number"),
    (SIM, "time.t1=.inf", "time.t1", "finite number"),
    (SIM, "stimulus.amplitude='inf'", "stimulus.amplitude", "finite number"),
    (SIM, "sweep.values=[1.0, .nan]", "sweep.values[1]", "finite number"),
    (SIM, "initial_state={V: .nan}", "initial_state.V", "finite number"),
    (SIM, "model.g_Na=.inf", "model.g_Na", "finite number"),
    (PINN, "phases[0].lr=.inf", "phases[0].lr", "finite number"),
    (PINN, "pde.a=[0.1, .nan]", "pde.a[1]", "finite number"),
    (PINN, "pde.k=.inf", "pde.k", "finite number"),
    (UDE, "train.phases[0].lr=.inf", "train.phases[0].lr", "finite number"),
    (UDE, "data.noise={V: .inf}", "data.noise.V", "finite number"),
    (SIM, "stimulus.amplitude=true", "stimulus.amplitude", "expected a number, got the boolean True"),
    (SIM, "solver.rtol=yes", "solver.rtol", "expected a number, got the boolean True"),
    (SIM, "time.t1=false", "time.t1", "expected a number, got the boolean False"),
    (SIM, "solver.max_steps=true", "solver.max_steps", "expected a number, got the boolean True"),
    (SIM, "sweep.values=[1.0, true]", "sweep.values", "got a boolean in [1.0, True]"),
    (PINN, "network.width=true", "network.width", "expected a number"),
    (UDE, "train.phases[0].iterations=on", "train.phases[0].iterations", "expected a number"),
]


@pytest.mark.parametrize("path, override, key, expected", NON_FINITE, ids=[c[1] for c in NON_FINITE])
def test_non_finite_and_boolean_numbers_exit_2_with_the_key(tmp_path: Path, path, override, key, expected):
    command, _ = schema_for(path)
    result = invoke([command, "--config", str(path), "--set", override, "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"{path} (with --set {override}): {key}" in line and expected in line, line
    assert not (tmp_path / "out").exists()


def test_non_finite_in_the_file_itself(tmp_path: Path):
    path = tmp_path / "inf.yaml"
    path.write_text(SIM.read_text().replace("amplitude: 20.0", "amplitude: .inf"))
    result = invoke(["simulate", "--config", str(path), "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"{path}: stimulus.amplitude: Input should be a finite number" in result.output


def test_exponent_without_a_dot_is_a_float_in_files_and_overrides(tmp_path: Path):
    path = tmp_path / "exp.yaml"
    path.write_text(SIM.read_text().replace("rtol: 1.0e-6", "rtol: 1e-6"))
    cfg, data = load_config(SimulateConfig, path, ["solver.atol=2e-7"])
    assert data["solver"]["rtol"] == 1e-6 and cfg.solver.rtol == 1e-6 and cfg.solver.atol == 2e-7
    assert load_yaml_text("x: '1e-3'") == {"x": "1e-3"}  # quoted stays a string (and a float field takes it)
    cfg, _ = load_config(SimulateConfig, path, ["solver.atol='1e-3'"])
    assert cfg.solver.atol == 1e-3


# -- YAML -----------------------------------------------------------------------------------------


def test_duplicate_keys_name_the_key_and_lines(tmp_path: Path):
    path = tmp_path / "dup.yaml"
    path.write_text("model: {name: hh}\ntime: {t1: 5, save_every: 0.1}\nsolver:\n  rtol: 1.0e-6\n  rtol: 1.0e-9\n")
    result = invoke(["simulate", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}: rtol: duplicate key 'rtol' on line 5 (first on line 4)" in result.output
    top = tmp_path / "dup_top.yaml"
    top.write_text("model: {name: hh}\ntime: {t1: 5, save_every: 0.1}\nmodel: {name: hh_reduced}\n")
    result = invoke(["simulate", "--config", str(top)])
    assert result.exit_code == 2 and "duplicate key 'model' on line 3 (first on line 1)" in result.output


def test_aliases_are_refused(tmp_path: Path):
    path = tmp_path / "alias.yaml"
    path.write_text("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n")
    result = invoke(["simulate", "--config", str(path)])
    assert result.exit_code == 2 and "alias *a is not supported" in result.output


def test_deep_nesting_is_exit_2(tmp_path: Path):
    path = tmp_path / "deep.yaml"
    path.write_text("model: " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = invoke(["simulate", "--config", str(path)])
    assert result.exit_code == 2 and f"{path}: <top level>: not valid YAML: nested too deeply" in result.output
    result = invoke(["simulate", "--config", str(SIM), "--set", "sweep.values=" + "[" * 800 + "1" + "]" * 800])
    assert result.exit_code == 2 and "sweep.values: value" in result.output and "is nested too deeply" in result.output


def test_a_set_index_past_the_list_names_its_length(tmp_path: Path):
    result = invoke(["train-pinn", "--config", str(PINN), "--set", "phases[5].lr=1"])
    assert result.exit_code == 2 and "phases[5]: no such list item (phases has 2)" in result.output


def test_an_integer_of_5000_digits(tmp_path: Path):
    result = invoke(["simulate", "--config", str(SIM), "--set", "solver.max_steps=" + "9" * 5000])
    assert result.exit_code == 2 and "solver.max_steps: value" in result.output and "is not valid YAML" in result.output
    path = tmp_path / "digits.yaml"
    path.write_text(SIM.read_text() + "x: " + "9" * 5000 + "\n")
    result = invoke(["simulate", "--config", str(path)])
    assert result.exit_code == 2 and "not valid YAML: Exceeds the limit (4300 digits)" in result.output


def test_a_long_wrong_value_is_cut_in_the_message(tmp_path: Path):
    result = invoke(["simulate", "--config", str(SIM), "--set", "solver.rtol=" + "x" * 5000])
    assert result.exit_code == 2 and len(error_line(result)) < 450


# -- sizes and memory -------------------------------------------------------------------------------

SIZES = [
    (SIM, ["time.save_every=1e-9"], "time.save_every", "2e+10 samples; at most 1000000"),  # was 373 GiB at 50 ms
    (SIM, ["time.save_every=1e-5"], "time.save_every", "2e+06 samples; at most 1000000"),  # was "non-finite values"
    (SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 100000000}}"], "sweep",
     "has 100000000 members; at most 10000000"),
    # neuron sweeps run in chunks sized from the budget (10^7 members fit): one member must fit
    (SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 10000000}}",
           "time.t1=40000", "runtime.memory_budget_gb=0.01"], "time.save_every", "over the memory budget of 10.2 MiB"),
    # an explicit chunk size is what runs at once
    (SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 1000000}}",
           "runtime.chunk_size=1000000", "runtime.memory_budget_gb=1"], "runtime.chunk_size", "over the memory budget of 1 GiB"),
    # kept trajectories: at most 100, and counted (a 40 s cable trace of 401 nodes is 3.9 MB each)
    (SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 1000}}",
           "output.trajectory_members=1000"], "output.trajectory_members", "less than or equal to 100"),
    (SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 1000}}", "time.t1=4000",
           "output.trajectory_members=100", "runtime.memory_budget_gb=0.1"], "time.save_every", "100 trajectories kept)"),
    # a PDE sweep runs in chunks too: what runs at once is the chunk
    (CONFIGS / "reaction_diffusion.yaml", ["sweep={parameter: model.a, linspace: {start: 0.1, stop: 0.4, num: 1000000}}",
                                            "runtime.chunk_size=100000", "runtime.memory_budget_gb=8"],
     "runtime.chunk_size", "over the memory budget of 8 GiB"),
    (PINN, ["network.width=100000000"], "network.width", "less than or equal to 100000"),
    (PINN, ["network.width=100000", "runtime.memory_budget_gb=8"], "network.width", "over the memory budget of 8 GiB"),
    (PINN, ["collocation.batch=1e10"], "collocation.batch", "less than or equal to 100000000"),
    (PINN, ["collocation.batch=-5"], "collocation.batch", "greater than or equal to 1"),
    (UDE, ["ude.network.width=100000000"], "ude.network.width", "less than or equal to 100000"),
    (UDE, ["ude.network.width=20000", "runtime.memory_budget_gb=8"], "ude.network.width", "over the memory budget"),
    (SIM, ["stimulus={kind: pulse_train, start: 0, period: 1, duration: 0.5, amplitude: 1, count: 1000000000}"],
     "stimulus.count", "less than or equal to 100000"),
    (SIM, ["solver.max_steps=100000000000000000000"], "solver.max_steps", "less than or equal to 1000000000"),
    (SIM, ["runtime.seed=-1"], "runtime.seed", "greater than or equal to 0"),
]


@pytest.mark.parametrize("path, overrides, key, expected", SIZES, ids=[" ".join(c[1])[:60] for c in SIZES])
def test_sizes_exit_2_before_compiling(tmp_path: Path, path, overrides, key, expected):
    command, _ = schema_for(path)
    args = [command, "--config", str(path), "--output-root", str(tmp_path / "out")]
    for o in overrides:
        args += ["--set", o]
    result = invoke(args)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert f"): {key}: " in line and expected in line, line
    assert not (tmp_path / "out").exists()


def test_budget_bytes():
    cfg, _ = load_config(SimulateConfig, SIM, ["runtime.memory_budget_gb=1.5"])
    assert memory.budget_bytes(cfg.runtime) == 1.5 * 2**30
    cfg, _ = load_config(SimulateConfig, SIM)
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert memory.physical_memory_bytes() == physical > 2**28
    assert memory.budget_bytes(cfg.runtime) == physical // 2


def test_check_states_estimate_budget_and_keys():
    memory.check(100, 100, "src", ["a.b"], "x")  # at the budget: fine
    with pytest.raises(ConfigError) as err:
        memory.check(3 * 2**30, 2**30, "src", ["a.b", "c"], "simulate (2 members)")
    assert err.value.problems == [("a.b", "simulate (2 members) needs about 3 GiB, over the memory budget of 1 GiB; "
                                           "reduce a.b, c (or set runtime.memory_budget_gb)")]


def test_simulate_member_bytes():
    cfg, _ = load_config(SimulateConfig, CONFIGS / "hh_pulse.yaml")  # 5001 samples × 4 states, float64
    assert cfg.time.num_samples == 5001
    assert memory.simulate_member_bytes(cfg) == 3 * 5001 * 4 * 8 + 16 * 4 * 8
    cable, _ = load_config(SimulateConfig, CONFIGS / "hh_cable.yaml")  # V saved at nx nodes, 4 nx integrated
    nx, samples = cable.model.nx, cable.time.num_samples
    assert memory.simulate_member_bytes(cable) == 3 * samples * nx * 8 + 16 * 4 * nx * 8
    f32, _ = load_config(SimulateConfig, CONFIGS / "hh_pulse.yaml", ["runtime.precision=float32"])
    assert memory.simulate_member_bytes(f32) * 2 == memory.simulate_member_bytes(cfg)


def test_neuron_state_counts_match_the_models():
    from neurocli.models import MODELS

    counts = {name: model for name, model in MODELS.items() if hasattr(model, "state_names")}
    assert {k: len(m.state_names) for k, m in counts.items()} == memory.NEURON_STATES


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_fits_a_4_gib_budget_and_reloads_resolved(path: Path):
    _, schema = schema_for(path)
    cfg, _ = load_config(schema, path, ["runtime.memory_budget_gb=4"])
    memory.check_config(cfg, str(path))
    assert validate(schema, load_yaml_text(dump_config(cfg)), "resolved") == cfg


def test_the_time_grid_never_passes_t1():
    # 0.1 · 3 = 0.30000000000000004: a sample past t1 made every solve "fail with non-finite values"
    for t1, every in [(0.3, 0.1), (50.0, 1e-4), (0.7, 0.1), (1.0, 1 / 3)]:
        grid = TimeConfig(t1=t1, save_every=every).grid
        assert grid[-1] <= t1 and grid[0] == 0.0 and len(grid) == TimeConfig(t1=t1, save_every=every).num_samples


def test_a_grid_that_rounds_past_t1_solves(tmp_path: Path):
    args = ["simulate", "--config", str(CONFIGS / "hh_pulse.yaml"), "--output-root", str(tmp_path),
            "--set", "time.t1=0.3", "--set", "time.save_every=0.1", "--set", "stimulus.start=0.1",
            "--set", "stimulus.duration=0.1"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    rows = (Path(result.output.strip().splitlines()[-1]) / "trajectory.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[-1].startswith("0.3")


# -- fields a mode ignores --------------------------------------------------------------------------

IGNORED = [
    (PINN, ["collocation.points=5000"], "collocation.points", "resample draws a fresh batch every step"),
    (PINN, ["collocation.kind=fixed", "collocation.points=2000"], "collocation.lbfgs_points", "kind: fixed"),
    (PINN, ["weighting.alpha=0.5"], "weighting.alpha", "gradnorm"),
    (PINN, ["weighting.chunks=4"], "weighting.chunks", "causal"),
    (PINN, ["conditions.initial_weight=3"], "conditions.initial_weight", "hard conditions are met exactly"),
    (PINN, ["conditions.modes=10", "conditions.kind=soft"], "conditions.modes", "soft conditions have no base"),
    (CONFIGS / "a_sweep.yaml", ["phases[0].schedule=constant"], "phases[0].final_lr", "constant schedule"),
    (PINN, ["phases[0].weight_decay=0.1"], "phases[0].weight_decay", "only adamw"),
    (CONFIGS / "paper.yaml", ["conditions.boundary_weight=2"], "conditions.boundary_weight", "boundary none"),
    (SIM, ["analysis.velocity_points=[0.2, 0.5]"], "analysis.velocity_points", "only cable and PDE models"),
    (CONFIGS / "hh_pulse.yaml", ["output.trajectory_members=3"], "output.trajectory_members", "there is no sweep"),
    (CONFIGS / "reaction_diffusion.yaml", ["analysis.spike_threshold_mV=5"], "analysis.spike_threshold_mV", "no membrane"),
    (CONFIGS / "reaction_diffusion.yaml", ["analysis.max_spike_times=3"], "analysis.max_spike_times", "no membrane"),
    (SIM, ["solver.adaptive=false", "solver.dt0=0.01", "solver.dtmax=0.1"], "solver.dtmax", "fixed-step"),
    (UDE, ["ude.network.input_centre={n: 0.3}"], "ude.network.input_centre.n", "not a network input"),
    (UDE, ["data.seed=3"], "data.seed", "adds none"),
]


@pytest.mark.parametrize("path, overrides, key, expected", IGNORED, ids=[c[2] for c in IGNORED])
def test_a_field_the_mode_ignores_is_rejected_with_why(path, overrides, key, expected):
    _, schema = schema_for(path)
    with pytest.raises(ConfigError) as err:
        load_config(schema, path, overrides)
    (got_key, message), = err.value.problems
    assert got_key == key and "is not used" in message and expected in message, err.value.problems


def test_speed_points_on_one_grid_node_are_refused():
    """Two velocity points nearest to one node would time nothing (the speed always null)."""
    with pytest.raises(ConfigError) as err:
        load_config(SimulateConfig, CONFIGS / "reaction_diffusion.yaml", ["analysis.velocity_points=[0.7, 0.701]"])
    (key, message), = err.value.problems
    assert key == "analysis.velocity_points" and "both points fall on grid node 140 of model.nx = 201" in message


def test_an_ignored_field_at_its_default_is_fine():
    # a resolved config.yaml spells out every default, including fields its mode does not use
    cfg, _ = load_config(TrainPinnConfig, PINN, ["collocation.points=2000", "weighting.alpha=0.1"])
    assert cfg.collocation.points == 2000


MEASURED = [
    # (schema, config, small overrides, large overrides, measured peak-RSS difference in MiB), from
    # /usr/bin/time on this 2-core machine (see neurocli/memory.py)
    (SimulateConfig, SIM, ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 10}}"],
     ["sweep={parameter: stimulus.amplitude, linspace: {start: 0, stop: 20, num: 5000}}"], 94.6),
    (TrainPinnConfig, PINN, ["network.width=128", "collocation.batch=256", "collocation.lbfgs_points=256"],
     ["network.width=128", "collocation.batch=65536", "collocation.lbfgs_points=65536"], 3536.0),
    (TrainUDEConfig, UDE, ["ude.network.width=16"], ["ude.network.width=1000"], 337.6),
]


@pytest.mark.parametrize("schema, path, small, large, measured_mib", MEASURED, ids=["simulate", "pinn", "ude"])
def test_estimates_follow_measured_peak_memory(schema, path, small, large, measured_mib):
    """The estimate's growth between two sizes is within 10 % of the measured growth of peak RSS."""
    estimate = {SimulateConfig: memory.simulate_member_bytes, TrainPinnConfig: memory.pinn_bytes,
                TrainUDEConfig: memory.ude_bytes}[schema]
    a, _ = load_config(schema, path, small)
    b, _ = load_config(schema, path, large)
    if schema is SimulateConfig:
        grown = (memory.sweep_members(b) - memory.sweep_members(a)) * estimate(a)
    else:
        grown = estimate(b) - estimate(a)
    assert grown / 2**20 == pytest.approx(measured_mib, rel=0.10)
