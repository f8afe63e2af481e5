"""Bad configs: exit 2 before anything compiles, a message naming the file and the key path."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from neurocli.cli import app

GOOD = {
    "model": {"name": "hh"},
    "stimulus": {"kind": "pulse", "start": 1.0, "duration": 1.0, "amplitude": 20.0},
    "time": {"t0": 0.0, "t1": 5.0, "save_every": 0.1},
    "solver": {"name": "tsit5", "rtol": 1e-6, "atol": 1e-6},
}


def _with(path: str, value):
    cfg = yaml.safe_load(yaml.safe_dump(GOOD))
    node = cfg
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return cfg


_DELETE = object()

BAD = [
    (_with("solver.rtol", -1e-6), "solver.rtol"),
    (_with("solver.atol", "tiny"), "solver.atol"),
    (_with("time.t1", 0.0), "time.t1"),
    (_with("time.save_every", 0.0), "time.save_every"),
    (_with("model.name", "hodgkin"), "model"),
    (_with("solver.name", "rk99"), "solver.name"),
    (_with("model.g_Nax", 1.0), "model.g_Nax"),
    (_with("stimulus.duration", -1.0), "stimulus.duration"),
    (_with("sweep", {"parameter": "stimulus.amplitude", "values": []}), "sweep.values"),
    (_with("sweep", {"parameter": "model.nothing", "values": [1.0]}), "sweep.parameter"),
    (_with("time", _DELETE), "time"),
    (_with("model.temperature_C", 400.0), "model.temperature_C"),
    (_with("initial_state", {"Vm": -65.0}), "initial_state.Vm"),
    (_with("solver.name", "kencarp4"), "solver.name"),
    (_with("stimulus", {"kind": "pulse_train", "start": 0, "period": 1, "duration": 2, "amplitude": 1, "count": 2}),
     "stimulus.duration"),
    ({**GOOD, "model": {"name": "reaction_diffusion", "boundary": "periodic"}}, "model.boundary"),
    ({**GOOD, "model": {"name": "reaction_diffusion", "boundary": "dirichlet", "k": 0}}, "model.k"),
    ({**GOOD, "bogus_section": {}}, "bogus_section"),
]


@pytest.mark.parametrize("cfg, key", BAD, ids=[k for _, k in BAD])
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, cfg, key):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--output-root", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"{path}: {key}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing was run


def test_bad_override_names_the_key(tmp_path: Path):
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    result = CliRunner().invoke(app, ["simulate", "--config", str(path), "--set", "solver.rtol=-3"])
    assert result.exit_code == 2
    assert "solver.rtol" in result.output and "--set solver.rtol=-3" in result.output


def test_missing_file_and_malformed_yaml(tmp_path: Path):
    result = CliRunner().invoke(app, ["simulate", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output
    bad = tmp_path / "broken.yaml"
    bad.write_text("model: [unclosed\n")
    result = CliRunner().invoke(app, ["simulate", "--config", str(bad)])
    assert result.exit_code == 2 and "not valid YAML" in result.output
