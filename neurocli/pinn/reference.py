"""The reference every PINN run is checked against: `simulate`'s reaction_diffusion model (finite
differences, method of lines), all members in one vmapped float64 solve over their swept (a, k),
on a grid that contains the output grid. A swept pde.T solves every member on its own clock
(models/time_scaled.py): one solve to s = pde.T, member i's times s · T_i / pde.T.

Precision: JAX's x64 switch is process-wide, and the PINN trains in float32 (runtime.precision).
The reference alone runs inside `jax.enable_x64(True)` (a scoped setting), so its model, solve and
arrays are float64 while everything outside stays in the configured precision.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.models import build_model
from neurocli.models.time_scaled import TimeScaled
from neurocli.pinn.members import clock, column, constants, members_of
from neurocli.pinn.setup import model_boundary, model_config
from neurocli.numerics.solve import Problem, SolveSpec, run_solve


@dataclasses.dataclass
class Reference:
    t: np.ndarray  # (nt,) the output grid; (members, nt) when pde.T is swept (each member's times)
    x: np.ndarray  # (nx,)
    a: np.ndarray  # (members,)
    k: np.ndarray  # (members,)
    T: np.ndarray  # (members,) each member's final time
    u: np.ndarray  # (members, nt, nx), float64
    boundary: str
    solver_nx: int
    num_steps: list[int]
    compile_s: float
    run_s: float


def output_grid(cfg: TrainPinnConfig) -> tuple[np.ndarray, np.ndarray]:
    out = cfg.output
    return np.linspace(0.0, cfg.pde.T, out.nt), np.linspace(0.0, cfg.pde.length, out.nx)


def solve_reference(cfg: TrainPinnConfig) -> Reference:
    members = members_of(cfg)
    binding = cfg.binding()
    values = constants(cfg, members)
    a, k, T = (column(cfg, values, p) for p in ("pde.a", "pde.k", "pde.T"))
    nx = cfg.reference_nx
    t, x = output_grid(cfg)
    clocked = clock(cfg) is not None  # pde.T swept: every member solved on its own clock s ∈ [0, pde.T]
    inner = ("model", "inner") if clocked else ("model",)
    targets = [("model", "horizon") if "time" in binding[name].moves() else (*inner, *binding[name].target)
               for name in members.names]  # where the member's value lives in the Problem
    with jax.enable_x64(True):
        model = build_model(model_config(cfg, float(a[0]), float(k[0]), nx=nx))
        if clocked:
            model = TimeScaled(model, jnp.asarray(float(T[0])), float(cfg.pde.T))
        spec = SolveSpec(cfg.reference.solver, 0.0, float(cfg.pde.T), t)
        out = run_solve(Problem(model), spec, targets, members.values)
        u = np.asarray(model.full_field(jnp.asarray(out.ys)), dtype=np.float64)
    stride = (nx - 1) // (x.size - 1)
    times = t if not clocked else np.outer(T / float(cfg.pde.T), t)  # each member's own times
    return Reference(
        times, x, a, k, T, u[:, :, ::stride], model_boundary(cfg.pde.boundary), nx,
        [int(s) for s in np.atleast_1d(out.num_steps)], out.compile_s, out.run_s,
    )
