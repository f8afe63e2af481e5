"""A cable PINN's reference and its measurements: simulate's cable model, stimulus and IMEX solver
on the model's grid, every state saved, in float64 (`jax.enable_x64`, scoped: training stays in
its precision); the conduction velocity between `pde.velocity_points` as simulate times it."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.analysis.front import first_crossing, nearest_node
from neurocli.config.pinn import TrainPinnConfig
from neurocli.models import MODELS, build_model, build_stimulus
from neurocli.numerics.solve import Problem, SolveSpec, run_solve


@dataclasses.dataclass
class CableReference:
    t: np.ndarray  # (nt,)
    x: np.ndarray  # (nx,) the output grid: every stride-th node of the model's
    fields: np.ndarray  # (fields, nt, nx) float64
    names: tuple[str, ...]
    solver_nx: int
    num_steps: int
    compile_s: float
    run_s: float


def output_grid(cfg: TrainPinnConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """(t, x, stride): output.nt times over [0, T]; output.nx of the model's nodes, every stride-th."""
    nx = cfg.pde.cable.nx
    stride = (nx - 1) // (cfg.output.nx - 1)
    return np.linspace(0.0, cfg.pde.T, cfg.output.nt), np.linspace(0.0, cfg.pde.length, nx)[::stride], stride


def solve_reference(cfg: TrainPinnConfig) -> CableReference:
    pde = cfg.pde
    t, x, stride = output_grid(cfg)
    with jax.enable_x64(True):
        model = build_model(pde.cable)
        stimulus = build_stimulus(pde.stimulus)
        spec = SolveSpec(cfg.reference.solver, 0.0, float(pde.T), t, tuple(stimulus.jump_times()))
        out = run_solve(Problem(model, stimulus), spec)
        ys = np.asarray(model.nodes(jnp.asarray(out.ys)), dtype=np.float64)  # (nt, fields, nx)
    fields = np.transpose(ys, (1, 0, 2))[:, :, ::stride]
    return CableReference(t, x, fields, pde.field_names, pde.cable.nx, int(np.asarray(out.num_steps)),
                          out.compile_s, out.run_s)


def conduction_velocity(cfg: TrainPinnConfig, t: np.ndarray, x: np.ndarray, V: np.ndarray) -> float:
    """(x₂ − x₁) / (t₂ − t₁) between the nodes nearest `pde.velocity_points`, from the first upward
    crossings of `pde.spike_threshold`, in m/s for hh_cable (cm/ms × 10), in length per time unit for
    the dimensionless cable; NaN where the impulse did not reach both points in order."""
    pde = cfg.pde
    i, j = (nearest_node(x, p * pde.length) for p in pde.velocity_points)
    ti, tj = first_crossing(t, V[:, i], pde.spike_threshold), first_crossing(t, V[:, j], pde.spike_threshold)
    if not (np.isfinite(ti) and np.isfinite(tj)) or tj <= ti:
        return float("nan")
    return float((x[j] - x[i]) / (tj - ti)) * MODELS[pde.model].velocity_scale
