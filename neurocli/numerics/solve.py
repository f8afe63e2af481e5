"""One JIT-compiled diffrax solve of a model under a stimulus; sweeps vmapped in the same solve.

A sweep member differs from the base problem in one or more scalar fields (e.g.
`stimulus.amplitude`, `model.temperature_C`). `run_solve` runs all members in one `jax.vmap`ed,
`jax.jit`ed solve and returns what each saved; `run_chunks` runs them in fixed-size chunks with a
per-member analysis inside the compiled solve, so a chunk returns small arrays: one compilation
for every chunk (the last is padded), the member axis sharded over every device of every process.
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
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array, Float

from neurocli.numerics.block_tridiagonal import BlockTridiagonalJacobian
from neurocli.config.common import IMEX_SOLVERS, IMPLICIT_SOLVERS
from neurocli.numerics.implicit_stages import OneChordStep
from neurocli.members.binding import set_values, value_at
from neurocli.members.placement import Placement, global_mesh
from neurocli.models.base import AbstractModel, AbstractPDEModel
from neurocli.models.stimulus import AbstractStimulus, NoStimulus
from neurocli.numerics.program_cache import compile_cached

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
    into rounding noise there and rejects steps: see neurocli/numerics/implicit_stages.py)."""
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


@dataclasses.dataclass(frozen=True)
class SolverSettings:
    """The solver settings a compiled solve closes over: plain, frozen, hashable (a
    `config.common.SolverConfig` converts with `SolverSettings.of`)."""

    name: str = "tsit5"
    rtol: float = 1e-8
    atol: float = 1e-8
    dt0: float | None = None
    dtmax: float | None = None
    adaptive: bool = True
    max_steps: int = 1_000_000

    @classmethod
    def of(cls, cfg) -> SolverSettings:
        if isinstance(cfg, cls):
            return cfg
        return cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls)})


def make_controller(cfg: SolverSettings, jump_ts: Sequence[float]):
    if not cfg.adaptive:
        return diffrax.ConstantStepSize()
    pid = diffrax.PIDController(rtol=cfg.rtol, atol=cfg.atol, dtmax=cfg.dtmax)
    if not jump_ts:
        return pid
    return diffrax.ClipStepSizeController(pid, jump_ts=jnp.asarray(sorted(set(jump_ts))))


@dataclasses.dataclass(frozen=True)
class SolveSpec:
    """Everything static about a solve: solver settings, the time span and output grid.
    `solver` may be given as a config section; it is stored as `SolverSettings`."""

    solver: SolverSettings
    t0: float
    t1: float
    ts: np.ndarray
    jump_ts: tuple[float, ...] = ()
    save: Callable | None = None  # maps (t, y) -> what is kept at each output time

    def __post_init__(self):
        object.__setattr__(self, "solver", SolverSettings.of(self.solver))


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
    return sol.ys, sol.stats["num_steps"], sol.stats["num_rejected_steps"], jax.tree.leaves(sol.result)[0]


@dataclasses.dataclass
class SolveOutput:
    ts: np.ndarray
    ys: np.ndarray  # (nt, ...) or (members, nt, ...)
    num_steps: np.ndarray
    num_rejected_steps: np.ndarray
    compile_s: float
    run_s: float
    cache_status: str | None = None  # the program cache's outcome (hit, miss, fallback, uncached, off)


def set_fields(problem: Problem, paths: Sequence[str | tuple[str, ...]], row) -> Problem:
    """`problem` with the scalar at each dotted path (or chain of attributes) replaced by row[j]."""
    return set_values(problem, paths, row)


class _Slot:
    def __init__(self, index: int):
        self.index = index


