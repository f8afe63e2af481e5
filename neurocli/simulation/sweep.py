"""`simulate` sweeps (neuron, cable and PDE models): chunked solves with the per-member analysis
inside them, members.csv streamed and resumable, trajectories for `output.trajectory_members`
only, figures and metrics.

Inside a chunk each member's trajectory (every state of a neuron, V on every node of a cable, u
on every node of a PDE) lives only as long as the compiled solve: the chunk returns the analysis
(spike count, the first `analysis.max_spike_times` spike times, rate, peak, velocity …: V at the
output times for a neuron; V at four nodes for a cable: the two velocity points, the recording
site, the far end; u's extremes, its front speed and the share of the line excited at t1 for a
PDE) and the trajectories of the kept members alone, gathered in the same executable.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.analysis import cable as cable_analysis
from neurocli.simulation import cable_outputs
from neurocli.analysis.front import speed_between
from neurocli.members.file import MembersFile
from neurocli.memory import budget_bytes, simulate_member_bytes
from neurocli.run_dir import RunDirectory
from neurocli.members import MemberTable
from neurocli.numerics.solve import ChunkPlan, ChunkTimes, Problem, SolveOutput, SolveSpec, plan_chunks, run_chunks
from neurocli.simulation import k_limit_outputs, solution_outputs, sweep_figures
from neurocli.simulation.problem import FRONT_UNDEFINED, front_nodes, jump_times, rate_window
from neurocli.analysis.spikes import RATE_UNDEFINED, voltage_summary

NEURON_METRICS = ("spike_count", "firing_rate_hz", "peak_V_mV", "min_V_mV")
CABLE_METRICS = ("conduction_velocity_m_per_s", "reached_far_end", "spike_count", "peak_V_mV", "min_V_mV",
                 "spike_half_width_ms")
PDE_METRICS = ("u_min", "u_max", "front_speed", "excited_fraction")
STEP_METRICS = ("num_steps", "num_rejected_steps")
SOLUTION = "solution"
"""members.csv's column of solution ids (analysis.solutions): -1 until every member is solved."""
INTEGERS = {"spike_count", "num_steps", "num_rejected_steps"}
FLAGS = {"reached_far_end"}


def swept_metrics(sweep, table: np.ndarray) -> dict:
    """metrics.json's `swept` and `values`: one parameter: its path and one value per member (as
    RUNS.md has it); several: the list of paths and one row [v₁, v₂, …] per member, with
    `combine` (grid, zip or samples)."""
    table = np.asarray(table)
    if len(sweep.names) == 1:
        return {"swept": sweep.names[0], "values": table[:, 0].tolist()}
    combine = "samples" if sweep.samples is not None else sweep.combine
    return {"swept": list(sweep.names), "values": table.tolist(), "combine": combine}


def chunk_analysis(cfg, problem: Problem, max_times: int | None = None):
    """(save, analyse, metric names): what a chunk keeps per output time, and its analysis
    `analyse(ts, saved, member)` (member: that member's Problem). `max_times`: spike times kept
    per member (default `analysis.max_spike_times`; a lone run keeps every one)."""
    an = cfg.analysis
    thr, k = an.spike_threshold_mV, an.max_spike_times if max_times is None else max_times
    model = problem.model
    if cfg.model.geometry in ("cable", "pde"):
        def save(t, y):  # full_field depends on the static grid only: the base model serves all
            return model.full_field(y)
    if cfg.model.geometry == "pde":
        i, j = front_nodes(cfg, np.asarray(model.grid()))

        def analyse(ts, u, member):  # a swept length or a moves the front's ruler or its level
            speed = speed_between(ts, u[:, i], u[:, j], (j - i) * member.model.spacing(), member.model.a)
            excited = jnp.mean((u[-1] >= member.model.a).astype(u.dtype))  # in the run's precision
            return {"u_min": jnp.min(u), "u_max": jnp.max(u), "front_speed": speed, "excited_fraction": excited}

        return save, analyse, PDE_METRICS
    if cfg.model.geometry == "cable":
        x = np.asarray(model.grid())
        positions, site = cable_outputs.measuring_points(an, x)
        nodes = cable_analysis.recorded_nodes(x, positions, site)
        index = jnp.asarray(nodes)
        steps = nodes[1] - nodes[0]

        def analyse(ts, V, member):  # nodes are fractions of the length: a swept length_cm keeps them
            distance = steps * member.model.spacing()
            return cable_analysis.summary(ts, V[:, index], distance_cm=distance, threshold=thr, max_times=k,
                                          velocity_scale=type(model).velocity_scale)

        return save, analyse, CABLE_METRICS
    window = rate_window(cfg)

    def analyse(ts, ys, member):
        return voltage_summary(ts, ys[:, 0], thr, window, k)

    return None, analyse, NEURON_METRICS


