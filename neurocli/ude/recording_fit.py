"""train-ude on recordings: several protocols (sweeps) in one fit, observed states only, the
recorded stimulus, and physical parameters fitted with the network (or alone).

The parameters trained are one pytree, {"network": the network's arrays, "parameters": {field:
raw value}, "v0": per-sweep start offsets (mV, with `fit.initial_voltage`)}, so the training engine
checkpoints and resumes all of them. A field is fitted in log space when positive (C_m and the
conductances, unless `log: false`), and squashed into its `bounds` (a logistic map, in log space
for log parameters) when given.

Every training step solves every training sweep at once (one vmapped solve); the loss sums the
weighted squared errors of the observed states over all of them. Each sweep starts from its first
V (plus a fitted offset) with the hidden gates at their steady state for that V (the model at rest
there); observed gates start from their first sample. The recorded stimulus of each sweep is
interpolated piecewise linearly (`RecordedStimulus`); the union of the sweeps' kinks is declared to
the step-size controller.

Standard errors of the fitted parameters: Gauss–Newton, cov(raw) = s² (JᵀJ)⁺ with J the Jacobian
of the residuals with respect to every trained number (network included), s² = SSE / (N − P) the
residual variance (N counted residuals, P trained numbers), and the delta method through the
transform. With a network, parameters it can stand in for are poorly determined and the
pseudo-inverse reports only the determined directions: read such errors with care.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int, PyTree

from neurocli.config.base import ConfigError
from neurocli.config.common import SolverConfig
from neurocli.config.ude import POSITIVE, SimulatedData, TrainUDEConfig
from neurocli.models import gating
from neurocli.models.stimulus import AbstractStimulus, RecordedStimulus
from neurocli.numerics.solve import Problem, SolveSpec, solve_one
from neurocli.ude import recordings
from neurocli.ude.model import AbstractUDE
from neurocli.ude.objective import ADJOINTS, ScheduledLoss
from neurocli.ude.recordings import SweepSet
from neurocli.ude.task import UdeTask
from neurocli.training.engine import Cursor


class ZeroCurrent(eqx.Module):
    """No network (`ude.replaced: none`): the learned current is 0 and every known current counts."""

    def __call__(self, x: Float[Array, " k"]) -> Float[Array, ""]:
        return jnp.zeros((), x.dtype)


# -- fitted parameters --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """value = transform(raw): log and/or squashed into (lo, hi)."""

    name: str
    init: float
    log: bool
    lo: float | None
    hi: float | None

    def _space(self, x):
        return jnp.log(x) if self.log else x

    def value(self, raw):
        if self.lo is None:
            z = raw
        else:
            a, b = self._space(self.lo), self._space(self.hi)
            z = a + (b - a) * jax.nn.sigmoid(raw)
        return jnp.exp(z) if self.log else z

    def raw(self, value: float) -> float:
        z = math.log(value) if self.log else value
        if self.lo is None:
            return z
        a = math.log(self.lo) if self.log else self.lo
        b = math.log(self.hi) if self.log else self.hi
        u = (z - a) / (b - a)
        return math.log(u / (1.0 - u))

    def describe(self) -> dict:
        return {"name": self.name, "init": self.init, "log": self.log, "bounds": None if self.lo is None else [self.lo, self.hi]}


def param_specs(cfg: TrainUDEConfig) -> tuple[ParamSpec, ...]:
    if cfg.fit is None:
        return ()
    out = []
    for name, p in cfg.fit.parameters.items():
        init = float(p.init if p.init is not None else getattr(cfg.model, name))
        log = p.log if p.log is not None else name in POSITIVE
        lo, hi = (None, None) if p.bounds is None else (float(p.bounds[0]), float(p.bounds[1]))
        out.append(ParamSpec(name, init, bool(log), lo, hi))
    return tuple(out)


JITTER_MARGIN = 1e-3  # a jittered start stays this fraction of its bounds' width (in its space) inside them


def start_values(specs: tuple[ParamSpec, ...], jitter: float, seed: int) -> dict[str, float]:
    """Each fitted parameter's start: its init, or (`fit.init_jitter` > 0) init·exp(jitter·z) for a
    log parameter and init + jitter·|init|·z for a linear one, z ~ N(0, 1) one per parameter in
    `fit.parameters` order from numpy's generator seeded by `seed` (runtime.seed), clipped inside
    the bounds. jitter 0 gives init exactly."""
    if jitter == 0 or not specs:
        return {s.name: s.init for s in specs}
    z = np.random.default_rng(seed).standard_normal(len(specs))
    out = {}
    for s, zi in zip(specs, z):
        x = math.log(s.init) + jitter * zi if s.log else s.init + jitter * abs(s.init) * zi
        if s.lo is not None:
            a, b = (math.log(s.lo), math.log(s.hi)) if s.log else (s.lo, s.hi)
            x = min(max(x, a + JITTER_MARGIN * (b - a)), b - JITTER_MARGIN * (b - a))
        out[s.name] = math.exp(x) if s.log else x
    return out


def initial_params(net_params: PyTree, specs: tuple[ParamSpec, ...], n_sweeps: int, fit_v0: bool,
                   start: dict[str, float] | None = None) -> dict:
    """The trained pytree at its start: the network's arrays, the fitted parameters' raw values
    (at `start`, default their inits) and zero starting-V offsets."""
    start = start or {s.name: s.init for s in specs}
    params = {"network": net_params, "parameters": {s.name: jnp.asarray(s.raw(start[s.name]), float) for s in specs}}
    if fit_v0:
        params["v0"] = jnp.zeros((n_sweeps,), float)
    return params


def physical_values(specs, params) -> dict:
    return {s.name: s.value(params["parameters"][s.name]) for s in specs}


# -- the objective ------------------------------------------------------------------------------


class MultiSweepLoss(ScheduledLoss):
    """loss(params, iteration) -> (loss, solver result code) over every sweep (one vmapped solve).
    Has `TrajectoryLoss`'s interface and shares its schedule (`ScheduledLoss`), so `UdeTask` trains it."""

    ude: AbstractUDE  # network and fitted fields replaced by `params` at each call
    net_static: PyTree
    stimulus: AbstractStimulus  # batched over sweeps when `per_sweep_stimulus`
    v0: Float[Array, " sweep"]  # each sweep's first V
    observed_y0: Float[Array, "sweep state"]  # first samples of observed states (others unused)
    data: Float[Array, "sweep time state"]  # 0 where not observed
    weights: Float[Array, " state"]  # 0 for states not observed
    ts: Float[Array, " time"]
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    solver: SolverConfig = eqx.field(static=True)
    adjoint: str = eqx.field(static=True)
    jump_ts: tuple[float, ...] = eqx.field(static=True)
    mean: bool = eqx.field(static=True)
    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    per_sweep_stimulus: bool = eqx.field(static=True)
    use_v0: bool = eqx.field(static=True, default=True)  # add params["v0"] (if any) to the first V
    curriculum: tuple[float, int] | None = eqx.field(static=True, default=None)  # (start_ms, iterations)
    # multiple shooting: (segment samples, iterations); segments start from the recorded V and the
    # hidden gates estimated from it (`gates_along`)
    shooting: tuple[int, int] | None = eqx.field(static=True, default=None)
    start_states: Float[Array, "sweep time state"] | None = None

    def predict_segments(self, params, index):
        """Every sweep's segments, each integrated from its start state: (sweep, S, L+1, state)."""
        model = self.model(params)
        n = self.data.shape[2]

        def one(stimulus, y0, ts):
            problem = Problem(model, stimulus, y0, tuple(range(n)))
            spec = SolveSpec(self.solver, ts[0], ts[-1], ts, self.jump_ts)
            ys, _, _, result = solve_one(problem, spec, ADJOINTS[self.adjoint]())
            return ys, result

        def sweep(stimulus, starts):
            return jax.vmap(one, in_axes=(None, 0, 0))(stimulus, starts[index[:, 0]], self.ts[index])

        axis = 0 if self.per_sweep_stimulus else None
        ys, results = jax.vmap(sweep, in_axes=(axis, 0))(self.stimulus, self.start_states)
        return ys, jnp.max(jnp.abs(results))

    def network(self, params):
        return eqx.combine(params["network"], self.net_static)

    def model(self, params) -> AbstractUDE:
        ude = eqx.tree_at(lambda u: u.network, self.ude, self.network(params))
        if not self.specs:
            return ude
        values = physical_values(self.specs, params)
        names = [s.name for s in self.specs]
        return eqx.tree_at(lambda u: [getattr(u.known, n) for n in names], ude, [values[n] for n in names])

    def initial_states(self, params, model: AbstractUDE) -> Float[Array, "sweep state"]:
        v0 = self.v0
        if "v0" in params and self.use_v0:
            v0 = v0 + params["v0"]
        rest = jax.vmap(model.steady_state)(v0)
        observed = (self.weights > 0)[None, :]
        y0 = jnp.where(observed, self.observed_y0, rest)
        return y0.at[:, 0].set(v0)

    def predict(self, params):
        """(ys (sweep, time, state), worst result code)."""
        model = self.model(params)
        y0s = self.initial_states(params, model)
        n = y0s.shape[1]
        spec = SolveSpec(self.solver, self.t0, self.t1, self.ts, self.jump_ts)

        def one(stimulus, y0):
            problem = Problem(model, stimulus, y0, tuple(range(n)))
            ys, _, _, result = solve_one(problem, spec, ADJOINTS[self.adjoint]())
            return ys, result

        axis = 0 if self.per_sweep_stimulus else None
        ys, results = jax.vmap(one, in_axes=(axis, 0))(self.stimulus, y0s)
        return ys, jnp.max(jnp.abs(results))

    def residuals(self, params, iteration: Int[Array, ""] | int = 0):
        if self.shooting is not None:
            index, counted = self.segments()
            ys, result = self.predict_segments(params, index)
            resid = jnp.where(jnp.asarray(counted)[None, :, :, None], ys - self.data[:, index], 0.0) * jnp.sqrt(self.weights)
        else:
            ys, result = self.predict(params)
            inside = (self.ts <= self.window_end(iteration))[None, :, None]
            resid = jnp.where(inside, ys - self.data, 0.0) * jnp.sqrt(self.weights)
        if self.mean:
            resid = resid / jnp.sqrt(self.data.shape[0] * self.data.shape[1] * jnp.sum(self.weights > 0))
        return resid.ravel(), result

    @property
    def counted(self) -> int:
        """Residuals that count (observed states × samples × sweeps)."""
        return int(self.data.shape[0] * self.data.shape[1] * int(np.sum(np.asarray(self.weights) > 0)))