def swept_slots(dynamic, paths: Sequence[str | tuple[str, ...] | None], dtype) -> tuple[tuple[int, ...], np.ndarray] | None:
    """The swept parameters as data rather than program: (the positions of the problem's scalar
    leaves of the rows' dtype, and for each path the index among them of the leaf it names;
    len(scalars) for a path that names no field: a member's final time). A member's problem is
    then those scalars with row[j] written at where[j], the same values `set_fields` puts there,
    and sweeps of other parameters of one model share one compiled solve. None (the paths stay in
    the program) when a path names anything but such a leaf, or a scalar is weakly typed (its
    replacement would not be)."""
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    scalars = tuple(i for i, leaf in enumerate(leaves)
                    if getattr(leaf, "shape", None) == () and getattr(leaf, "dtype", None) == dtype)
    if any(getattr(leaves[i], "weak_type", True) for i in scalars):
        return None
    slot = {i: k for k, i in enumerate(scalars)}
    numbered = jax.tree_util.tree_unflatten(treedef, [_Slot(i) for i in range(len(leaves))])
    where = []
    for target in paths:
        if target is None:
            where.append(len(scalars))
            continue
        try:
            node = value_at(numbered, target)
        except AttributeError:
            return None
        if not isinstance(node, _Slot) or node.index not in slot:
            return None
        where.append(slot[node.index])
    named = [w for w in where if w < len(scalars)]
    if len(set(named)) != len(named):
        return None  # one field swept twice: set_fields's order decides, keep it
    return scalars, np.asarray(where, dtype=np.int32)


def solve_program(problem: Problem, spec: SolveSpec, sweep_path: str | Sequence[str] | None = None, values=None):
    """(fn, dynamic, values, members) of `run_solve`: the function compiled (and cached) for this
    solve, the arguments it takes, and the member count (None: one solve)."""
    dynamic, static = eqx.partition(problem, eqx.is_array)

    if sweep_path is None:

        def fn(dynamic, values):
            return solve_one(eqx.combine(dynamic, static), spec)

        return fn, dynamic, values, None
    paths = (sweep_path,) if isinstance(sweep_path, str) else tuple(sweep_path)

    def fn(dynamic, values):
        base = eqx.combine(dynamic, static)
        return jax.vmap(lambda row: solve_one(set_fields(base, paths, row), spec))(values)

    table = np.asarray(values, dtype=float).reshape(len(values), len(paths))
    return fn, dynamic, Placement(len(table)).place(jnp.asarray(table)), len(table)


def run_solve(problem: Problem, spec: SolveSpec, sweep_path: str | Sequence[str] | None = None, values=None) -> SolveOutput:
    """Compile (timed) and run (timed) one solve, or one vmapped solve over sweep `values`:
    (members,) for one path, (members, paths) for a sequence of paths."""
    fn, dynamic, values, n = solve_program(problem, spec, sweep_path, values)
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
    return SolveOutput(np.asarray(spec.ts), ys, steps, rejected, compile_s, run_s, compiled.outcome.status)