def _agree(plan: ChunkPlan) -> ChunkPlan:
    """With several processes, every one runs process 0's plan (budgets may differ per host)."""
    if jax.process_count() == 1:
        return plan
    from jax.experimental import multihost_utils

    chunk, first = (int(v) for v in multihost_utils.broadcast_one_to_all(np.array([plan.chunk, plan.first])))
    return ChunkPlan(plan.members, chunk, first)


def solve_lone(problem: Problem, cfg) -> tuple[dict, ChunkTimes]:
    """A run without a sweep: the one-row member table through the same chunk driver as a sweep
    (the same compiled analysis), its trajectory kept. Returns (its analysis, as NumPy scalars and
    arrays; the driver's times, with `kept[0]` what it saved at every output time)."""
    members = MemberTable.single()
    every_spike = cfg.time.num_samples // 2 + 1  # upward crossings alternate with downward ones
    save, analyse, _ = chunk_analysis(cfg, problem, every_spike)
    tc = cfg.time
    spec = SolveSpec(cfg.solver, tc.t0, tc.t1, tc.grid, jump_times(cfg), save=save)
    got: dict = {}
    times = run_chunks(problem, spec, members.names, members.values, analyse, ChunkPlan(1, 1),
                       lambda index, start, stop, out: got.update(out), keep=[0], label=False, then="solving")
    return {name: value[0] for name, value in got.items()}, times


def members_header(cfg) -> list[str]:
    """members.csv's columns: the swept parameters, the per-member metrics, (neuron and cable
    models) the first spike times."""
    if cfg.model.geometry == "pde":
        return [*cfg.sweep.names, *PDE_METRICS, *STEP_METRICS, *([SOLUTION] if cfg.analysis.solutions else [])]
    metrics = CABLE_METRICS if cfg.model.geometry == "cable" else NEURON_METRICS
    spikes = (f"spike_{i + 1}_ms" for i in range(cfg.analysis.max_spike_times))
    return [*cfg.sweep.names, *metrics, *STEP_METRICS, *spikes]


