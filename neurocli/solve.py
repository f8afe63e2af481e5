"""One JIT-compiled diffrax solve of a model under a stimulus; sweeps vmapped in the same solve.

A sweep member differs from the base problem in one scalar field (e.g. `stimulus.amplitude`);
all members run in one `jax.vmap`ed, `jax.jit`ed solve, their axis sharded across devices when
there are several.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Float

from neurocli.block_tridiagonal import BlockTridiagonalJacobian
from neurocli.config.common import IMEX_SOLVERS, IMPLICIT_SOLVERS, SolverConfig
from neurocli.implicit_stages import OneChordStep
from neurocli.models.base import AbstractModel, AbstractPDEModel
from neurocli.models.stimulus import AbstractStimulus, NoStimulus
from neurocli.program_cache import compile_cached

SOLVERS = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "bosh3": diffrax.Bosh3,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "kvaerno3": diffrax.Kvaerno3,
    "kvaerno4": diffrax.Kvaerno4,
    "kvaerno5": diffrax.Kvaerno5,
    "kencarp3": diffrax.KenCarp3,
    "kencarp4": diffrax.KenCarp4,
    "kencarp5": diffrax.KenCarp5,
}


class SolveFailed(RuntimeError):
    """A solve that did not reach t1 (or produced non-finite values)."""


class Problem(eqx.Module):
    """What one solve integrates: a model, its stimulus, and optional initial-state overrides."""

    model: AbstractModel
    stimulus: AbstractStimulus = NoStimulus()
    initial_values: Float[Array, " k"] | None = None
    initial_index: tuple[int, ...] = eqx.field(static=True, default=())

    def y0(self) -> Float[Array, " state"]:
        y0 = self.model.initial_state()
        if self.initial_index:
            y0 = y0.at[jnp.asarray(self.initial_index)].set(self.initial_values)
        return y0


class DrivenVectorField(eqx.Module):
    """(t, y, args) -> dy/dt of a model under a stimulus. A Module, not a closure, so the model's
    arrays are leaves of the ODE term (BacksolveAdjoint differentiates with respect to them)."""

    model: AbstractModel
    stimulus: AbstractStimulus

    def __call__(self, t, y, args):
        return self.model.vector_field(t, y, self.stimulus(t))


def make_terms(problem: Problem, imex: bool):
    model, stimulus = problem.model, problem.stimulus
    if imex:
        explicit = diffrax.ODETerm(lambda t, y, args: model.split_vector_field(t, y, stimulus(t))[0])
        implicit = diffrax.ODETerm(lambda t, y, args: model.split_vector_field(t, y, stimulus(t))[1])
        return diffrax.MultiTerm(explicit, implicit)
    return diffrax.ODETerm(DrivenVectorField(model, stimulus))


def make_solver(name: str, model: AbstractModel):
    """The diffrax solver; implicit ones exploit a block-tridiagonal Jacobian when the model has
    one. IMEX on a PDE model: the stiff part's own structure (`split_jacobian_block_size`), and
    one chord step per stage when it is linear (`split_linear`; diffrax's VeryChord iterates
    into rounding noise there and rejects steps: see neurocli/implicit_stages.py)."""
    if name not in IMPLICIT_SOLVERS + IMEX_SOLVERS:
        return SOLVERS[name]()
    split = name in IMEX_SOLVERS and isinstance(model, AbstractPDEModel)
    block = type(model).jacobian_block_size
    if split and type(model).split_jacobian_block_size is not None:
        block = type(model).split_jacobian_block_size
    linear_solver = lx.AutoLinearSolver(well_posed=None) if block is None else BlockTridiagonalJacobian(block)
    if split and type(model).split_linear:
        return SOLVERS[name](root_finder=OneChordStep(linear_solver=linear_solver))
    if block is None:
        return SOLVERS[name]()
    root_finder = diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=linear_solver)
    return SOLVERS[name](root_finder=root_finder)


def make_controller(cfg: SolverConfig, jump_ts: Sequence[float]):
    if not cfg.adaptive:
        return diffrax.ConstantStepSize()
    pid = diffrax.PIDController(rtol=cfg.rtol, atol=cfg.atol, dtmax=cfg.dtmax)
    if not jump_ts:
        return pid
    return diffrax.ClipStepSizeController(pid, jump_ts=jnp.asarray(sorted(set(jump_ts))))


@dataclasses.dataclass(frozen=True)
class SolveSpec:
    """Everything static about a solve: solver settings, the time span and output grid."""

    solver: SolverConfig
    t0: float
    t1: float
    ts: np.ndarray
    jump_ts: tuple[float, ...] = ()
    save: Callable | None = None  # maps (t, y) -> what is kept at each output time


def solve_one(problem: Problem, spec: SolveSpec, adjoint=None):
    """Integrate one problem; returns (saved values, num_steps, num_rejected_steps, result code)."""
    cfg = spec.solver
    jump_ts = spec.jump_ts
    if isinstance(spec.t0, (int, float)) and isinstance(spec.t1, (int, float)):
        jump_ts = [t for t in jump_ts if spec.t0 < t < spec.t1]  # else (traced times) all of them
    # no `fn` when saving the state itself: BacksolveAdjoint does not support SaveAt(fn=...)
    if spec.save is None:
        saveat = diffrax.SaveAt(ts=jnp.asarray(spec.ts))
    else:
        saveat = diffrax.SaveAt(ts=jnp.asarray(spec.ts), fn=lambda t, y, args: spec.save(t, y))
    sol = diffrax.diffeqsolve(
        make_terms(problem, cfg.name in IMEX_SOLVERS),
        make_solver(cfg.name, problem.model),
        spec.t0,
        spec.t1,
        cfg.dt0,
        problem.y0(),
        saveat=saveat,
        stepsize_controller=make_controller(cfg, jump_ts),
        max_steps=cfg.max_steps,
        adjoint=adjoint if adjoint is not None else diffrax.RecursiveCheckpointAdjoint(),
        throw=False,
    )
    return sol.ys, sol.stats["num_steps"], sol.stats["num_rejected_steps"], sol.result._value


def field_setter(path: str) -> Callable:
    """`"model.g_Na"` -> a `where` function for `eqx.tree_at` on a Problem."""
    parts = path.split(".")

    def where(problem):
        node = problem
        for part in parts:
            node = getattr(node, part)
        return node

    return where


@dataclasses.dataclass
class SolveOutput:
    ts: np.ndarray
    ys: np.ndarray  # (nt, ...) or (members, nt, ...)
    num_steps: np.ndarray
    num_rejected_steps: np.ndarray
    compile_s: float
    run_s: float


def member_sharding(n_members: int):
    """Shard the member axis over all devices when there is more than one (and pad to fit)."""
    devices = jax.devices()
    if len(devices) < 2:
        return None, n_members
    padded = -(-n_members // len(devices)) * len(devices)
    return NamedSharding(Mesh(np.array(devices), ("members",)), PartitionSpec("members")), padded


def pad_members(tree, n: int, padded: int):
    """Repeat the last member (leading axis) up to `padded` members (to fill every device)."""
    if padded == n:
        return tree
    return jax.tree_util.tree_map(lambda v: jnp.concatenate([v, jnp.repeat(v[-1:], padded - n, axis=0)]), tree)


def run_solve(problem: Problem, spec: SolveSpec, sweep_path: str | None = None, values=None) -> SolveOutput:
    """Compile (timed) and run (timed) one solve, or one vmapped solve over sweep `values`."""
    dynamic, static = eqx.partition(problem, eqx.is_array)

    if sweep_path is None:

        def fn(dynamic, values):
            return solve_one(eqx.combine(dynamic, static), spec)

        n = None
    else:
        where = field_setter(sweep_path)

        def fn(dynamic, values):
            base = eqx.combine(dynamic, static)
            return jax.vmap(lambda v: solve_one(eqx.tree_at(where, base, v), spec))(values)

        n = len(values)
        sharding, padded = member_sharding(n)
        vals = pad_members(jnp.asarray(np.asarray(values, dtype=float)), n, padded)
        values = vals if sharding is None else jax.device_put(vals, sharding)

    start = time.perf_counter()
    compiled = compile_cached(fn, dynamic, values, then="solving")
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    ys, steps, rejected, result = jax.block_until_ready(compiled(dynamic, values))
    run_s = time.perf_counter() - start

    ys, steps, rejected, result = (np.asarray(a) for a in (ys, steps, rejected, result))
    if n is not None:
        ys, steps, rejected, result = ys[:n], steps[:n], rejected[:n], result[:n]
    _check(result, ys, steps)
    return SolveOutput(np.asarray(spec.ts), ys, steps, rejected, compile_s, run_s)


def _check(result: np.ndarray, ys: np.ndarray, steps: np.ndarray) -> None:
    codes = np.atleast_1d(result)
    finite = np.isfinite(ys.reshape(codes.size, -1)).all(axis=1) if codes.size > 1 else np.array([np.isfinite(ys).all()])
    bad = [i for i in range(codes.size) if codes[i] != 0 or not finite[i]]
    if not bad:
        return
    messages = []
    for i in bad[:5]:
        why = diffrax.RESULTS._index_to_message[int(codes[i])] if codes[i] != 0 else "non-finite values"
        prefix = f"member {i}: " if codes.size > 1 else ""
        messages.append(f"{prefix}{why} (after {int(np.atleast_1d(steps)[i])} steps)")
    more = f" (and {len(bad) - 5} more members)" if len(bad) > 5 else ""
    raise SolveFailed("solve failed: " + "; ".join(messages) + more)