# -- data -> objective ---------------------------------------------------------------------------


@dataclasses.dataclass
class Fit:
    """Everything a recording fit needs besides the network: the data (training and held-out
    sweeps), the observed states, the stimulus, the fitted parameters' specs."""

    sweeps: SweepSet  # all loaded sweeps
    train: list[int]
    heldout: list[int]
    observed: tuple[str, ...]
    specs: tuple[ParamSpec, ...]
    fit_v0: bool


def observed_of(cfg: TrainUDEConfig, sweeps: SweepSet, source: str) -> tuple[str, ...]:
    observed = cfg.observed or sweeps.names
    missing = [s for s in observed if s not in sweeps.names]
    if missing:
        raise ConfigError(source, [("data.observed", f"{sweeps.source}: has no samples of {', '.join(missing)} "
                                                     f"(has {', '.join(sweeps.names)})")])
    return tuple(observed)


def split_sweeps(cfg: TrainUDEConfig, sweeps: SweepSet, source: str) -> tuple[list[int], list[int]]:
    held = list(cfg.validation.sweeps or [])
    bad = [k for k in held if k >= sweeps.count]
    if bad:
        raise ConfigError(source, [("validation.sweeps", f"{sweeps.source}: {sweeps.count} sweep(s) loaded "
                                                         f"(0..{sweeps.count - 1}); no sweep {bad[0]}")])
    train = [k for k in range(sweeps.count) if k not in held]
    if not train:
        raise ConfigError(source, [("validation.sweeps", "holds out every sweep: none is left to fit")])
    return train, held


