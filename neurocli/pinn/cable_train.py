"""Training a cable PINN by time marching: window after window, each its own network, all in one
run of `neurocli.training.Engine`.

The engine's phases are the config's phases repeated for every window (window w, phase p is engine
phase w · P + p). The state holds every window's parameters (a leading window axis), the current
window's optimiser state and every window's start state as cosine coefficients (`bases`). One
program per optimiser phase serves all windows: the window index is an input of the step, which
reads that window's parameters and start state and writes its parameters back. Entering a
window's first phase hands over the previous window's end state (sampled on `SAMPLES` nodes, its
cosine series) and starts a fresh optimiser. Losses of different windows are not comparable, so
the engine keeps the latest parameters as best. A checkpoint holds all of it: resuming mid-window
continues bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

from neurocli.config.optim import PhaseConfig
from neurocli.config.pinn import TrainPinnConfig
from neurocli.numerics.program_cache import compile_cached_step
from neurocli.pinn import collocation
from neurocli.pinn.cable_residual import CableFields, mean_square
from neurocli.pinn.cosine_series import CosineSeries, cosine_coefficients
from neurocli.pinn.networks import PinnNetwork
from neurocli.pinn.steps import DATA, INIT, LBFGS
from neurocli.pinn.weighting import causal_residual
from neurocli.training.engine import Cursor, Record, Settings
from neurocli.training.history import History
from neurocli.training.optim import Hyper, hyper, is_lbfgs, make_optimizer, structure

SAMPLES = 1025
"""Nodes on which a window's end state is sampled for the next window's cosine series."""


class CableState(eqx.Module):
    params: PyTree  # every window's network parameters, leading axis: window
    opt_state: PyTree  # the current window's optimiser state
    bases: Float[Array, "windows fields modes"]  # each window's start state, cosine coefficients


def identity(cfg: TrainPinnConfig) -> dict:
    """What a checkpoint must match to be resumed by this config."""
    dump = cfg.model_dump(mode="json")
    return {"command": "train-pinn", **{key: dump[key] for key in ("pde", "network", "collocation", "phases")}}


@dataclasses.dataclass(frozen=True)
class Marching:
    """What the compiled steps read (small, frozen, hashable: the program cache's key sees it)."""

    window: float  # Δ = T / windows
    length: float
    batch: int
    lbfgs_points: int
    time_power: float
    dtype: object
    causal: tuple[int, float] | None  # (chunks, epsilon) of causal weighting within a window

    @classmethod
    def of(cls, cfg: TrainPinnConfig, dtype) -> Marching:
        col, w = cfg.collocation, cfg.weighting
        causal = (int(w.chunks), float(w.epsilon)) if w.kind == "causal" else None
        return cls(float(cfg.pde.T) / cfg.pde.windows, cfg.pde.length, col.batch, col.lbfgs_points,
                   float(col.time_power), dtype, causal)


def window_params(params, window):
    return jax.tree_util.tree_map(lambda a: a[window], params)


def window_loss(m: Marching, static, fields: CableFields, params, bases, window, t, x):
    """(total, per-field mean squares) of window `window` on the points (t, x)."""
    net = eqx.combine(params, static)
    base = CosineSeries(bases[window], m.length)
    start = window * m.window
    if m.causal is not None:
        chunks, epsilon = m.causal
        r = jax.vmap(lambda tt, xx: fields.residual(net, base, start, tt, xx))(t, x)
        per_field = jnp.stack([causal_residual(r[:, i] ** 2, t - start, m.window, chunks, epsilon)
                               for i in range(r.shape[1])])
    else:
        per_field = mean_square(fields, net, base, start, t, x)
    return jnp.sum(per_field), per_field


def _points(m: Marching, key, n: int, window):
    t, x = collocation.uniform(key, n, m.window, m.length, m.time_power, m.dtype)
    return t + (window * m.window).astype(m.dtype), x


def _write(state: CableState, window, params, opt_state) -> CableState:
    stacked = jax.tree_util.tree_map(lambda a, p: a.at[window].set(p), state.params, params)
    return CableState(stacked, opt_state, state.bases)


def first_order_step(m: Marching, static, phase: PhaseConfig):
    """step(state, fields, key, window, step, hyper(phase)) -> (state, losses (1 + fields,)): adam /
    adamw / sgd on a fresh batch of the window every step; traced from the phase's structure."""
    phase = structure(phase)

    def step(state: CableState, fields, key, window, step_index, h: Hyper):
        opt = make_optimizer(phase, h)
        k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, DATA), window), step_index)
        t, x = _points(m, k, m.batch, window)
        params = window_params(state.params, window)
        (total, per_field), grad = jax.value_and_grad(
            lambda p: window_loss(m, static, fields, p, state.bases, window, t, x), has_aux=True)(params)
        updates, opt_state = opt.update(grad, state.opt_state, params)
        return _write(state, window, eqx.apply_updates(params, updates), opt_state), \
            jnp.concatenate([total[None], per_field])
    return step


