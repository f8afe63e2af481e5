"""Property-based fuzz (hypothesis): random mutations of every shipped config (wrong types,
non-finite values, huge and negative sizes, random keys, deleted keys, random --name and
--output-root values) end in exit 0 or 2, never a traceback, within seconds, and write nothing
outside the output root.

The command's `execute` is stubbed: a mutation that passes every check (validation, the name,
the memory estimate, the output root, `prepare`) gets its run directory and stops there, so no
example compiles. `test_fuzz_simulate_runs` runs a few valid mutations for real (exit 0, 1 or 2).

Profiles: `ci` (default, small) and `fuzz` (`make fuzz`, HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from neurocli.cli import app
from neurocli.config.base import load_yaml_text, validate
from neurocli.config.pinn import TrainPinnConfig
from neurocli.config.simulate import SimulateConfig
from neurocli.config.ude import TrainUDEConfig

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
COMMAND = {"a_sweep.yaml": "train-pinn", "paper.yaml": "train-pinn", "pinn_smoke.yaml": "train-pinn",
           "pinn_a_k_map.yaml": "train-pinn", "pinn_nonunique.yaml": "train-pinn", "fit_conductances.yaml": "train-ude"}
SCHEMAS = {"simulate": SimulateConfig, "train-pinn": TrainPinnConfig, "train-ude": TrainUDEConfig}
SECONDS_PER_EXAMPLE = 10.0

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def command_of(path: Path) -> str:
    if path.name.startswith("pinn_"):
        return "train-pinn"
    return COMMAND.get(path.name, "train-ude" if path.name.startswith("ude") else "simulate")


def key_paths(node, prefix=()) -> list[tuple]:
    """Every key path in the config (sections, list items and leaves)."""
    paths = []
    if isinstance(node, dict):
        for k, v in node.items():
            paths.append(prefix + (k,))
            paths += key_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            paths.append(prefix + (i,))
            paths += key_paths(v, prefix + (i,))
    return paths


MODES = ["csv", "simulated", "fixed", "resample", "dgm", "mlp", "soft", "hard", "initial", "lbfgs", "adamw", "sgd",
         "levenberg_marquardt", "kencarp4", "kvaerno5", "euler", "hh", "hh_reduced", "fitzhugh_nagumo",
         "reaction_diffusion", "hh_cable", "none", "pulse", "step", "pulse_train", "causal", "gradnorm", "taylor",
         "reverse", "neumann", "dirichlet", "float32", "backsolve", "direct", "potassium", "cosine", "exponential",
         "sech", "gaussian", "stimulus.amplitude", "model.g_Na", "model.nx", "stimulus.start"]
"""Values that switch a mode, so cross-field checks and `prepare` see unusual combinations."""
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
HOSTILE = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, True, False, None, "", "x", [], {}, 0, -1, 0.0, -0.0,
                     10**12, 10**30, -10**30, 1e300, -1e300, 1e-300, 5e-324, "1e-3", "inf", "nan", [1, 2],
                     {"a": 1}, [math.nan], {"V": math.inf}, 2**63, 2**64 + 1, "../../x", "/etc/passwd", "/"]),
    st.sampled_from(MODES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**20, max_value=10**20),
    text,
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
).map(copy.deepcopy)  # sampled lists and dicts are shared objects: a mutation must not reach the next example
NAMES = st.one_of(
    st.none(),
    st.sampled_from(["ok", "../escape", "x/../../../escaped_here", "/abs", ".", "..", ".hidden", "a" * 101, "a" * 300,
                     "", "-", "a b", "run.v1"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=120),
)
ROOTS = st.sampled_from(["out", "out/nested/deeper", "", "afile", "afile/sub", "./out/../out"])


def is_leaf(data, where) -> bool:
    node = data
    for k in where:
        node = node[k]
    return not isinstance(node, (dict, list))


def leaf_value(data, where):
    node = data
    for k in where:
        node = node[k]
    return node


SCALES = [-1, 0, 1e-9, 1e-3, 0.5, 2, 10, 1e3, 1e6, 1e9, 1e12]


@st.composite
def mutations(draw):
    """(shipped config, mutated data, --set overrides, --name, --output-root). Most mutations touch
    one leaf (a hostile value, or the old value scaled, which is often still valid); some replace or
    delete sections, add unknown keys, or go through --set; names and roots are mostly sane, so the
    config checks behind them are reached."""
    path = draw(st.sampled_from(CONFIGS))
    data = load_yaml_text(path.read_text())
    sets = []
    for _ in range(draw(st.integers(1, 2))):
        paths = key_paths(data)
        if not paths:
            break
        leaves = [w for w in paths if is_leaf(data, w)]
        kind = draw(st.sampled_from(["scale", "scale", "leaf", "leaf", "any", "add", "delete", "set"]))
        where = draw(st.sampled_from(leaves if kind in ("scale", "leaf", "set") and leaves else paths))
        if kind == "scale":
            old = leaf_value(data, where)
            if isinstance(old, (int, float)) and not isinstance(old, bool):
                factor = draw(st.sampled_from(SCALES))
                new = old * factor
                _put(data, where, int(new) if isinstance(old, int) and abs(new) < 1e18 else new)
            else:
                _put(data, where, draw(HOSTILE))
        elif kind == "add":
            key = draw(st.one_of(st.sampled_from(["points", "width", "nx", "num", "values", "amplitude", "t1", "x"]), text))
            _put(data, where[:-1] + (key,), draw(HOSTILE))
        elif kind == "delete":
            _delete(data, where)
        elif kind == "set" and all(isinstance(k, str) for k in where):
            value = yaml.safe_dump(draw(HOSTILE), default_flow_style=True, width=10**6).strip()
            sets.append(".".join(where) + "=" + value.removesuffix("...").strip())
        else:
            _put(data, where, draw(HOSTILE))
    name = draw(NAMES) if draw(st.integers(0, 3)) == 0 else None
    root = draw(ROOTS) if draw(st.integers(0, 3)) == 0 else "out"
    return path, data, sets, name, root


def _put(data, where, value):
    node = data
    for k in where[:-1]:
        node = node[k] if (isinstance(node, dict) and k in node) or (isinstance(node, list) and isinstance(k, int)) else None
        if not isinstance(node, (dict, list)):
            return
    if isinstance(node, dict):
        node[where[-1]] = value
    elif isinstance(node, list) and isinstance(where[-1], int) and where[-1] < len(node):
        node[where[-1]] = value


def _delete(data, where):
    node = data
    for k in where[:-1]:
        node = node[k]
    if isinstance(node, dict):
        node.pop(where[-1], None)
    elif isinstance(node, list):
        node.pop(where[-1])


@pytest.fixture
def stub_execute(monkeypatch):
    import neurocli.commands.simulate
    import neurocli.commands.train_pinn
    import neurocli.commands.train_ude

    for module in (neurocli.commands.simulate, neurocli.commands.train_pinn, neurocli.commands.train_ude):
        monkeypatch.setattr(module, "execute", lambda *a, **k: {})


def run_in(workdir: Path, args: list[str]):
    old = os.getcwd()
    os.chdir(workdir)
    try:
        return CliRunner().invoke(app, args)
    finally:
        os.chdir(old)


def check_result(result, workdir: Path, before: set[Path], allowed: set[int], elapsed: float, args,
                 limit: float = SECONDS_PER_EXAMPLE):
    assert result.exit_code in allowed, (args, result.output, repr(result.exception))
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output, (args, result.output)
    assert elapsed < limit, (args, elapsed)
    out = (workdir / "out").resolve()
    for p in set(workdir.rglob("*")) - before:
        assert p.resolve() == out or p.resolve().is_relative_to(out), (args, p)  # nothing outside the root


@pytest.mark.usefixtures("stub_execute")
@settings(PROFILE)
@given(mutations())
def test_fuzz_configs_names_and_roots(case):
    path, data, sets, name, root = case
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "afile").write_text("not a directory")
        cfg = workdir / "fuzzed.yaml"
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True))
        command = command_of(path)
        args = [command, "--config", str(cfg), "--output-root", root]
        for s in sets:
            args += ["--set", s]
        if name is not None:
            args += ["--name", name]
        before = set(workdir.rglob("*"))
        start = time.perf_counter()
        result = run_in(workdir, args)
        check_result(result, workdir, before, {0, 2}, time.perf_counter() - start, args)
        if result.exit_code == 0:  # the run directory lies in the root and its config reloads as it was
            run = Path(result.output.strip().splitlines()[-1])
            assert run.parent == (workdir / root / command).resolve()
            schema = SCHEMAS[command]
            validate(schema, load_yaml_text((run / "config.yaml").read_text()), "resolved")
        else:  # exit 2: an error line naming the config file, the option or the --set it is about
            lines = [line.strip() for line in result.output.splitlines() if line.strip()]
            assert lines[0].startswith("error: "), result.output
            named = (str(cfg), "--name", "--output-root", "--set", "--config")
            assert any(n in line for line in lines[:2] for n in named), result.output


@settings(PROFILE, max_examples=min(PROFILE.max_examples, 4))
@given(
    field=st.sampled_from(["stimulus.amplitude", "stimulus.start", "stimulus.duration", "model.g_Na", "model.C_m",
                           "model.temperature_C", "solver.rtol", "time.t1"]),
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, -1e300, 0.0, 1e-12, 2.0])),
)
def test_fuzz_simulate_runs(field, value):
    """Valid mutations run for real on a 2 ms, 2-member sweep: exit 0, 1 (a solve failed, with the
    reason) or 2, never a traceback."""
    smoke = next(p for p in CONFIGS if p.name == "smoke_simulate.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        args = ["simulate", "--config", str(smoke), "--output-root", "out", "--set", "time.t1=2.0",
                "--set", "stimulus.start=0.5", "--set", f"{field}={value!r}"]
        before = set(workdir.rglob("*"))
        start = time.perf_counter()
        result = run_in(workdir, args)
        check_result(result, workdir, before, {0, 1, 2}, time.perf_counter() - start, args, limit=120.0)
