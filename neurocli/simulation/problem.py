"""What one simulate run solves: the Problem (model, stimulus, initial state) and the solve's
settings built from a config, with the helpers that every simulate output shares (the stimulus
edges, the rate window, the front's nodes, stimulus currents and phase-plane fields)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.analysis.front import nearest_node
from neurocli.config.base import ConfigError
from neurocli.config.simulate import SimulateConfig
from neurocli.models import build_model, build_stimulus
from neurocli.numerics.solve import Problem, SolveSpec, set_fields

FRONT_UNDEFINED = "u did not cross a first at one front point, then at the other, by t1"


def build_problem(cfg: SimulateConfig, source: str = "config") -> Problem:
    model = build_model(cfg.model)
    stimulus = build_stimulus(cfg.stimulus)
    if not cfg.initial_state:
        return Problem(model, stimulus)
    names = type(model).state_names
    unknown = [k for k in cfg.initial_state if k not in names]
    if unknown:
        raise ConfigError(source, [(f"initial_state.{unknown[0]}", f"unknown state; expected one of {', '.join(names)}")])
    index = tuple(names.index(k) for k in cfg.initial_state)
    values = jnp.asarray(list(cfg.initial_state.values()), dtype=float)
    return Problem(model, stimulus, values, index)


def make_spec(cfg: SimulateConfig, problem: Problem) -> SolveSpec:
    tc = cfg.time
    ts = tc.grid
    # cable models: keep V only (full_field depends on the static grid size alone, so the base
    # model's method serves every sweep member)
    save = None
    if cfg.model.geometry == "cable":
        model = problem.model
        save = lambda t, y: model.full_field(y)  # noqa: E731
    return SolveSpec(cfg.solver, tc.t0, tc.t1, ts, jump_times(cfg), save=save)


def rate_window(cfg) -> tuple[float, float]:
    if cfg.analysis.rate_window_ms is None:
        return (cfg.time.t0, cfg.time.t1)
    return (max(cfg.time.t0, cfg.time.t1 - cfg.analysis.rate_window_ms), cfg.time.t1)


def front_nodes(cfg, x: np.ndarray) -> tuple[int, int]:
    """The grid nodes between which a PDE run times its front (`analysis.velocity_points`)."""
    length = float(x[-1])
    i, j = (nearest_node(x, p * length) for p in cfg.analysis.velocity_points)
    return i, j


def jump_times(cfg) -> tuple[float, ...]:
    """Stimulus edges of every sweep member (a swept pulse start, duration or period moves its
    edges: the binding says which; amplitudes do not, so a 10⁵-member amplitude sweep builds one
    stimulus)."""
    stimuli = [cfg.stimulus]
    if cfg.sweep is not None:
        names, table = cfg.sweep.names, cfg.sweep.table()
        timing = cfg.binding().where(names, "edges")
        if timing:
            fields = [names[j].split(".", 1)[1] for j in timing]
            rows = np.unique(table[:, timing], axis=0)
            stimuli = [cfg.stimulus.model_copy(update=dict(zip(fields, map(float, row)))) for row in rows]
    times = {t for s in stimuli for t in build_stimulus(s).jump_times()}
    return tuple(sorted(times))


def stimulus_currents(problem: Problem, ts: np.ndarray, names, rows: np.ndarray) -> np.ndarray:
    """I_ext(t) on the output grid of the given members (rows of the sweep table): (k, nt)."""
    ts = jnp.asarray(ts)

    def current(row):
        return jax.vmap(set_fields(problem, names, row).stimulus)(ts)

    return np.asarray(jax.jit(jax.vmap(current))(jnp.asarray(rows)))


def phase_plane_data(model, traj, names):
    """The arguments of neuron_plots.phase_plane (but x_unit): the trajectory, the grid, the field."""
    traj = np.asarray(traj)
    lo, hi = traj.min(axis=0), traj.max(axis=0)
    pad = 0.15 * (hi - lo) + np.array([5.0 if model.voltage_unit == "mV" else 0.3, 0.05])
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
    pts = jnp.stack([jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel())], axis=1)
    field = np.asarray(jax.vmap(lambda y: model.vector_field(0.0, y, 0.0))(pts))
    dx, dy = field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape)
    return traj, gx, gy, dx, dy, list(names)
