"""Training data for a UDE: simulated from the known model (optionally noisy) or read from a CSV.

Simulated data use the same solve as `neurocli simulate` (tight tolerance, stimulus edges declared).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from neurocli.config.base import ConfigError
from neurocli.config.ude import CsvData, SimulatedData, TrainUDEConfig
from neurocli.models.base import AbstractNeuronModel
from neurocli.models.stimulus import AbstractStimulus
from neurocli.run_dir import read_file
from neurocli.numerics.solve import Problem, SolveSpec, run_solve


@dataclasses.dataclass(frozen=True)
class Recording:
    """Samples of every state: t (nt,) in ms, y (nt, state) as observed (noisy), and the clean
    trajectory when known (simulated data)."""

    names: tuple[str, ...]
    t: np.ndarray
    y: np.ndarray
    clean: np.ndarray | None = None

    @property
    def y0(self) -> np.ndarray:
        """The initial state of the fit: the clean start when known, else the first sample."""
        return (self.clean if self.clean is not None else self.y)[0]

    @property
    def reference(self) -> np.ndarray:
        """The best available picture of the true trajectory (clean if known)."""
        return self.clean if self.clean is not None else self.y


def read_csv(path: str, names: tuple[str, ...], source: str) -> Recording:
    """A CSV with a `t` column and one column per state (any order, extra columns ignored)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(source, [("data.path", f"{path}: file not found")])
    try:
        rows = list(csv.reader(io.StringIO(read_file(file).decode("utf-8"), newline="")))
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [("data.path", f"{path}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})")]) from None
    except (OSError, csv.Error) as exc:
        raise ConfigError(source, [("data.path", f"{path}: cannot be read ({exc})")]) from None
    if not rows:
        raise ConfigError(source, [("data.path", f"{path}: empty file")])
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("t", *names) if c not in header]
    if missing:
        raise ConfigError(source, [("data.path", f"{path}: missing columns {', '.join(missing)} (has {', '.join(header)})")])
    try:
        table = np.array([[float(r[header.index(c)]) for c in ("t", *names)] for r in rows[1:] if r], dtype=float)
    except (ValueError, IndexError) as exc:
        raise ConfigError(source, [("data.path", f"{path}: not numeric ({exc})")]) from None
    if table.shape[0] < 3:
        raise ConfigError(source, [("data.path", f"{path}: needs at least 3 rows of samples")])
    if not np.isfinite(table).all():
        raise ConfigError(source, [("data.path", f"{path}: contains non-finite values")])
    if not (np.diff(table[:, 0]) > 0).all():
        raise ConfigError(source, [("data.path", f"{path}: column t must increase strictly")])
    return Recording(names, table[:, 0], table[:, 1:])


def initial_values(cfg: TrainUDEConfig) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """The configured initial-state overrides as (values, indices) for a `Problem`."""
    if not cfg.initial_state:
        return None, ()
    index = tuple(cfg.state_names.index(k) for k in cfg.initial_state)
    return np.asarray(list(cfg.initial_state.values()), dtype=float), index


def simulate(
    cfg: TrainUDEConfig, truth: AbstractNeuronModel, stimulus: AbstractStimulus
) -> Recording:
    """Solve the true model on the data's time grid and add the configured noise."""
    data: SimulatedData = cfg.data
    values, index = initial_values(cfg)
    problem = Problem(truth, stimulus, None if values is None else jnp.asarray(values), index)
    tc = data.time
    ts = tc.grid
    spec = SolveSpec(data.solver, tc.t0, tc.t1, ts, tuple(stimulus.jump_times()))
    clean = run_solve(problem, spec).ys
    return with_noise(Recording(cfg.state_names, ts, clean, clean), data.noise, data.seed)


def with_noise(recording: Recording, noise: dict[str, float], seed: int) -> Recording:
    """The clean trajectory of a simulated `recording` plus Gaussian noise of standard deviation
    `noise[state]` (0 for states not named), drawn with numpy's generator seeded by `seed`."""
    clean = recording.clean
    sigma = np.array([noise.get(name, 0.0) for name in recording.names])
    rng = np.random.default_rng(seed)
    noisy = clean + rng.standard_normal(clean.shape) * sigma
    return Recording(recording.names, recording.t, noisy, clean)


def load(cfg: TrainUDEConfig, truth, stimulus, csv_recording: Recording | None) -> Recording:
    if isinstance(cfg.data, CsvData):
        assert csv_recording is not None
        return csv_recording
    return simulate(cfg, truth, stimulus)
