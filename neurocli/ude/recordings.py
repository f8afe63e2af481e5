"""Current-clamp recordings for train-ude: V(t) and the injected current I(t), one trajectory per
sweep (protocol), read from a CSV with named columns, an NWB file (pynwb) or an ABF file (pyabf).

Every reader returns a `SweepSet` in the models' units (ms, mV, µA/cm²), each sweep's time
rebased to start at 0, all sweeps on one time grid (a vmapped solve needs it). Anything that
cannot be used is a `ConfigError` (exit 2) naming the file and what is wrong, raised before anything
is compiled: a missing column or series, NaN samples, time that does not increase, sweeps on
different grids, a stimulus on another grid than its response, units that cannot be converted, a
missing optional reader (the `recordings` extra).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np

from neurocli.config.base import ConfigError
from neurocli.run_dir import read_file

EXTRA = "recordings"
GRID_RTOL = 1e-6  # sweeps' sample times must agree to this fraction of the sample step


@dataclasses.dataclass(frozen=True)
class SweepSet:
    """Sweeps on one time grid: t (nt,) ms from 0; y (S, nt, k) of the states `names`;
    i_ext (S, nt) µA/cm² or None; clean (S, nt, all states) when known (simulated)."""

    source: str
    names: tuple[str, ...]
    t: np.ndarray
    y: np.ndarray
    i_ext: np.ndarray | None
    labels: tuple[str, ...]
    clean: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.y.shape[0])

    def take(self, index) -> SweepSet:
        index = list(index)
        return dataclasses.replace(
            self, y=self.y[index], i_ext=None if self.i_ext is None else self.i_ext[index],
            labels=tuple(self.labels[i] for i in index), clean=None if self.clean is None else self.clean[index])


def _fail(source: str, key: str, path, message: str) -> ConfigError:
    return ConfigError(source, [(key, f"{path}: {message}")])


def _missing_extra(source: str, kind: str, module: str) -> ConfigError:
    return ConfigError(source, [("data.kind", f"{kind} needs the optional extra '{EXTRA}' ({module} is not "
                                              f"installed): pip install -e '.[{EXTRA}]'")])


def _check_file(path: str, source: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise _fail(source, "data.path", path, "file not found")
    return file


def _one_grid(times: list[np.ndarray], labels, path, source: str) -> np.ndarray:
    """The shared grid of the sweeps (each rebased to 0): strictly increasing, equal for all."""
    base = None
    for t, label in zip(times, labels):
        if t.size < 3:
            raise _fail(source, "data.path", path, f"sweep {label}: needs at least 3 samples (has {t.size})")
        if not np.isfinite(t).all():
            raise _fail(source, "data.path", path, f"sweep {label}: time has non-finite values")
        if not (np.diff(t) > 0).all():
            k = int(np.flatnonzero(np.diff(t) <= 0)[0])
            raise _fail(source, "data.path", path, f"sweep {label}: time must increase strictly "
                                                   f"(sample {k + 1}: {t[k + 1]:g} after {t[k]:g})")
        t = t - t[0]
        if base is None:
            base = t
            continue
        step = float(np.median(np.diff(base)))
        if t.size != base.size or np.max(np.abs(t - base)) > GRID_RTOL * step + 1e-12:
            raise _fail(source, "data.path", path,
                        f"sweep {label} is sampled differently from sweep {labels[0]} ({t.size} samples, "
                        f"step {np.median(np.diff(t)):g} ms vs {base.size}, {step:g} ms): mismatched sampling")
    return base


def _finite(values: np.ndarray, what: str, path, source: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0]) if values.ndim > 1 else int(np.flatnonzero(bad)[0])
        raise _fail(source, "data.path", path, f"{what}: NaN or infinite samples ({int(bad.sum())}, the first at sample {k})")


# -- CSV ----------------------------------------------------------------------------------------


def read_csv(path: str, state_names: tuple[str, ...], columns: dict[str, str] | None, sweep_column: str | None,
             source: str) -> SweepSet:
    """A CSV with named columns (ms, mV, µA/cm²); without `columns`, `t` and every state column the
    file has (at least V). Rows with the same `sweep_column` value are one sweep."""
    file = _check_file(path, source)
    try:
        rows = list(csv.reader(io.StringIO(read_file(file).decode("utf-8"), newline="")))
    except UnicodeDecodeError as exc:
        raise _fail(source, "data.path", path, f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
    except (OSError, csv.Error) as exc:
        raise _fail(source, "data.path", path, f"cannot be read ({exc})") from None
    if not rows:
        raise _fail(source, "data.path", path, "empty file")
    header = [h.strip() for h in rows[0]]
    if columns is None:
        columns = {"t": "t", **{s: s for s in state_names if s in header}}
        if "V" not in columns:
            raise _fail(source, "data.columns", path, f"has no V column (has {', '.join(header)}); name it in data.columns")
    wanted = dict(columns)
    if sweep_column is not None:
        wanted["sweep"] = sweep_column
    missing = [f"{col!r} (for {key})" for key, col in wanted.items() if col not in header]
    if missing:
        key = "data.sweep_column" if sweep_column is not None and sweep_column not in header and len(missing) == 1 \
            and missing[0].endswith("(for sweep)") else "data.columns"
        raise _fail(source, key, path, f"missing column {', '.join(missing)} (has {', '.join(header)})")
    where = {key: header.index(col) for key, col in wanted.items()}
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    table = np.empty((len(body), len(where)))
    for i, r in enumerate(body):
        for j, (key, k) in enumerate(where.items()):
            try:
                table[i, j] = float(r[k])
            except (ValueError, IndexError):
                raise _fail(source, "data.path", path, f"row {i + 2}, column {wanted[key]!r}: not a number "
                                                       f"({r[k] if k < len(r) else 'missing'!r})") from None
    if table.shape[0] < 3:
        raise _fail(source, "data.path", path, "needs at least 3 rows of samples")
    keys = list(where)
    for j, key in enumerate(keys):
        bad = ~np.isfinite(table[:, j])
        if bad.any():
            raise _fail(source, "data.path", path, f"column {wanted[key]!r}: NaN or infinite samples "
                                                   f"({int(bad.sum())}, the first in row {int(np.flatnonzero(bad)[0]) + 2})")
    if sweep_column is not None:
        ids = table[:, keys.index("sweep")]
        labels = [f"{v:g}" for v in sorted(set(ids.tolist()))]
        groups = [table[ids == float(v)] for v in sorted(set(ids.tolist()))]
    else:
        labels, groups = ["0"], [table]
    t = _one_grid([g[:, keys.index("t")] for g in groups], labels, path, source)
    names = tuple(s for s in state_names if s in columns)
    y = np.stack([np.stack([g[:, keys.index(s)] for s in names], axis=-1) for g in groups])
    i_ext = np.stack([g[:, keys.index("I_ext")] for g in groups]) if "I_ext" in columns else None
    return SweepSet(str(path), names, t, y, i_ext, tuple(labels))


# -- unit conversion ----------------------------------------------------------------------------

VOLT_UNITS = {"v": 1e3, "volt": 1e3, "volts": 1e3, "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0}
AMP_UNITS = {"a": 1.0, "amp": 1.0, "ampere": 1.0, "amperes": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6,
             "na": 1e-9, "pa": 1e-12, "picoamperes": 1e-12, "nanoamperes": 1e-9}


def area_cm2(data_cfg, C_m: float) -> float | None:
    """The membrane area from `membrane_area_cm2`, or from `capacitance_pF` and the model's C_m
    (µF/cm²): area = C / C_m."""
    if data_cfg.membrane_area_cm2 is not None:
        return float(data_cfg.membrane_area_cm2)
    if data_cfg.capacitance_pF is not None:
        return float(data_cfg.capacitance_pF) * 1e-6 / float(C_m)
    return None


def to_mV(values: np.ndarray, unit: str, what: str, path, source: str) -> np.ndarray:
    scale = VOLT_UNITS.get(str(unit).strip().lower())
    if scale is None:
        raise _fail(source, "data.path", path, f"{what}: unit {unit!r} cannot be converted to mV")
    return values * scale


def to_density(values: np.ndarray, unit: str, area: float | None, what: str, path, source: str) -> np.ndarray:
    """A current in `unit` to µA/cm² (a density unit is taken as is)."""
    u = str(unit).strip().lower().replace(" ", "")
    if u in ("ua/cm2", "µa/cm2", "ua/cm^2", "µa/cm²", "ua/cm²"):
        return values
    if u in ("pa/pf", "a/f"):  # µA/µF = µA/cm² at C_m = 1 µF/cm²
        return values
    scale = AMP_UNITS.get(u)
    if scale is None:
        raise _fail(source, "data.path", path, f"{what}: unit {unit!r} cannot be converted to µA/cm²")
    if area is None:
        raise _fail(source, "data.membrane_area_cm2", path,
                    f"{what} is in {unit}: give data.membrane_area_cm2 or data.capacitance_pF to convert it to µA/cm²")
    return values * scale * 1e6 / area


def _select(count: int, sweeps, path, source: str) -> list[int]:
    if count == 0:
        raise _fail(source, "data.path", path, "holds no sweeps")
    if sweeps == "all":
        return list(range(count))
    bad = [s for s in sweeps if s >= count]
    if bad:
        raise _fail(source, "data.sweeps", path, f"has {count} sweeps (0..{count - 1}); no sweep {bad[0]}")
    return list(sweeps)


# -- NWB ----------------------------------------------------------------------------------------


def _series_times(series, n: int) -> np.ndarray:
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], float) * 1e3
    rate = float(series.rate)
    return (float(series.starting_time or 0.0) + np.arange(n) / rate) * 1e3


def _series_values(series) -> np.ndarray:
    data = np.asarray(series.data[:], float)
    return data * float(series.conversion) + float(getattr(series, "offset", 0.0) or 0.0)


def read_nwb(data_cfg, C_m: float, need_stimulus: bool, source: str) -> SweepSet:
    """Every CurrentClampSeries of the file's acquisition, paired with the CurrentClampStimulusSeries
    of the same sweep number (else the same position, by name)."""
    path = data_cfg.path
    file = _check_file(path, source)
    try:
        import pynwb
        from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries
    except ImportError:
        raise _missing_extra(source, "data.kind nwb", "pynwb") from None
    try:
        with pynwb.NWBHDF5IO(str(file), "r", load_namespaces=True) as reader:
            nwb = reader.read()
            responses = sorted((s for s in nwb.acquisition.values() if isinstance(s, CurrentClampSeries)),
                               key=lambda s: (s.sweep_number if s.sweep_number is not None else -1, s.name))
            stimuli = sorted((s for s in nwb.stimulus.values() if isinstance(s, CurrentClampStimulusSeries)),
                             key=lambda s: (s.sweep_number if s.sweep_number is not None else -1, s.name))
            if not responses:
                raise _fail(source, "data.path", path, "has no CurrentClampSeries in its acquisition")
            chosen = _select(len(responses), data_cfg.sweeps, path, source)
            by_number = {s.sweep_number: s for s in stimuli if s.sweep_number is not None}
            area = area_cm2(data_cfg, C_m)
            times, vs, currents, labels = [], [], [], []
            for k in chosen:
                resp = responses[k]
                label = f"{resp.name}" + (f" (sweep {resp.sweep_number})" if resp.sweep_number is not None else "")
                v = to_mV(_series_values(resp), resp.unit, f"{resp.name}", path, source)
                _finite(v, resp.name, path, source)
                t = _series_times(resp, v.size)
                stim = by_number.get(resp.sweep_number) if resp.sweep_number is not None else None
                if stim is None and resp.sweep_number is None and len(stimuli) == len(responses):
                    stim = stimuli[k]
                if stim is None:
                    if need_stimulus:
                        raise _fail(source, "stimulus.kind", path, f"{label}: no CurrentClampStimulusSeries for this "
                                                                   "sweep (stimulus.kind recorded needs one)")
                    currents.append(None)
                else:
                    i = to_density(_series_values(stim), stim.unit, area, stim.name, path, source)
                    _finite(i, stim.name, path, source)
                    ts = _series_times(stim, i.size)
                    if i.size != v.size or np.max(np.abs((ts - ts[0]) - (t - t[0]))) > 1e-6 * np.median(np.diff(t)):
                        raise _fail(source, "data.path", path, f"{label}: its stimulus {stim.name} is sampled differently "
                                                               f"({i.size} samples vs {v.size}): mismatched sampling")
                    currents.append(i)
                times.append(t)
                vs.append(v)
                labels.append(label)
    except ConfigError:
        raise
    except Exception as exc:  # h5py/pynwb: not an NWB file, damaged, ...
        raise _fail(source, "data.path", path, f"cannot be read as NWB ({type(exc).__name__}: {exc})") from None
    t = _one_grid(times, labels, path, source)
    i_ext = None if any(c is None for c in currents) else np.stack(currents)
    return SweepSet(str(path), ("V",), t, np.stack(vs)[..., None], i_ext, tuple(labels))


# -- ABF ----------------------------------------------------------------------------------------


def read_abf(data_cfg, C_m: float, need_stimulus: bool, source: str) -> SweepSet:
    """Channel `data.channel`'s sweeps (V) and their command waveform (the stimulus)."""
    path = data_cfg.path
    file = _check_file(path, source)
    try:
        import pyabf
    except ImportError:
        raise _missing_extra(source, "data.kind abf", "pyabf") from None
    try:
        abf = pyabf.ABF(str(file))
        if data_cfg.channel >= abf.channelCount:
            raise _fail(source, "data.channel", path, f"has {abf.channelCount} channel(s); no channel {data_cfg.channel}")
        chosen = _select(abf.sweepCount, data_cfg.sweeps, path, source)
        area = area_cm2(data_cfg, C_m)
        times, vs, currents, labels = [], [], [], []
        for k in chosen:
            abf.setSweep(k, channel=data_cfg.channel)
            label = f"sweep {k}"
            v = to_mV(np.asarray(abf.sweepY, float), abf.sweepUnitsY, label, path, source)
            _finite(v, label, path, source)
            if need_stimulus:
                i = to_density(np.asarray(abf.sweepC, float), abf.sweepUnitsC, area, f"{label} command", path, source)
                _finite(i, f"{label} command", path, source)
                currents.append(i)
            times.append(np.asarray(abf.sweepX, float) * 1e3)
            vs.append(v)
            labels.append(label)
    except ConfigError:
        raise
    except Exception as exc:
        raise _fail(source, "data.path", path, f"cannot be read as ABF ({type(exc).__name__}: {exc})") from None
    t = _one_grid(times, labels, path, source)
    return SweepSet(str(path), ("V",), t, np.stack(vs)[..., None], np.stack(currents) if currents else None,
                    tuple(labels))


def read(cfg, source: str) -> SweepSet | None:
    """The recording a train-ude config names (None: simulated data)."""
    data = cfg.data
    need = cfg.stimulus.kind == "recorded"
    if data.kind == "csv":
        return read_csv(data.path, cfg.state_names, data.columns, data.sweep_column, source)
    if data.kind == "nwb":
        return read_nwb(data, float(cfg.model.C_m), need, source)
    if data.kind == "abf":
        return read_abf(data, float(cfg.model.C_m), need, source)
    return None
