"""`neurocli simulate`: config -> model -> one (vmapped) diffrax solve -> run directory."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neurocli import progress
from neurocli.config.base import ConfigError
from neurocli.commands import cable_outputs
from neurocli.config.models import CABLE_MODELS, PDE_MODELS
from neurocli.config.simulate import SimulateConfig
from neurocli.models import AbstractNeuronModel, build_model, build_stimulus
from neurocli.plotting import neuron as neuron_plots
from neurocli.plotting import pde as pde_plots
from neurocli.run_dir import RunDirectory
from neurocli.solve import Problem, SolveOutput, SolveSpec, field_setter, run_solve
from neurocli.spikes import RATE_UNDEFINED, firing_rate_hz, is_firing, spike_times

SCHEMA = SimulateConfig


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


def jump_times(cfg: SimulateConfig) -> tuple[float, ...]:
    """Stimulus edges of every sweep member (a swept pulse start moves its edges)."""
    stimuli = [cfg.stimulus]
    if cfg.sweep is not None and cfg.sweep.parameter.startswith("stimulus."):
        field = cfg.sweep.parameter.split(".", 1)[1]
        stimuli = [cfg.stimulus.model_copy(update={field: v}) for v in cfg.sweep.member_values()]
    times = {t for s in stimuli for t in build_stimulus(s).jump_times()}
    return tuple(sorted(times))


def make_spec(cfg: SimulateConfig, problem: Problem) -> SolveSpec:
    tc = cfg.time
    ts = tc.grid
    # cable models: keep V only (full_field depends on the static grid size alone, so the base
    # model's method serves every sweep member)
    save = None
    if cfg.model.name in CABLE_MODELS:
        model = problem.model
        save = lambda t, y: model.full_field(y)  # noqa: E731
    return SolveSpec(cfg.solver, tc.t0, tc.t1, ts, jump_times(cfg), save=save)


def prepare(cfg: SimulateConfig, source: str) -> Problem:
    """Build the model (raises ConfigError for names the schema cannot check); compiles nothing."""
    return build_problem(cfg, source)


def execute(problem: Problem, cfg: SimulateConfig, run: RunDirectory, resume: bool = False) -> dict:
    sweep = cfg.sweep
    values = sweep.member_values() if sweep else None
    progress.phase("building", f"{cfg.model.name}, {len(values)} members" if sweep else cfg.model.name)
    out = run_solve(problem, make_spec(cfg, problem), sweep.parameter if sweep else None, values)
    progress.phase("writing", f"solved in {out.run_s:.2f} s")
    if cfg.model.name in CABLE_MODELS:
        return cable_outputs.write(cfg, problem.model, out, values, run)
    if cfg.model.name in PDE_MODELS:
        return _pde_outputs(cfg, problem, out, values, run)
    return _neuron_outputs(cfg, problem, out, values, run)


# -- neuron models ----------------------------------------------------------------------------


def _stimulus_currents(problem: Problem, ts: np.ndarray, parameter: str | None, values) -> np.ndarray:
    """I_ext(t) on the output grid: one row, or one per member when the stimulus is swept."""
    ts = jnp.asarray(ts)
    if parameter is None or not parameter.startswith("stimulus."):
        return np.asarray(jax.jit(jax.vmap(problem.stimulus))(ts))[None]  # one compile, not one per operation
    where = field_setter(parameter)
    swept = [eqx.tree_at(where, problem, jnp.asarray(v, dtype=float)).stimulus for v in values]
    return np.stack([np.asarray(jax.vmap(s)(ts)) for s in swept])


def _neuron_outputs(cfg, problem, out: SolveOutput, values, run: RunDirectory) -> dict:
    model: AbstractNeuronModel = problem.model
    names = type(model).state_names
    t = out.ts
    ys = out.ys if values is not None else out.ys[None]
    n = ys.shape[0]
    thr = cfg.analysis.spike_threshold_mV
    window = (cfg.time.t0, cfg.time.t1)
    if cfg.analysis.rate_window_ms is not None:
        window = (max(cfg.time.t0, cfg.time.t1 - cfg.analysis.rate_window_ms), cfg.time.t1)
    spikes = [spike_times(t, ys[i, :, 0], thr) for i in range(n)]
    rates = [firing_rate_hz(s, window) for s in spikes]
    peaks, mins = ys[:, :, 0].max(axis=1), ys[:, :, 0].min(axis=1)

    kept = cfg.output.kept_members(n) if values is not None else np.array([0])
    currents = _stimulus_currents(problem, t, cfg.sweep.parameter if cfg.sweep else None, values)
    currents = currents if currents.shape[0] == n else np.repeat(currents, n, axis=0)

    if values is None:
        header = ["t", *names]
        rows = np.column_stack([t, ys[0]])
    else:
        header = ["member", cfg.sweep.parameter, "t", *names]
        rows = np.concatenate(
            [np.column_stack([np.full_like(t, i), np.full_like(t, values[i]), t, ys[i]]) for i in kept]
        )
    run.write_csv("trajectory.csv", header, ([int(r[0]), *r[1:]] if values is not None else r for r in rows.tolist()))

    dimless = model.voltage_unit == "dimensionless"
    units = dict(v_unit=model.voltage_unit, t_unit=model.time_unit, i_unit=model.current_unit)
    labels = None
    if values is not None:
        labels = [f"{cfg.sweep.parameter.split('.')[-1]} = {values[i]:.4g}" for i in kept]
    if values is None:
        run.save_figure("voltage", neuron_plots.voltage_trace(t, ys[0, :, 0], currents[0], **units))
    else:
        run.save_figure("voltage", neuron_plots.voltage_traces_stacked(t, ys[kept, :, 0], currents[kept], labels, **units))
    if len(names) > 1:
        first = kept[0] if values is None else kept[-1]
        title = None if values is None else labels[-1]
        run.save_figure("states", neuron_plots.state_variables(t, ys[first, :, 1:], names[1:], t_unit=model.time_unit, title=title))
    if len(names) == 2:
        run.save_figure("phase_plane", _phase_plane(model, ys[kept[-1]], names))

    metrics: dict = {
        "spike_count": [int(s.size) for s in spikes],
        "spike_times_ms": [s.tolist() for s in spikes],
        "peak_V_mV": peaks.tolist(),
        "min_V_mV": mins.tolist(),
        "firing_rate_hz": rates,
        "rate_window_ms": list(window),
        "num_steps": out.num_steps.tolist(),
        "num_rejected_steps": out.num_rejected_steps.tolist(),
    }
    if any(r is None for r in rates):
        undefined = sum(r is None for r in rates)
        metrics["firing_rate_note"] = RATE_UNDEFINED if values is None else f"null for {undefined} of {n} members: {RATE_UNDEFINED}"
    if values is None:
        metrics = {k: (v[0] if isinstance(v, list) and k != "rate_window_ms" else v) for k, v in metrics.items()}
    else:
        metrics.update(swept=cfg.sweep.parameter, values=list(values))
        onset = _onset(values, rates)
        metrics["onset_value"] = onset
        run.save_figure("rate_curve", neuron_plots.rate_curve(values, rates, cfg.sweep.parameter, onset=onset, dimensionless=dimless))
    metrics.update(compile_s=out.compile_s, run_s=out.run_s)
    return metrics


def _onset(values, rates) -> float | None:
    """The smallest swept value with repetitive firing (a defined rate > 0), for monotone sweeps."""
    order = np.argsort(values)
    firing = [values[i] for i in order if is_firing(rates[i])]
    return float(firing[0]) if firing else None


def _phase_plane(model, traj, names):
    lo, hi = traj.min(axis=0), traj.max(axis=0)
    pad = 0.15 * (hi - lo) + np.array([5.0 if model.voltage_unit == "mV" else 0.3, 0.05])
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300), np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
    pts = jnp.stack([jnp.asarray(gx.ravel()), jnp.asarray(gy.ravel())], axis=1)
    field = np.asarray(jax.vmap(lambda y: model.vector_field(0.0, y, 0.0))(pts))
    dx, dy = field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape)
    return neuron_plots.phase_plane(traj, gx, gy, dx, dy, names, x_unit=model.voltage_unit)


# -- PDE models ---------------------------------------------------------------------------------


def _pde_outputs(cfg, problem, out: SolveOutput, values, run: RunDirectory) -> dict:
    model = problem.model
    x = np.asarray(model.grid())
    u = np.asarray(model.full_field(jnp.asarray(out.ys)))
    run.write_npz("solution.npz", t=out.ts, x=x, u=u)
    fields = u if values is not None else u[None]
    label = "u (dimensionless)"
    if values is not None:
        name = cfg.sweep.parameter.split(".")[-1]
        titles = [f"{name} = {v:.4g}" for v in values]
    else:
        titles = [f"a = {cfg.model.a:g}, k = {cfg.model.k:g}, {cfg.model.boundary}"]
    run.save_figure("heatmap", pde_plots.heatmap_grid(out.ts, x, fields, titles, label=label))
    times = np.linspace(out.ts[0], out.ts[-1], 5)
    run.save_figure("profiles", pde_plots.profiles(out.ts, x, fields[-1], times=times, title=titles[-1], label=label))
    metrics = {
        "nx": int(x.size),
        "nt": int(out.ts.size),
        "num_steps": out.num_steps.tolist(),
        "num_rejected_steps": out.num_rejected_steps.tolist(),
        "u_min": float(u.min()),
        "u_max": float(u.max()),
        "compile_s": out.compile_s,
        "run_s": out.run_s,
    }
    if values is not None:
        metrics.update(swept=cfg.sweep.parameter, values=list(values))
    return metrics
