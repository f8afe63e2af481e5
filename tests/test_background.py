"""neurocli.background: work in a daemon thread, collected later; a process that exits while
XLA compiles in such a thread exits with its own code."""

import subprocess
import sys

from conftest import ROOT

EXITS_WHILE_COMPILING = """
import sys, time
import jax, jax.numpy as jnp
from neurocli.background import Background

def long(x):  # a second or more of XLA
    for i in range(1500):
        x = jnp.sin(x) * 1.0001 + i
    return x

Background(jax.jit(long).lower(jnp.ones(3)).compile)
time.sleep(0.3)  # XLA is compiling in the thread
sys.exit(3)
"""


def test_an_exit_while_a_background_compile_runs_keeps_its_code():
    """Defect: a training run that failed in its first phase, while its later phases compiled in
    the background, ended its (test) process with `terminate called after throwing ...`, exit 134:
    the interpreter's finalisation stopped the thread inside XLA. The exit now waits for it."""
    proc = subprocess.run([sys.executable, "-c", EXITS_WHILE_COMPILING], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "terminate called" not in proc.stderr