@dataclasses.dataclass
class ChunkPlan:
    """How `members` members run: `chunk` per solve (a multiple of the global device count),
    chunks `first` … `count - 1` still to do."""

    members: int
    chunk: int
    first: int = 0

    @property
    def count(self) -> int:
        return -(-self.members // self.chunk)

    def bounds(self, index: int) -> tuple[int, int]:
        return index * self.chunk, min(self.members, (index + 1) * self.chunk)


def plan_chunks(members: int, member_bytes: int, budget_bytes: int, chunk_size: int | None = None,
                devices: int | None = None) -> ChunkPlan:
    """Chunks that fill every device (a multiple of the device count): `chunk_size`, or as few as
    the budget allows, evened out so that the last is not mostly padding (35 members on 2 devices:
    one chunk of 36, not chunks of 34 and 34)."""
    ndev = devices or jax.device_count()
    cap = chunk_size if chunk_size is not None else max(1, budget_bytes // max(1, member_bytes))
    cap = max(ndev, cap // ndev * ndev)
    if chunk_size is None:
        cap = -(-members // -(-members // cap))  # the members spread evenly over the fewest chunks
    return ChunkPlan(members, min(-(-cap // ndev) * ndev, -(-members // ndev) * ndev))


@dataclasses.dataclass
class ChunkTimes:
    compile_s: float
    run_s: float
    chunks_run: int
    kept: np.ndarray | None = None  # (len(keep), nt, ...): what the kept members saved
    cache_status: str | None = None  # the program cache's outcome for the chunk program


def run_chunks(
    problem: Problem,
    spec: SolveSpec,
    paths: Sequence[str],
    table: np.ndarray,
    analyse: Callable,
    plan: ChunkPlan,
    on_chunk: Callable[[int, int, int, dict], None],
    keep: Sequence[int] = (),
    label: bool = True,
    then: str | None = None,
) -> ChunkTimes:
    """Solve the members (rows of `table`, one column per dotted path in `paths`) of chunks
    `plan.first` … in order. Each chunk is one jitted, vmapped solve, sharded over the global
    device mesh (each device loops over its own members, shard_map), that returns per member
    `analyse(ts, saved, member_problem)` (a dict of small arrays) plus
    `num_steps`, `num_rejected_steps`; `on_chunk(index, start, stop, results)` gets them as NumPy
    arrays (real members only), on every process. A failed member raises SolveFailed.

    The members `keep` (indices into table) also return everything they saved, gathered inside
    the same compiled solve (ChunkTimes.kept); kept members of chunks finished before `plan.first`
    run once more in an extra chunk of their own, through the same executable."""
    paths = tuple(paths)
    table = np.asarray(table, dtype=float).reshape(len(table), len(paths))
    keep = np.asarray(sorted(set(int(i) for i in keep)), dtype=int)
    n_keep = max(1, min(len(keep), plan.chunk))  # static: kept members gathered per chunk
    dynamic, static = eqx.partition(problem, eqx.is_array)
    ts = jnp.asarray(spec.ts)
    # Implicit solvers stay a vmap over the sharded axis (a collective per step) until equinox
    # checks closure-converted inputs under shard_map (diffrax#765, equinox PR #1261).
    per_device = spec.solver.name not in IMPLICIT_SOLVERS + IMEX_SOLVERS
    # Explicit solvers only: with the swept positions an input, every scalar parameter is a
    # per-member value in the program. An explicit step computes each member alone, to the same
    # bits either way (tested); the implicit solvers' linear algebra, batched over members of
    # another count, rounded otherwise and moved a PDE front's speed by 1e-4 (a lone run against
    # its member in a sweep), so their swept paths stay inside the program.
    rows_dtype = jnp.asarray(table[:0]).dtype  # the members' values as the program receives them
    slots = swept_slots(dynamic, paths, rows_dtype) if per_device else None
    if slots is None:
        def member_problem(dynamic, row):
            return set_fields(eqx.combine(dynamic, static), paths, row)
    else:  # which parameters are swept is an input, not in the program: one program for any of them
        scalars, where = slots
        dynamic = (dynamic, jnp.asarray(where, dtype=jnp.int32))

        def member_problem(inputs, row):
            dynamic, where = inputs
            leaves, treedef = jax.tree_util.tree_flatten(dynamic)
            values = jnp.stack([leaves[i] for i in scalars]).at[where].set(row, mode="drop")
            for k, i in enumerate(scalars):
                leaves[i] = values[k]
            return eqx.combine(jax.tree_util.tree_unflatten(treedef, leaves), static)

    def local(dynamic, rows):
        """One device's members. Under shard_map every device runs its own solver loop; a vmapped
        loop over a sharded axis agrees on `any member not done` across all devices, a collective
        every step (across processes a network round trip per step: two local processes solved
        200 members in chunks of 50 20x slower that way: 24.7 s against 1.2 s)."""

        def member(row):
            problem = member_problem(dynamic, row)
            saved, steps, rejected, result = solve_one(problem, spec)
            out = dict(analyse(ts, saved, problem))
            finite = jnp.all(jnp.isfinite(saved))
            out.update(num_steps=steps, num_rejected_steps=rejected, _result=result, _finite=finite)
            return out, saved

        return jax.vmap(member)(rows)

    def fn(dynamic, rows, kept_rows):  # traced once: every chunk is padded to one width
        # the mesh is rebuilt here (the same devices), so that the closure holds only what the
        # program cache can fingerprint: the key covers the arguments' shardings
        mesh = global_mesh()
        spread = local if not per_device else jax.shard_map(
            local, mesh=mesh, in_specs=(PartitionSpec(), PartitionSpec("members")), out_specs=PartitionSpec("members"),
            check_vma=False)  # diffrax's loop carries are not typed for varying manual axes
        out, saved = spread(dynamic, rows)
        out["_kept"] = saved[kept_rows]
        return jax.lax.with_sharding_constraint(out, NamedSharding(mesh, PartitionSpec()))  # every process gets all

    # every chunk padded to one width (one compilation) that fills every device: a multiple of
    # the device count (a sweep resumed on more devices keeps its chunks, as progress counts them)
    width = Placement(plan.chunk).width
    dynamic = Placement(width).put(dynamic, replicate=True)

    def args_of(rows: np.ndarray, kept_local: np.ndarray):
        placement = Placement(len(rows), width)
        kept_local = np.concatenate([kept_local, np.zeros(n_keep - len(kept_local), dtype=int)]).astype(np.int32)
        return dynamic, placement.place(rows), placement.put(kept_local, replicate=True)

    times = ChunkTimes(0.0, 0.0, 0)
    kept: dict[int, np.ndarray] = {}
    todo = [(index, *plan.bounds(index)) for index in range(plan.first, plan.count)]
    missing = keep[keep < plan.bounds(plan.first)[0]] if plan.first < plan.count else keep
    extra = [missing[i:i + plan.chunk] for i in range(0, len(missing), plan.chunk)]
    if not todo and not extra:
        return times

    def run(args):
        start_time = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.run_s += time.perf_counter() - start_time
        return {k: np.asarray(v) for k, v in out.items()}

    rows = table[todo[0][1]:todo[0][2]] if todo else table[extra[0]]
    example_args = args_of(rows, np.zeros(0, dtype=int))
    start_time = time.perf_counter()
    compiled = compile_cached(fn, *example_args, then=then)  # a warm run neither traces nor compiles
    times.compile_s = time.perf_counter() - start_time
    times.cache_status = compiled.outcome.status
    for index, start, stop in todo:
        inside = keep[(keep >= start) & (keep < stop)]
        out = run(args_of(table[start:stop], inside - start))
        kept.update(zip(inside.tolist(), out.pop("_kept")[: len(inside)]))
        out = {k: v[: stop - start] for k, v in out.items()}
        result, finite = out.pop("_result"), out.pop("_finite")
        _check_members(result, finite, out["num_steps"], start, label)
        on_chunk(index, start, stop, out)
        times.chunks_run += 1
    for members in extra:  # kept members of chunks finished before this run
        out = run(args_of(table[members], np.arange(len(members))))
        kept.update(zip(members.tolist(), out["_kept"][: len(members)]))
    if len(keep):
        times.kept = np.stack([kept[i] for i in keep.tolist()])
    return times


def result_message(code: int) -> str:
    """diffrax's message for a solve's result code (through its public pytree form: a RESULTS item
    is a pytree whose one leaf is the code)."""
    item = jax.tree.unflatten(jax.tree.structure(diffrax.RESULTS.successful), [np.asarray(code, np.int32)])
    return diffrax.RESULTS[item]


def _check_members(result: np.ndarray, finite: np.ndarray, steps: np.ndarray, offset: int,
                   label: bool = True) -> None:
    """Raise SolveFailed naming (up to 5 of) the members whose solve failed or is not finite;
    `offset`: the first member's index; `label`: name members (False for a single solve)."""
    result, finite, steps = np.atleast_1d(result), np.atleast_1d(finite), np.atleast_1d(steps)
    bad = np.nonzero((result != 0) | ~finite)[0]
    if bad.size == 0:
        return
    messages = []
    for i in bad[:5]:
        why = result_message(int(result[i])) if result[i] != 0 else "non-finite values"
        prefix = f"member {offset + int(i)}: " if label else ""
        messages.append(f"{prefix}{why} (after {int(steps[i])} steps)")
    more = f" (and {bad.size - 5} more members)" if bad.size > 5 else ""
    raise SolveFailed("solve failed: " + "; ".join(messages) + more)


def _check(result: np.ndarray, ys: np.ndarray, steps: np.ndarray) -> None:
    """One solve, or one vmapped solve of every member (leading axis of `ys`)."""
    codes = np.atleast_1d(result)
    finite = np.isfinite(ys.reshape(codes.size, -1)).all(axis=1)
    _check_members(codes, finite, steps, 0, label=codes.size > 1)
