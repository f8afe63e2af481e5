"""float64 by default; every test leaves the process-wide precision as it found it."""

from __future__ import annotations

import os

os.environ.setdefault("NEUROCLI_NO_COMPILATION_CACHE", "0")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


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
