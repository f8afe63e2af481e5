"""How much memory a run plans to use, estimated from its config before anything compiles.

A run whose estimate exceeds the budget is refused with exit 2 (a `ConfigError` naming the keys to
change), instead of failing minutes later with "Unable to allocate 373 GiB" or an XLA out-of-memory
error. The estimates are rough on purpose (within a small factor): they count the arrays that grow
with the config's sizes and multiply by a safety factor, and ignore what does not grow.

- budget: `runtime.memory_budget_gb`, or half the machine's physical memory when it is None.
- simulate: members × `simulate_member_bytes(cfg)` (measured: a 5000-member HH sweep of 201 samples
  peaked 94.6 MiB above a 10-member one; the estimate says 94.3 MiB); a sweep may run in chunks sized from the
  budget, so one member is the least a run needs.
- train-pinn: members × collocation points per step × network activations × derivative passes,
  plus parameters and optimiser state, plus the output grid and the reference solution.
- train-ude: the trajectory, parameters and optimiser state, plus, for Levenberg–Marquardt, the
  tangents, the Jacobian (residuals × parameters) and the normal matrix (parameters²).

Nothing here imports jax.
"""

from __future__ import annotations

import os
from pathlib import Path

from neurocli.config.base import ConfigError
from neurocli.config.common import RuntimeConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.config.simulate import SimulateConfig
from neurocli.config.ude import STATE_NAMES, SimulatedData, TrainUDEConfig

GiB = 2**30
GIB = GiB
DEFAULT_FRACTION = 0.5
"""Share of physical memory a run may plan to use when `runtime.memory_budget_gb` is not set."""
FALLBACK_PHYSICAL = 8 * GiB
"""Physical memory assumed where neither os.sysconf nor /proc/meminfo tells it."""
SAFETY = 3
"""Saved arrays exist more than once: the device buffer, the host copy, the float64 output files."""
MAX_MEMBERS = 10**7
"""Sweep members past this are not meant (ten million solves of anything is a batch job)."""
SOLVER_BUFFERS = 16
"""State-sized buffers a solve keeps per member: Runge–Kutta stages, error estimate, Newton blocks."""
NEURON_STATES = {"hh": 4, "hh_reduced": 2, "fitzhugh_nagumo": 2, "hh_cable": 4, "fitzhugh_nagumo_cable": 2}
"""States of the point-neuron models, and per node of the cables (equal to the models' `state_names`;
a test checks)."""
DERIVATIVE_PASSES = 10
"""PINN: activations are kept for the value, u_t, u_x and u_xx (forward or reverse), and again for
the parameter gradient through them. Measured (pinn_smoke, width 128, Adam then L-BFGS): 65536
points per step took 3.45 GiB more peak memory than 256; this factor estimates 3.74 GiB more."""
LM_SQUARES = 5
"""train-ude, Levenberg–Marquardt: parameter × parameter arrays alive at once (tangents, JᵀJ, the
damped matrix, its factors, a copy)."""
DGM_GATES = 8
"""PINN: a DGM layer computes four gated affine maps, each with two matrices (input and state)."""


def physical_memory_bytes() -> int:
    """The machine's physical memory: os.sysconf, else /proc/meminfo, else FALLBACK_PHYSICAL."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages) * int(size)
    except (AttributeError, ValueError, OSError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return FALLBACK_PHYSICAL


def budget_bytes(runtime_cfg: RuntimeConfig) -> int:
    """The bytes a run may plan to use: `memory_budget_gb` GiB, or half of physical memory."""
    if runtime_cfg.memory_budget_gb is not None:
        return int(runtime_cfg.memory_budget_gb * GiB)
    return int(DEFAULT_FRACTION * physical_memory_bytes())


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", GiB), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check(estimate_bytes: int, budget: int, source: str, keys: list[str], what: str) -> None:
    """Raise ConfigError (exit 2) when the estimate exceeds the budget, naming the keys to change."""
    if estimate_bytes <= budget:
        return
    raise ConfigError(source, [(
        keys[0],
        f"{what} needs about {format_bytes(estimate_bytes)}, over the memory budget of {format_bytes(budget)}; "
        f"reduce {', '.join(keys)} (or set runtime.memory_budget_gb)",
    )])


def itemsize(runtime_cfg: RuntimeConfig) -> int:
    return 4 if runtime_cfg.precision == "float32" else 8


# -- simulate -----------------------------------------------------------------------------------


def _states(cfg: SimulateConfig) -> tuple[int, int]:
    """(states saved per sample, states integrated) of one member."""
    model = cfg.model
    if model.geometry == "cable":
        return model.nx, NEURON_STATES[model.name] * model.nx  # V is saved at every node; every state integrated
    if model.geometry == "pde":
        return model.nx, model.nx
    n = NEURON_STATES[model.name]
    return n, n


def simulate_member_bytes(cfg: SimulateConfig) -> int:
    """Bytes one member of a simulate run needs: its saved trajectory (SAFETY copies) and the
    solver's working buffers. A sweep of N members needs about N times this."""
    saved, integrated = _states(cfg)
    size = itemsize(cfg.runtime)
    return SAFETY * cfg.time.num_samples * saved * size + SOLVER_BUFFERS * integrated * size


