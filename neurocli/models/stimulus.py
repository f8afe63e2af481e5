"""Injected-current protocols I_ext(t) (µA/cm² for neuron models) and their discontinuity times."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


class AbstractStimulus(eqx.Module):
    @abc.abstractmethod
    def __call__(self, t: Float[ArrayLike, ""]) -> Float[Array, ""]:
        """The current at time t."""

    @abc.abstractmethod
    def jump_times(self) -> list[float]:
        """Times where I_ext jumps: declared to the step-size controller (Python floats)."""


class NoStimulus(AbstractStimulus):
    def __call__(self, t):
        return jnp.zeros_like(jnp.asarray(t, dtype=float))

    def jump_times(self):
        return []


def _on(t, start, duration):
    return (t >= start) & (t < start + duration)


class PulseStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    duration: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]

    def __call__(self, t):
        return jnp.where(_on(t, self.start, self.duration), self.amplitude, 0.0)

    def jump_times(self):
        return [float(self.start), float(self.start) + float(self.duration)]


class StepStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]

    def __call__(self, t):
        return jnp.where(t >= self.start, self.amplitude, 0.0)

    def jump_times(self):
        return [float(self.start)]


class PulseTrainStimulus(AbstractStimulus):
    start: Float[ArrayLike, ""]
    period: Float[ArrayLike, ""]
    duration: Float[ArrayLike, ""]
    amplitude: Float[ArrayLike, ""]
    count: int = eqx.field(static=True)

    def __call__(self, t):
        since = t - self.start
        index = jnp.floor(since / self.period)
        within = since - index * self.period
        on = (since >= 0) & (index < self.count) & (within < self.duration)
        return jnp.where(on, self.amplitude, 0.0)

    def jump_times(self):
        s, p, d = float(self.start), float(self.period), float(self.duration)
        return [x for i in range(self.count) for x in (s + i * p, s + i * p + d)]
