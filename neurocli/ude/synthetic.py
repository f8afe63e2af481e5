"""Synthetic current-clamp recordings made by neurocli itself: a model driven by current steps,
sampled, with Gaussian voltage noise. The truth the tests and benchmarks measure against.

The injected current is the sampled step, and the model is driven by exactly what a fit will see:
that samples' piecewise-linear interpolation (`RecordedStimulus`), solved at tight tolerance.
Writers: CSV (named columns, one `sweep` column) and NWB (pynwb, the `recordings` extra:
CurrentClampSeries in volts, CurrentClampStimulusSeries in amperes for a given membrane area).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from neurocli.config.common import SolverConfig
from neurocli.models.stimulus import RecordedStimulus
from neurocli.numerics.solve import Problem, SolveSpec, run_solve

TIGHT = SolverConfig(name="tsit5", rtol=1e-10, atol=1e-10, max_steps=100_000)


@dataclasses.dataclass(frozen=True)
class Synthetic:
    t: np.ndarray  # (nt,) ms
    i_ext: np.ndarray  # (S, nt) µA/cm²
    clean: np.ndarray  # (S, nt, state)
    v: np.ndarray  # (S, nt) mV, noisy
    amplitudes: tuple[float, ...]


def step_current(t: np.ndarray, start: float, stop: float, amplitude: float) -> np.ndarray:
    return np.where((t >= start - 1e-9) & (t < stop - 1e-9), amplitude, 0.0)


def current_clamp(model, amplitudes=(-3.0, 4.0, 10.0), t1: float = 50.0, dt: float = 0.1, start: float = 5.0,
                  stop: float = 35.0, noise_mV: float = 1.0, seed: int = 0) -> Synthetic:
    """`model` (an HH-type neuron model) from rest, one sweep per step amplitude (µA/cm²)."""
    t = np.round(np.arange(0.0, t1 + dt / 2, dt), 10)
    y0 = np.asarray(model.initial_state())
    rng = np.random.default_rng(seed)
    i_ext, clean = [], []
    for amp in amplitudes:
        i = step_current(t, start, stop, amp)
        stim = RecordedStimulus(jnp.asarray(t), jnp.asarray(i), RecordedStimulus.find_kinks(t, i))
        problem = Problem(model, stim, jnp.asarray(y0), tuple(range(y0.size)))
        ys = run_solve(problem, SolveSpec(TIGHT, 0.0, float(t[-1]), t, tuple(stim.jump_times()))).ys
        i_ext.append(i)
        clean.append(np.asarray(ys))
    clean = np.stack(clean)
    v = clean[..., 0] + noise_mV * rng.standard_normal(clean[..., 0].shape)
    return Synthetic(t, np.stack(i_ext), clean, v, tuple(float(a) for a in amplitudes))


def write_csv(path, syn: Synthetic) -> None:
    """Columns sweep, time_ms, vm, stim (mV, µA/cm²)."""
    lines = ["sweep,time_ms,vm,stim"]
    for k in range(syn.v.shape[0]):
        lines += [f"{k},{t:.4f},{v:.6f},{i:.6f}" for t, v, i in zip(syn.t, syn.v[k], syn.i_ext[k])]
    from pathlib import Path

    Path(path).write_text("\n".join(lines) + "\n")


def write_nwb(path, syn: Synthetic, area_cm2: float, description: str, stimulus: bool = True) -> None:
    """One CurrentClampSeries (data in mV, conversion 1e-3 to volts) and CurrentClampStimulusSeries
    (data in pA, conversion 1e-12 to amperes: µA/cm² × area × 1e6) per sweep, sweep numbers 0.."""
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb = NWBFile(session_description=description, identifier="neurocli-synthetic-hh",
                  session_start_time=datetime(2026, 12, 6, tzinfo=timezone.utc))
    device = nwb.create_device(name="neurocli")
    electrode = nwb.create_icephys_electrode(name="electrode", description="simulated", device=device)
    rate = 1e3 / float(syn.t[1] - syn.t[0])
    for k in range(syn.v.shape[0]):
        if stimulus:
            nwb.add_stimulus(CurrentClampStimulusSeries(
                name=f"stimulus_{k}", data=syn.i_ext[k] * area_cm2 * 1e6, conversion=1e-12, electrode=electrode,
                gain=1.0, rate=rate, starting_time=0.0, sweep_number=np.uint32(k)))
        nwb.add_acquisition(CurrentClampSeries(
            name=f"response_{k}", data=syn.v[k], conversion=1e-3, electrode=electrode, gain=1.0,
            rate=rate, starting_time=0.0, sweep_number=np.uint32(k)))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
