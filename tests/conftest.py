"""Tests run in float64 on the CPU, with the persistent compilation cache (as the CLI runs);
every test leaves the process-wide precision as it found it."""

from __future__ import annotations

import os

os.environ.setdefault("EQX_ON_ERROR", "nan")  # as `neurocli train-ude` sets it: cacheable executables

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neurocli import runtime  # noqa: E402

jax.config.update("jax_enable_x64", True)
runtime.configure("float64", compilation_cache=True)


@pytest.fixture(autouse=True)
def _restore_precision():
    yield
    jax.config.update("jax_enable_x64", True)


def assert_close(actual, expected, *, rtol=0.0, atol=0.0, what=""):
    """Compare arrays with tolerances and say by how much they differ when they do not."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    err = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
    assert np.all(err <= bound), f"{what}: max excess at {worst}: {actual[worst]} vs {expected[worst]}"
