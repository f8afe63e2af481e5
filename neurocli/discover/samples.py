"""Where the learned current is sampled for the regression: the inputs the training data visit.

- `voltage_grid` (the default when the network sees V alone): a uniform grid of `points` over the
  recorded voltage range, so that every visited voltage weighs the same (the record dwells near
  rest and crosses the upstroke in a few samples);
- `recorded_states` (the default when the network sees gates too: a grid over (V, n) would leave
  the states the network was trained on): the recorded samples themselves.

The recording is the clean trajectory where it is known (simulated data), else the data.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from neurocli.ude.data import Recording


@dataclasses.dataclass(frozen=True)
class Samples:
    inputs: np.ndarray  # (n, k): network inputs
    voltage: np.ndarray  # (n,) mV, ascending
    learned: np.ndarray  # (n,) µA/cm², the network's current there
    along: str  # "voltage grid" or "recorded states"


def along_of(setting: str, inputs: tuple[str, ...]) -> str:
    if setting == "auto":
        return "voltage_grid" if tuple(inputs) == ("V",) else "recorded_states"
    return setting


def sample(network, recording: Recording, inputs: tuple[str, ...], along: str, points: int) -> Samples:
    """The network's current at the sampled inputs (one vmapped evaluation)."""
    states = recording.reference
    if along == "voltage_grid":
        if tuple(inputs) != ("V",):
            raise ValueError("a voltage grid needs a network of V alone")
        v = np.linspace(states[:, 0].min(), states[:, 0].max(), points)
        x = v[:, None]
        label = "voltage grid"
    else:
        order = np.argsort(states[:, 0], kind="stable")
        x = states[order][:, [recording.names.index(n) for n in inputs]]
        v = states[order, 0]
        label = "recorded states"
    learned = np.asarray(jax.vmap(network)(jnp.asarray(x)))
    return Samples(np.asarray(x), np.asarray(v), learned, label)


def features(library, inputs: np.ndarray) -> np.ndarray:
    """Every library column at the sampled inputs: (n, columns). Not jitted: run once, op by op
    over all samples, it is quicker than compiling a hundred columns."""
    return np.asarray(jax.vmap(library.features)(jnp.asarray(inputs)))