def read(cfg: TrainUDEConfig, source: str) -> SweepSet | None:
    """The recording a config names, checked (None for simulated data: made in `setup`)."""
    sweeps = recordings.read(cfg, source)
    if sweeps is not None:
        with_noise(sweeps, cfg.data.noise, cfg.data.seed, source)  # a noise level for a state it lacks: exit 2
        observed_of(cfg, sweeps, source)
        split_sweeps(cfg, sweeps, source)
        if cfg.stimulus.kind == "recorded" and sweeps.i_ext is None:
            raise ConfigError(source, [("stimulus.kind", f"{sweeps.source}: has no stimulus (injected current)")])
        from neurocli import memory

        memory.check_recording(cfg, sweeps.count * sweeps.t.size, sweeps.count, source)
    return sweeps


def with_noise(sweeps: SweepSet, noise: dict[str, float], seed: int, source: str = "config") -> SweepSet:
    """A recording with Gaussian noise of standard deviation `noise[state]` added to its samples of
    that state (`data.noise` on a recording: a synthetic experiment), drawn with numpy's generator
    seeded by `seed` (data.seed), one draw per sample of every recorded state in order."""
    if not any(v > 0 for v in noise.values()):
        return sweeps
    missing = [k for k, v in noise.items() if v > 0 and k not in sweeps.names]
    if missing:
        raise ConfigError(source, [(f"data.noise.{missing[0]}", f"{sweeps.source}: has no samples of {missing[0]} "
                                                                 f"(has {', '.join(sweeps.names)})")])
    sigma = np.array([noise.get(name, 0.0) for name in sweeps.names])
    rng = np.random.default_rng(seed)
    return dataclasses.replace(sweeps, y=sweeps.y + rng.standard_normal(sweeps.y.shape) * sigma)