def sweep_members(cfg: SimulateConfig) -> int:
    """Members of the config's sweep (1 without one), counted without listing them."""
    return 1 if cfg.sweep is None else cfg.sweep.member_count


def check_simulate(cfg: SimulateConfig, source: str) -> None:
    """Sweeps run in chunks sized from the budget (neurocli/numerics/solve.py `plan_chunks`), so
    one member (or `runtime.chunk_size` members) and the kept trajectories are what must fit."""
    members = sweep_members(cfg)
    if members > MAX_MEMBERS:
        raise ConfigError(source, [("sweep", f"has {members} members; at most {MAX_MEMBERS}")])
    per_member = simulate_member_bytes(cfg)
    at_once = min(members, cfg.runtime.chunk_size or 1)
    kept = 0 if cfg.sweep is None else min(members, cfg.output.trajectory_members)
    keys = ["runtime.chunk_size"] if cfg.runtime.chunk_size and at_once > 1 else []  # it multiplies the rest
    keys += ["time.save_every", "time.t1"]
    if cfg.model.geometry in ("cable", "pde"):
        keys.append("model.nx")
    what = f"simulate ({at_once} member{'s' if at_once > 1 else ''} at once × {cfg.time.num_samples} samples)"
    if kept:  # the kept members' full trajectories, gathered chunk by chunk
        keys.append("output.trajectory_members")
        what = what[:-1] + f", {kept} trajectories kept)"
    check((at_once + kept) * per_member, budget_bytes(cfg.runtime), source, keys, what)


# -- train-pinn ---------------------------------------------------------------------------------


def _mlp_parameters(inputs: int, width: int, depth: int) -> int:
    return inputs * width + width + (depth - 1) * (width * width + width) + width + 1


def pinn_network_parameters(cfg: TrainPinnConfig) -> int:
    net = cfg.network
    inputs = 2 if net.fourier is None else 2 + 2 * net.fourier.features
    if net.kind == "mlp":
        return _mlp_parameters(inputs, net.width, net.depth)
    per_layer = 4 * (inputs * net.width + net.width * net.width + net.width)
    return inputs * net.width + net.width + net.depth * per_layer + net.width + 1


