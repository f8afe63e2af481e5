"""Shared tiny configs for the PINN tests."""

from __future__ import annotations

import jax
import pytest

from neurocli.config.base import validate
from neurocli.config.pinn import TrainPinnConfig


def tiny_config(**sections) -> TrainPinnConfig:
    """A few-second config: a small net, small batches, a coarse output grid, a small reference."""
    data = {
        "pde": {"a": [0.1, 0.3], "k": 5.0, "T": 1.0, "boundary": "dirichlet"},
        "network": {"kind": "mlp", "width": 12, "depth": 2},
        "collocation": {"kind": "resample", "batch": 128, "time_power": 2.0, "lbfgs_points": 128},
        "phases": [{"optimizer": "adam", "iterations": 40, "lr": 3e-3, "schedule": "cosine"}],
        "reference": {"nx": 61},
        "output": {"nt": 16, "nx": 16, "log_every": 5, "checkpoint_every": 20},
        "runtime": {"precision": "float32", "seed": 3},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    col = data["collocation"]
    if col.get("kind") == "fixed" and "lbfgs_points" not in sections.get("collocation", {}):
        col.pop("lbfgs_points")  # an L-BFGS phase uses the fixed pool: the field is not used (an error)
    return validate(TrainPinnConfig, data, "test")


def train(trainer, run=None, on_step=None, restored=None):
    """Run the engine on a PINN trainer (from the start, or from a restored checkpoint): the cursor."""
    from neurocli.training import Engine, engine

    start = engine.start(trainer) if restored is None else engine.resume(trainer, restored)
    return Engine(trainer, run, on_step=on_step).run(start)


@pytest.fixture(autouse=True)
def keep_global_jax_state():
    """The runner sets x64 from the config, process-wide: put it back for the other tests. (The
    compilation and program caches stay the session's one directory, tests/conftest.py: a
    directory per worker would keep the workers from sharing programs.) Autouse in every module
    that imports it."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)