def from_simulated(recording, names: tuple[str, ...]) -> SweepSet:
    """A simulated `ude.data.Recording` as a one-sweep set (every state observable, clean known)."""
    t = np.asarray(recording.t, float)
    return SweepSet("simulated", names, t - t[0], recording.y[None], None, ("0",), recording.clean[None])


def make_fit(cfg: TrainUDEConfig, sweeps: SweepSet, source: str) -> Fit:
    train, held = split_sweeps(cfg, sweeps, source)
    return Fit(sweeps, train, held, observed_of(cfg, sweeps, source), param_specs(cfg),
               bool(cfg.fit is not None and cfg.fit.initial_voltage))


def stimulus_of(cfg: TrainUDEConfig, sweeps: SweepSet, index: list[int], configured: AbstractStimulus):
    """(stimulus, batched over sweeps?) for these sweeps: recorded, or the config's (shared)."""
    if cfg.stimulus.kind != "recorded":
        return configured, False
    values = sweeps.i_ext[index]
    ts = jnp.broadcast_to(jnp.asarray(sweeps.t), values.shape)
    kinks = RecordedStimulus.find_kinks(sweeps.t, values)
    return RecordedStimulus(ts, jnp.asarray(values), kinks), True


def baseline_voltage(sweeps: SweepSet, k: int, stimulus: AbstractStimulus) -> float:
    """Sweep k's V averaged over the samples before its stimulus first changes (its first sample
    when the stimulus changes at once, or never does)."""
    v = sweeps.y[k][:, sweeps.names.index("V")]
    changes = [x for x in stimulus.jump_times() if x > sweeps.t[0]]
    if not changes:
        return float(v[0])
    before = sweeps.t < min(changes) - 1e-9
    return float(np.mean(v[before])) if before.any() else float(v[0])


def recorded_stimulus(sweeps: SweepSet, k: int) -> RecordedStimulus:
    values = sweeps.i_ext[k]
    return RecordedStimulus(jnp.asarray(sweeps.t), jnp.asarray(values), RecordedStimulus.find_kinks(sweeps.t, values))


