"""The reference every PINN run is checked against: `simulate`'s reaction_diffusion model (finite
differences, method of lines), all members in one vmapped float64 solve over their swept (a, k),
on a grid that contains the output grid.

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
from neurocli.pinn.members import constants, members_of
from neurocli.pinn.setup import model_boundary, model_config
from neurocli.numerics.solve import Problem, SolveSpec, run_solve


@dataclasses.dataclass
class Reference:
    t: np.ndarray  # (nt,) the output grid
    x: np.ndarray  # (nx,)
    a: np.ndarray  # (members,)
    k: np.ndarray  # (members,)
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
    a, k = constants(cfg, members).T
    nx = cfg.reference_nx
    t, x = output_grid(cfg)
    targets = [("model", *binding[name].target) for name in members.names]  # where the PINN's model has it
    with jax.enable_x64(True):
        model = build_model(model_config(cfg, float(a[0]), float(k[0]), nx=nx))
        spec = SolveSpec(cfg.reference.solver, 0.0, float(cfg.pde.T), t)
        out = run_solve(Problem(model), spec, targets, members.values)
        u = np.asarray(model.full_field(jnp.asarray(out.ys)), dtype=np.float64)
    stride = (nx - 1) // (x.size - 1)
    return Reference(
        t, x, a, k, u[:, :, ::stride], model_boundary(cfg.pde.boundary), nx,
        [int(s) for s in np.atleast_1d(out.num_steps)], out.compile_s, out.run_s,
    )