def lbfgs_step(m: Marching, static, opt, phase: int):
    """step(state, fields, key, window) -> (state, losses): L-BFGS on one fixed set of the window's
    points (drawn from the key, the window and the config phase)."""
    def step(state: CableState, fields, key, window):
        k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, LBFGS), window), phase)
        t, x = _points(m, k, m.lbfgs_points, window)
        params = window_params(state.params, window)
        value_fn = lambda p: window_loss(m, static, fields, p, state.bases, window, t, x)[0]  # noqa: E731
        (total, per_field), grad = jax.value_and_grad(
            lambda p: window_loss(m, static, fields, p, state.bases, window, t, x), has_aux=True)(params)
        updates, opt_state = opt.update(grad, state.opt_state, params, value=total, grad=grad, value_fn=value_fn)
        return _write(state, window, eqx.apply_updates(params, updates), opt_state), \
            jnp.concatenate([total[None], per_field])
    return step


class CableTrainer:
    """The engine's task for a cable PINN (`fields`: the problem, in the training precision)."""

    members = 1

    def __init__(self, cfg: TrainPinnConfig, fields: CableFields, rest: np.ndarray, dtype):
        self.cfg, self.fields, self.dtype = cfg, fields, dtype
        pde = cfg.pde
        self.windows, self.phases = pde.windows, len(cfg.phases)
        self.marching = Marching.of(cfg, dtype)
        self.window = self.marching.window
        self.length = pde.length
        self.names = pde.field_names
        self.key = jax.random.PRNGKey(cfg.runtime.seed)
        keys = jax.vmap(lambda w: jax.random.fold_in(jax.random.fold_in(self.key, INIT), w))(jnp.arange(self.windows))
        make = lambda k: PinnNetwork(cfg.network, self.window, self.length, dtype=dtype, key=k,  # noqa: E731
                                     outputs=len(self.names))
        nets = eqx.filter_jit(eqx.filter_vmap(make))(keys)
        self.params0, self.static = eqx.partition(nets, eqx.is_inexact_array)
        first = cosine_coefficients(np.repeat(np.asarray(rest, np.float64)[:, None], SAMPLES, axis=1), pde.modes)
        self.bases0 = np.zeros((self.windows, *first.shape))
        self.bases0[0] = first
        self.columns = ("step", "member", "window", "loss", *(f"residual_{n}" for n in self.names))
        out = cfg.output
        self.settings = Settings(tuple(p.iterations for p in cfg.phases) * self.windows, out.checkpoint_every,
                                 out.log_every, 1)
        self.identity = identity(cfg)
        self._compiled: dict[int, Callable] = {}
        self._evaluate = jax.jit(self._points_in_windows)

    # -- windows and phases ---------------------------------------------------------------------
    def split(self, phase: int) -> tuple[int, int]:
        """(window, the config's phase) of an engine phase."""
        return divmod(phase, self.phases)

    def optimizer(self, phase: int):
        """The phase's optimiser for its state (`init`); a step takes its learning rate as `hyper`."""
        return make_optimizer(structure(self.cfg.phases[self.split(phase)[1]]))

    def initial_state(self, phase: int = 0) -> CableState:
        window = self.split(phase)[0]
        opt = self.optimizer(phase).init(window_params(self.params0, window))
        return CableState(self.params0, opt, jnp.asarray(self.bases0, self.dtype))

    # -- the engine's task ----------------------------------------------------------------------
    def compile(self, phase: int, state: CableState) -> Callable:
        """call(state, step) -> (state, losses (1, 1 + fields)); one program per config phase."""
        window, p = self.split(phase)
        w = jnp.asarray(window, jnp.int32)
        if p not in self._compiled:
            if is_lbfgs(self.cfg.phases[p]):
                fn, extra = lbfgs_step(self.marching, self.static, self.optimizer(phase), p), ()
            else:
                fn, extra = first_order_step(self.marching, self.static, self.cfg.phases[p]), \
                    (jnp.asarray(0, jnp.int32), hyper(self.cfg.phases[p]))
            self._compiled[p] = compile_cached_step(fn, state, self.fields, self.key, w, *extra,
                                                    stats=lambda leaves: leaves[0])
        compiled = self._compiled[p]
        if is_lbfgs(self.cfg.phases[p]):
            return lambda st, step: compiled(st, self.fields, self.key, w)
        h = hyper(self.cfg.phases[p])
        return lambda st, step: compiled(st, self.fields, self.key, w, jnp.asarray(step, jnp.int32), h)

    def params(self, state: CableState) -> PyTree:
        return state.params

    def enter_phase(self, phase: int, state: CableState, best) -> CableState:
        """A fresh optimiser for `phase`; a window's first phase also takes the previous window's
        end state as its start."""
        window, p = self.split(phase)
        bases = state.bases
        if p == 0 and window > 0:
            end = self.end_state(state, window - 1)
            coefficients = cosine_coefficients(end, self.cfg.pde.modes)
            bases = bases.at[window].set(jnp.asarray(coefficients, self.dtype))
        opt = self.optimizer(phase).init(window_params(state.params, window))
        return CableState(state.params, opt, bases)

    def end_state(self, state: CableState, window: int) -> np.ndarray:
        """Window `window`'s fields at its end time on SAMPLES nodes: (fields, SAMPLES), float64."""
        x = np.linspace(0.0, self.length, SAMPLES)
        t = np.full_like(x, (window + 1) * self.window)
        return self.evaluate(state.params, state.bases, np.full(x.size, window), t, x).T

    def evaluate(self, params, bases, windows: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The fields at the points (t, x), each in its window: (points, fields), float64 (one
        jitted function per trainer: the hand-over and the predictions trace it once per shape)."""
        out = self._evaluate(params, bases, jnp.asarray(windows, jnp.int32), jnp.asarray(t, self.dtype),
                             jnp.asarray(x, self.dtype))
        return np.asarray(out, dtype=np.float64)

    def _points_in_windows(self, params, bases, w, t, x):
        static, fields, length, window = self.static, self.fields, self.length, self.window

        def one(wi, ti, xi):
            net = eqx.combine(window_params(params, wi), static)
            return fields.state(net, CosineSeries(bases[wi], length), wi * window, ti, xi)

        return jax.vmap(one)(w, t, x)

    def predict(self, state: CableState, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Every field on the grid t × x: (fields, nt, nx); time t belongs to window ⌊t / Δ⌋ (the last
        window keeps T)."""
        tt, xx = np.meshgrid(t, x, indexing="ij")
        windows = np.minimum((tt.ravel() / self.window).astype(int), self.windows - 1)
        values = self.evaluate(state.params, state.bases, windows, tt.ravel(), xx.ravel())
        return values.T.reshape(len(self.names), t.size, x.size)

    def record(self, step: int, phase: int, losses, wall_s: float) -> Record:
        host = np.asarray(losses, dtype=np.float64)
        row = {"step": step + 1, "member": 0, "window": self.split(phase)[0],
               **dict(zip(("loss", *(f"residual_{n}" for n in self.names)), host))}
        return Record([row], host[:1], np.isfinite(host).all(keepdims=True), comparable=False)

    def select(self, mask: np.ndarray, params, best):
        return params if bool(mask[0]) else best

    def final_loss(self, cur: Cursor) -> np.ndarray:
        h = cur.history
        return np.asarray(h.where(h["step"] == h["step"].max())["loss"][:1])

    def failure(self, cur: Cursor, rec: Record) -> str:
        window, p = self.split(cur.phase)
        return (f"loss not finite at step {cur.step} (window {window}, phase {p}, {self.cfg.phases[p].optimizer}). "
                "Lower the learning rate, add windows, or clip gradients (phases[].clip_norm).")

    def to_host(self, tree):
        return tree

    def to_device(self, tree):
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, tree)

    def skeleton(self, phase: int):
        state = self.initial_state(phase)
        return state, state.params

    def best_artefact(self, cur: Cursor):
        return {"best_loss": [float(v) for v in cur.best_loss], "step": cur.step}, cur.best

    def loss_csv(self, history: History):
        ints = {c: (lambda r, c=c: int(r[c])) for c in ("step", "member", "window")}
        return history.csv(ints, history.columns)