def make_multi_loss(cfg: TrainUDEConfig, fit: Fit, ude: AbstractUDE, net_static, configured: AbstractStimulus,
                    index: list[int], use_v0: bool = True) -> MultiSweepLoss:
    """The objective over the sweeps `index` of `fit.sweeps`."""
    sweeps, names = fit.sweeps, cfg.state_names
    S, nt = len(index), sweeps.t.size
    data = np.zeros((S, nt, len(names)))
    weights = np.zeros(len(names))
    for state in fit.observed:
        j = names.index(state)
        data[:, :, j] = sweeps.y[index][:, :, sweeps.names.index(state)]
        weights[j] = cfg.loss.weights.get(state, 1.0)
    # the start: the clean first state of simulated data, else the first samples (V: the baseline)
    first = sweeps.clean[index][:, 0, :] if sweeps.clean is not None else data[:, 0, :].copy()
    stimulus, batched = stimulus_of(cfg, sweeps, index, configured)
    if sweeps.clean is None and getattr(cfg.data, "initial_voltage", "first_sample") == "baseline":
        for i, k in enumerate(index):
            first[i, 0] = baseline_voltage(sweeps, k, configured if not batched else recorded_stimulus(sweeps, k))
    jump_ts = tuple(stimulus.jump_times()) if cfg.solve.declare_stimulus_edges else ()
    shooting, start_states = None, None
    if cfg.loss.shooting is not None:
        dt = float(np.median(np.diff(sweeps.t)))
        length = int(np.clip(round(cfg.loss.shooting.segment_ms / dt), 1, nt - 1))
        shooting = (length, int(cfg.loss.shooting.iterations))
        start_states = start_states_of(ude, names, fit, index, data, first)
    return MultiSweepLoss(
        ude=ude, net_static=net_static, stimulus=stimulus, v0=jnp.asarray(first[:, 0]),
        observed_y0=jnp.asarray(first), data=jnp.asarray(data), weights=jnp.asarray(weights),
        ts=jnp.asarray(sweeps.t), t0=float(sweeps.t[0]), t1=float(sweeps.t[-1]), solver=cfg.solve.solver,
        adjoint=cfg.solve.adjoint, jump_ts=jump_ts, mean=cfg.loss.reduction == "mse", specs=fit.specs,
        per_sweep_stimulus=batched, use_v0=use_v0, shooting=shooting,
        start_states=None if start_states is None else jnp.asarray(start_states),
        curriculum=None if cfg.loss.curriculum is None else (float(cfg.loss.curriculum.start_ms),
                                                              int(cfg.loss.curriculum.iterations)))


GATES = {"m": (gating.alpha_m, gating.beta_m), "h": (gating.alpha_h, gating.beta_h), "n": (gating.alpha_n, gating.beta_n)}


def gates_along(v: np.ndarray, t: np.ndarray, x0: float, gate: str, phi: float) -> np.ndarray:
    """A gate's trajectory under the recorded voltage, by its known kinetics (exact for V held at
    each interval's mean: x relaxes to x∞ with time constant τ)."""
    alpha, beta = GATES[gate]
    vm = 0.5 * (v[1:] + v[:-1])
    a, b = np.asarray(alpha(jnp.asarray(vm))), np.asarray(beta(jnp.asarray(vm)))
    x_inf, rate = a / (a + b), phi * (a + b)
    decay = np.exp(-rate * np.diff(t))
    out = np.empty_like(v)
    out[0] = x0
    for k in range(vm.size):
        out[k + 1] = x_inf[k] + (out[k] - x_inf[k]) * decay[k]
    return out


def start_states_of(ude: AbstractUDE, names, fit: Fit, index: list[int], data: np.ndarray, first: np.ndarray):
    """Multiple shooting's start states: the recorded states where observed; hidden gates as their
    known kinetics carry them along the recorded V from rest at the starting V."""
    states = data.copy()
    phi = float(gating.temperature_factor(ude.known.temperature_C))
    v = names.index("V")
    for i in range(len(index)):
        rest = np.asarray(ude.steady_state(jnp.asarray(first[i, v])))
        for j, name in enumerate(names):
            if name != "V" and name not in fit.observed:
                states[i, :, j] = gates_along(data[i, :, v], fit.sweeps.t, float(rest[j]), name, phi)
    return states


