"""Injected-current protocols I_ext(t) (µA/cm² for neuron models) and their discontinuity times."""

from __future__ import annotations

import abc
import dataclasses
import types

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float


class AbstractStimulus(eqx.Module):
    """A stimulus writes its formula once, as `_value(t, xp, p)` with `xp` the array module (jnp
    in the solve, np for `trace`) and `p` its fields as that module's arrays."""

    def __call__(self, t: Float[ArrayLike, ""]) -> Float[Array, ""]:
        """The current at time t (JAX: traced inside the solve)."""
        return self._value(t, jnp, self)

    def trace(self, t) -> np.ndarray:
        """I_ext on the grid `t` with NumPy: the same formula as `__call__`, but no JAX dispatch
        or compile (the run's figure wants it after the solve; a jit of it cost ~0.14 s)."""
        t = np.asarray(t, dtype=float)
        fields = types.SimpleNamespace(**{f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)})
        return np.broadcast_to(np.asarray(self._value(t, np, fields), dtype=float), t.shape).copy()

    @abc.abstractmethod
    def _value(self, t, xp, p):
        """The current at time t, with `xp` (jnp or np) and the fields `p.<name>`."""

    @abc.abstractmethod
    def jump_times(self) -> list[float]:
        """Times where I_ext jumps: declared to the step-size controller (Python floats)."""


class NoStimulus(AbstractStimulus):
    def _value(self, t, xp, p):
        return xp.zeros_like(xp.asarray(t, dtype=float))

    def jump_times(self):
        return []


def _on(t, start, duration):
    return (t >= start) & (t < start + duration)


class PulseStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    duration: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]

    def _value(self, t, xp, p):
        return xp.where(_on(t, p.start, p.duration), p.amplitude, 0.0)

    def jump_times(self):
        return [float(self.start), float(self.start) + float(self.duration)]


class StepStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]

    def _value(self, t, xp, p):
        return xp.where(t >= p.start, p.amplitude, 0.0)

    def jump_times(self):
        return [float(self.start)]


class PulseTrainStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    period: Float[ArrayLike, ""]
    duration: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]
    count: int = eqx.field(static=True)

    def _value(self, t, xp, p):
        since = t - p.start
        index = xp.floor(since / p.period)
        within = since - index * p.period
        on = (since >= 0) & (index < p.count) & (within < p.duration)
        return xp.where(on, p.amplitude, 0.0)

    def jump_times(self):
        s, p, d = float(self.start), float(self.period), float(self.duration)
        return [x for i in range(self.count) for x in (s + i * p, s + i * p + d)]


class RecordedStimulus(AbstractStimulus):
    """A sampled current, interpolated piecewise linearly between its samples (held constant
    outside them). Its kinks (where the slope changes by more than `KINK_FRACTION` of the current's
    range per sample) are declared to the step-size controller: a sampled step is a ramp over one
    sample interval, with a kink at each end."""

    ts: Float[Array, " n"]
    values: Float[Array, " n"]
    kinks: tuple[float, ...] = eqx.field(static=True, default=())

    KINK_FRACTION = 1e-3
    MAX_KINKS = 512

    def _value(self, t, xp, p):
        return xp.interp(t, p.ts, p.values)

    def jump_times(self):
        return list(self.kinks)

    @staticmethod
    def find_kinks(ts, values) -> tuple[float, ...]:
        """The sample times where the piecewise-linear current bends: the largest `MAX_KINKS`
        second differences above `KINK_FRACTION` of its range."""
        ts, values = np.asarray(ts, float), np.asarray(values, float)
        if values.ndim == 1:
            values = values[None]
        if ts.size < 3:
            return ()
        slope = np.diff(values, axis=-1) / np.diff(ts)
        bend = np.max(np.abs(np.diff(slope, axis=-1)) * np.diff(ts)[1:], axis=0)  # change per sample
        span = float(np.max(values) - np.min(values))
        if span == 0.0:
            return ()
        index = np.flatnonzero(bend > RecordedStimulus.KINK_FRACTION * span) + 1
        if index.size > RecordedStimulus.MAX_KINKS:
            index = np.sort(index[np.argsort(bend[index - 1])[-RecordedStimulus.MAX_KINKS:]])
        return tuple(float(x) for x in ts[index])
