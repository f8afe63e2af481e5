"""Memory: the budget a sweep's chunks must fit in, and what one simulate member costs.

Minimal version for the sweep engine (the hardening branch owns the full estimate).
"""

from __future__ import annotations

import os

GIB = 1024**3


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * GIB


def budget_bytes(runtime_cfg) -> int:
    """`runtime.memory_budget_gb`, or half the physical memory when it is not set."""
    if runtime_cfg.memory_budget_gb is not None:
        return int(runtime_cfg.memory_budget_gb * GIB)
    return physical_memory_bytes() // 2


def simulate_member_bytes(cfg) -> int:
    """Peak bytes one sweep member needs inside a chunk's solve: its trajectory at the output
    times (every state of a neuron model, V on every node of a cable or PDE), the solver's working state (about 12 copies of the
    state for a Runge–Kutta step with its error estimate and dense output, 30 for the implicit and
    IMEX stages), and the in-chunk analysis (a few arrays of the saved samples), in the run's
    precision, with a factor 2 for XLA's temporaries."""
    from neurocli.config.models import CABLE_MODELS, PDE_MODELS

    word = 8 if cfg.runtime.precision == "float64" else 4
    nt = cfg.time.num_samples
    name = cfg.model.name
    if name in CABLE_MODELS:
        state, saved = 4 * cfg.model.nx, cfg.model.nx
    elif name in PDE_MODELS:
        state = cfg.model.nx
        saved = state
    else:
        state = {"hh": 4, "hh_reduced": 2, "fitzhugh_nagumo": 2}.get(name, 4)
        saved = state
    implicit = cfg.solver.name.startswith(("kvaerno", "kencarp"))
    copies = 30 if implicit else 12
    dense = state * state if implicit and name in PDE_MODELS else 0  # a dense Jacobian (LU)
    return int(2 * word * (3 * nt * saved + copies * state + dense) + 4096)