def network_description(cfg: TrainUDEConfig, fit: Fit, shape: dict) -> dict:
    """The network's shape plus input centring/scaling: from the observed data's range for observed
    inputs, 0.5 ± 0.5 for hidden gates (unless configured)."""
    net = cfg.ude.network
    centre, scale = [], []
    for name in cfg.network_inputs:
        if name in fit.sweeps.names:
            column = fit.sweeps.y[..., fit.sweeps.names.index(name)]
            lo, hi = float(np.min(column)), float(np.max(column))
        else:
            lo, hi = 0.0, 1.0
        half = (hi - lo) / 2.0
        centre.append((net.input_centre or {}).get(name, (lo + hi) / 2.0))
        scale.append((net.input_scale or {}).get(name, half if half > 0 else 1.0))
    return {**shape, "centre": centre, "scale": scale, "output_scale": net.output_scale,
            "final_layer_scale": net.final_layer_scale}


def fit_identity(fit: Fit) -> dict:
    """What a checkpoint of this fit must match, besides the network: its parameters and sweeps."""
    return {"fit": [s.describe() for s in fit.specs], "fit_initial_voltage": fit.fit_v0,
            "sweeps": {"trained": [fit.sweeps.labels[k] for k in fit.train],
                       "heldout": [fit.sweeps.labels[k] for k in fit.heldout], "observed": list(fit.observed)}}


# -- the task ------------------------------------------------------------------------------------


class RecordingTask(UdeTask):
    """`UdeTask` over a `MultiSweepLoss`: best.eqx holds the network (as always) and its header the
    fitted parameter values."""

    def best_artefact(self, cur: Cursor):
        header, network = super().best_artefact(cur)
        values = physical_values(self.loss_fn.specs, cur.best)
        header["fitted_parameters"] = {k: float(v) for k, v in values.items()}
        if "v0" in cur.best:
            header["fitted_v0_offsets"] = [float(x) for x in np.asarray(cur.best["v0"])]
        return header, network


# -- standard errors -----------------------------------------------------------------------------


def residuals_and_jacobian(loss: MultiSweepLoss, params):
    """(r, J): the whole record's residuals at `params` and their Jacobian with respect to every
    trained number (forward mode); traceable, so a sweep vmaps it over its members."""
    flat, unravel = ravel_pytree(params)
    forward = dataclasses.replace(loss.for_phase(0, forward_mode=True), curriculum=None, shooting=None)  # whole record

    def res(x):
        return forward.residuals(unravel(x))[0]

    return res(flat), jax.jacfwd(res)(flat)


def parameter_errors(loss: MultiSweepLoss, params, r=None, jac=None) -> dict:
    """{name: {value, stderr}}: Gauss–Newton covariance s² (JᵀJ)⁺ over every trained number, the
    delta method through each parameter's transform; also s (the residual standard deviation).
    `r`, `jac`: `residuals_and_jacobian` at `params` when already computed (a sweep's, vmapped)."""
    if r is None:
        r, jac = eqx.filter_jit(residuals_and_jacobian)(loss, params)
    r, jac = np.asarray(r), np.asarray(jac)
    flat, _ = ravel_pytree(params)
    n, p = loss.counted, flat.size
    sse = float(np.sum(r**2))
    dof = max(n - p, 1)
    s2 = sse / dof
    cov = s2 * np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
    raw_sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    # where each parameter's raw value sits in the flat vector
    marker = jax.tree.map(jnp.zeros_like, params)
    out = {}
    for s in loss.specs:
        probe = dict(marker, parameters={**marker["parameters"], s.name: jnp.ones(())})
        k = int(np.flatnonzero(np.asarray(ravel_pytree(probe)[0]))[0])
        raw = params["parameters"][s.name]
        slope = float(jax.grad(s.value)(raw))
        out[s.name] = {"value": float(s.value(raw)), "stderr": abs(slope) * float(raw_sd[k]),
                       "init": s.init, "log": s.log, "bounds": None if s.lo is None else [s.lo, s.hi]}
    return {"parameters": out, "residual_sd": math.sqrt(s2), "residuals": n, "trained_numbers": int(p)}


def simulated_sweeps(cfg: TrainUDEConfig, recording) -> SweepSet:
    assert isinstance(cfg.data, SimulatedData)
    return from_simulated(recording, cfg.state_names)