def pinn_bytes(cfg: TrainPinnConfig) -> int:
    """Members × (points per step × activations × derivative passes + parameters × optimiser
    copies) + the output grid and the float64 reference on it."""
    net, col, out = cfg.network, cfg.collocation, cfg.output
    members = cfg.member_count
    size = itemsize(cfg.runtime)
    has_lbfgs = any(p.optimizer == "lbfgs" for p in cfg.phases)
    points = col.batch
    if has_lbfgs:
        points = max(points, col.points if col.kind == "fixed" else col.lbfgs_points)
    activations = net.width * net.depth * (DGM_GATES if net.kind == "dgm" else 1)
    if net.fourier is not None:
        activations += 2 * net.fourier.features
    train = points * activations * DERIVATIVE_PASSES
    if col.adaptive is not None:  # residuals of the candidates, no parameter gradient
        train = max(train, col.adaptive.candidates * activations * DERIVATIVE_PASSES // 2)
    pool = 2 * col.points if (col.kind == "fixed" or col.adaptive is not None) else 0
    memory = max((p.lbfgs_memory for p in cfg.phases if p.optimizer == "lbfgs"), default=0)
    params = pinn_network_parameters(cfg) * (4 + 2 * memory)
    grid = out.nt * out.nx * 3 + out.nt * cfg.reference_nx * 2  # predictions, reference, error (float64)
    return members * (SAFETY * (train + pool + params) * size + grid * 8)


def check_pinn(cfg: TrainPinnConfig, source: str) -> None:
    members = cfg.member_count
    where = "pde.a" if cfg.sweep is None else "sweep"
    if members > MAX_MEMBERS:
        raise ConfigError(source, [(where, f"has {members} members; at most {MAX_MEMBERS}")])
    keys = ["network.width", "network.depth", "collocation.batch", "collocation.points",
            "collocation.lbfgs_points", "output.nt", "output.nx", where]
    what = f"train-pinn ({members} member{'s' if members > 1 else ''}, {pinn_network_parameters(cfg)} parameters each)"
    check(pinn_bytes(cfg), budget_bytes(cfg.runtime), source, keys, what)


# -- train-ude ----------------------------------------------------------------------------------


def ude_network_parameters(cfg: TrainUDEConfig) -> int:
    net = cfg.ude.network
    return _mlp_parameters(len(cfg.network_inputs), net.width, net.depth)


def ude_bytes(cfg: TrainUDEConfig, samples: int | None = None, extra_parameters: int = 0) -> int:
    """The trajectory (SAFETY copies), parameters and optimiser state, the direct adjoint's unrolled
    steps, and Levenberg–Marquardt's Jacobian (residuals × parameters) and normal matrix."""
    size = itemsize(cfg.runtime)
    states = len(STATE_NAMES[cfg.model.name])
    if samples is None:  # a recording is checked once read (`check_recording`)
        samples = cfg.data.time.num_samples if isinstance(cfg.data, SimulatedData) else 0
    residuals = samples * states
    params = (ude_network_parameters(cfg) if cfg.ude.replaced != "none" else 0) + extra_parameters
    memory = max((p.lbfgs_memory for p in cfg.train.phases if p.optimizer == "lbfgs"), default=0)
    total = SAFETY * residuals * size + params * (4 + 2 * memory) * size
    if cfg.solve.adjoint == "direct":
        total += cfg.solve.solver.max_steps * states * SOLVER_BUFFERS * size
    if any(p.optimizer == "levenberg_marquardt" for p in cfg.train.phases):
        # one tangent per parameter (an identity of params², carried through the solve), the
        # Jacobian, the damped normal matrix JᵀJ + λD and its factorisation (neurocli/training/
        # levenberg_marquardt.py). Measured (ude_smoke, adam + lbfgs + LM): width 1000 (3001
        # parameters) peaked 338 MiB above width 16; this estimates 349 MiB more.
        total += (LM_SQUARES * params * params + residuals * params + SOLVER_BUFFERS * states * params) * size
    return total


def check_ude(cfg: TrainUDEConfig, source: str) -> None:
    """A sweep trains every member at once: members × one member's estimate."""
    members = 1 if cfg.sweep is None else cfg.sweep.member_count
    keys = ["ude.network.width", "ude.network.depth", "data.time.save_every", "train.phases"]
    what = f"train-ude ({ude_network_parameters(cfg)} network parameters)"
    if members > 1:
        keys, what = ["sweep", *keys], f"train-ude ({members} members × {ude_network_parameters(cfg)} network parameters)"
    check(members * ude_bytes(cfg), budget_bytes(cfg.runtime), source, keys, what)


def check_recording(cfg: TrainUDEConfig, samples: int, sweeps: int, source: str) -> None:
    """A recording, once read: `samples` over all sweeps, the fitted parameters and start offsets."""
    extra = len(cfg.fit.parameters) + sweeps if cfg.fit is not None else 0
    what = f"train-ude on {sweeps} sweep(s) of {samples // max(sweeps, 1)} samples"
    check(ude_bytes(cfg, samples, extra), budget_bytes(cfg.runtime), source,
          ["data.sweeps", "ude.network.width", "train.phases"], what)


def check_config(cfg, source: str) -> None:
    """The memory check for any command's config (a schema without an estimate passes)."""
    if isinstance(cfg, SimulateConfig):
        check_simulate(cfg, source)
    elif isinstance(cfg, TrainPinnConfig):
        check_pinn(cfg, source)
    elif isinstance(cfg, TrainUDEConfig):
        check_ude(cfg, source)

