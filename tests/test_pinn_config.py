"""Bad train-pinn configs are refused before anything compiles: exit 2, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from neurocli.cli import app
from neurocli.config.base import ConfigError, load_config
from neurocli.config.pinn import TrainPinnConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize(
    "override, key",
    [
        ("pde.k=0", "pde.k"),
        ("pde.k=-5", "pde.k"),
        ("pde.T=0", "pde.T"),
        ("pde.T=-1", "pde.T"),
        ("pde.boundary=periodic", "pde.boundary"),
        ("pde.a=[]", "pde.a"),
        ("pde.a=[0.1,1.5]", "pde.a[1]"),
        ("phases=[]", "phases"),
        ("network.kind=transformer", "network.kind"),
        ("reference.nx=100", "reference.nx"),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path, override, key):
    result = CliRunner().invoke(
        app, ["train-pinn", "--config", str(CONFIGS / "pinn_smoke.yaml"), "--set", override, "--output-root", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert f": {key}:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "train-pinn").exists()  # refused before a run directory exists


def test_collocation_fixed_batch_check_names_the_key():
    with pytest.raises(ConfigError) as err:
        load_config(TrainPinnConfig, CONFIGS / "pinn_smoke.yaml", ["collocation.kind=fixed", "collocation.points=100"])
    assert err.value.problems[0][0] == "collocation.batch"


@pytest.mark.parametrize("name", ["pinn_smoke.yaml", "a_sweep.yaml", "paper.yaml", "pinn_a_k_map.yaml"])
def test_shipped_configs_validate(name):
    cfg, _ = load_config(TrainPinnConfig, CONFIGS / name)
    assert cfg.runtime.precision == "float32"
    assert cfg.pde.boundary in ("dirichlet", "neumann", "none")
    assert (cfg.reference_nx - 1) % (cfg.output.nx - 1) == 0


def test_paper_config_is_the_papers_setup():
    cfg, _ = load_config(TrainPinnConfig, CONFIGS / "paper.yaml")
    assert cfg.pde.member_values() == [0.1, 0.15, 0.2, 0.25, 0.3, 0.35] and cfg.pde.k == 5.0
    assert cfg.pde.boundary == "none" and cfg.conditions.kind == "soft"
    assert (cfg.collocation.kind, cfg.collocation.points, cfg.collocation.batch) == ("fixed", 2000, 256)
    assert (cfg.network.width, cfg.network.depth, cfg.network.activation) == (50, 4, "silu")
    assert [(p.optimizer, p.iterations, p.lr, p.schedule) for p in cfg.phases] == [("adam", 2000, 1e-3, "constant")]


def test_sweep_config_is_the_issues_sweep():
    cfg, _ = load_config(TrainPinnConfig, CONFIGS / "a_sweep.yaml")
    assert cfg.pde.member_values() == [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
    assert (cfg.pde.k, cfg.pde.T, cfg.pde.boundary) == (5.0, 1.0, "dirichlet")
    assert (cfg.output.nt, cfg.output.nx) == (128, 128)