def run(problem: Problem, cfg, run_dir: RunDirectory, resume: bool) -> dict:
    sweep = cfg.sweep
    members = cfg.binding().table(sweep)
    names, table = members.names, members.values
    n = len(members)
    save, analyse, metric_names = chunk_analysis(cfg, problem)
    tc = cfg.time
    jumps = jump_times(cfg)
    spec = SolveSpec(cfg.solver, tc.t0, tc.t1, tc.grid, jumps, save=save)
    pde = cfg.model.geometry == "pde"
    k = 0 if pde else cfg.analysis.max_spike_times
    header = members_header(cfg)

    solutions = pde and cfg.analysis.solutions
    integers = INTEGERS | FLAGS | {SOLUTION}
    store = MembersFile.reopen(run_dir, header, n, integers) if resume else None
    if store is not None:
        plan = ChunkPlan(n, store.chunk, store.chunks_done)
    else:
        plan = plan_chunks(n, simulate_member_bytes(cfg), budget_bytes(cfg.runtime), cfg.runtime.chunk_size)
    plan = _agree(plan)
    if store is None:
        store = MembersFile.start(run_dir, header, n, plan.chunk, integers)
        store.chunks_done = plan.first  # processes other than 0 (no files) follow process 0's plan
    if plan.first:
        _say(f"sweep: resuming at chunk {plan.first + 1}/{plan.count} ({plan.first * plan.chunk} members done)")

    def on_chunk(index, start, stop, out):
        columns = [table[start:stop], *(out[m][:, None] for m in (*metric_names, *STEP_METRICS))]
        if k:
            columns.append(out["spike_times_ms"])
        if solutions:
            columns.append(np.full((stop - start, 1), -1))
        store.append(index, np.concatenate([np.asarray(c, dtype=float) for c in columns], axis=1))
        _say(f"sweep: chunk {index + 1}/{plan.count} done (members {start}–{stop - 1} of {n})")

    _say(f"sweep: {n} members in {plan.count} chunks of {plan.chunk}")
    kept = cfg.output.kept_members(n)
    every_field = solutions or (pde and cfg.analysis.k_convergence)
    keep = np.arange(n) if every_field else kept  # solutions, k_convergence: every member's field
    times = run_chunks(problem, spec, names, table, analyse, plan, on_chunk, keep=keep)
    if run_dir.detached:
        return {}
    fields = times.kept
    if every_field:
        times.kept = fields[kept]

    data = store.read()
    per_member = {}
    for m in (*metric_names, *STEP_METRICS):
        col = data[m]
        per_member[m] = col.astype(int).tolist() if m in INTEGERS else (col > 0.5).tolist() if m in FLAGS else col.tolist()
    if k:
        spikes = np.stack([data[f"spike_{i + 1}_ms"] for i in range(k)], axis=1)
        per_member["spike_times_ms"] = [row[np.isfinite(row)].tolist() for row in spikes]

    traj = SolveOutput(tc.grid, times.kept, np.zeros(0), np.zeros(0), 0.0, 0.0)

    metrics = dict(per_member)
    if pde:  # u's extremes over every member (RUNS.md); each member's are in members.csv
        metrics.update(u_min=float(np.nanmin(data["u_min"])), u_max=float(np.nanmax(data["u_max"])))
        metrics.update(sweep_figures.pde(cfg, problem, traj, members, kept, per_member, run_dir))
        undefined = int(np.sum(~np.isfinite(data["front_speed"])))
        if undefined:
            metrics["front_speed_note"] = f"null for {undefined} of {n} members: {FRONT_UNDEFINED}"
    elif cfg.model.geometry == "cable":
        metrics.update(sweep_figures.cable(cfg, problem, traj, members, kept, per_member, run_dir))
    else:
        metrics.update(sweep_figures.neuron(cfg, problem, traj, members, kept, per_member, run_dir))
        metrics["rate_window_ms"] = list(rate_window(cfg))
        undefined = int(np.sum(~np.isfinite(data["firing_rate_hz"])))
        if undefined:
            metrics["firing_rate_note"] = f"null for {undefined} of {n} members: {RATE_UNDEFINED}"
    if solutions:
        metrics["solutions"] = solution_outputs.write(cfg, problem, tc.grid, members, fields, store, run_dir)
    if every_field and cfg.analysis.k_convergence:
        metrics["k_convergence"] = k_limit_outputs.write(members, fields, run_dir)
    metrics.update(swept_metrics(sweep, table))
    metrics.update(
        members=n,
        chunk_size=plan.chunk,
        chunks=plan.count,
        chunks_run=times.chunks_run,
        compile_s=times.compile_s,
        run_s=times.run_s,
    )
    return metrics


def _say(message: str) -> None:
    if jax.process_index() == 0:
        print(message, file=sys.stderr, flush=True)
