"""float64 by default; every test leaves the process-wide precision as it found it."""

from __future__ import annotations

import os

os.environ.setdefault("NEUROCLI_NO_COMPILATION_CACHE", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True)
def _restore_precision():
    yield
    jax.config.update("jax_enable_x64", True)

