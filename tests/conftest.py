"""Tests run in float64 on the CPU, with the persistent compilation cache (as the CLI runs);
every test leaves the process-wide precision as it found it."""

from __future__ import annotations

import os

os.environ.setdefault("EQX_ON_ERROR", "nan")  # as the CLI sets it: cacheable executables

import jax  # noqa: E402
import pytest  # noqa: E402

from neurocli import runtime  # noqa: E402

jax.config.update("jax_enable_x64", True)
runtime.configure("float64", compilation_cache=True)


@pytest.fixture(autouse=True)
def _restore_precision():
    yield
    jax.config.update("jax_enable_x64", True)

