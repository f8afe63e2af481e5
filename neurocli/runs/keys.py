"""The metric keys `runs --where/--sort` and `tune --objective` use: metrics.json flattened.

- A number at the top level is its own key (`best_loss`, `compile_s`); a nested dict's numbers
  are `outer.inner`.
- A list of numbers (one per sweep member, e.g. a simulate sweep's `peak_V_mV`) gives
  `<key>_min`, `<key>_median` and `<key>_max` over its finite values.
- `members` as a list of dicts (train-pinn: `rel_l2`, `max_abs_err`, `final_loss`, … per member)
  gives `<field>_min`, `_median` and `_max` for each numeric field: `rel_l2_max` is the worst
  member's relative L2 error.
- A key metrics.json itself holds wins over a derived one (train-ude sweeps write their own
  `<metric>_median`, `_min`, `_max`). Booleans, strings and nulls are not keys' values (a null
  number is missing: a run without it does not match a `--where` on it).
"""

from __future__ import annotations

import math
from typing import Any

SUMMARIES = ("min", "median", "max")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _summarise(key: str, values: list, out: dict[str, float]) -> None:
    finite = sorted(float(v) for v in values if _number(v))
    if not finite:
        return
    n = len(finite)
    out.setdefault(f"{key}_min", finite[0])
    out.setdefault(f"{key}_median", finite[n // 2] if n % 2 else (finite[n // 2 - 1] + finite[n // 2]) / 2)
    out.setdefault(f"{key}_max", finite[-1])


def flat_metrics(metrics: Any) -> dict[str, float]:
    """metrics.json as {key: number} (see the module doc)."""
    if not isinstance(metrics, dict):
        return {}
    own: dict[str, float] = {}
    derived: dict[str, float] = {}

    def walk(prefix: str, node: dict) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if _number(value):
                own[name] = float(value)
            elif isinstance(value, dict):
                walk(f"{name}.", value)
            elif isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
                fields: dict[str, list] = {}
                for member in value:
                    for f, v in member.items():
                        fields.setdefault(f, []).append(v)
                for f, vs in fields.items():
                    _summarise(f"{prefix}{f}" if key == "members" else f"{name}.{f}", vs, derived)
            elif isinstance(value, list) and value and all(v is None or _number(v) for v in value):
                _summarise(name, value, derived)

    walk("", metrics)
    return {**derived, **own}


def _with_summaries(*names: str) -> tuple[str, ...]:
    return tuple(f"{n}_{s}" for n in names for s in SUMMARIES)


PER_MEMBER_SIMULATE = ("spike_count", "firing_rate_hz", "peak_V_mV", "min_V_mV", "num_steps", "num_rejected_steps",
                       "conduction_velocity_m_per_s", "spike_half_width_ms", "u_min", "u_max", "front_speed",
                       "excited_fraction")
PER_MEMBER_UDE = ("best_loss", "final_loss", "current_rmse", "current_max_err", "validation_sse")
PER_MEMBER_PINN = ("final_loss", "best_loss", "rel_l2", "max_abs_err", "rel_l2_T")

KEYS: dict[str, tuple[str, ...]] = {
    "simulate": (*PER_MEMBER_SIMULATE, *_with_summaries(*PER_MEMBER_SIMULATE), "members",
                 "nx", "nt", "compile_s", "run_s"),
    "train-ude": (*PER_MEMBER_UDE, *_with_summaries(*PER_MEMBER_UDE), "iterations", "failed_solves", "fit_sse",
                  "compile_s", "train_s", "s_per_iter"),
    "train-pinn": (*_with_summaries(*PER_MEMBER_PINN), "compile_s", "train_s", "s_per_step", "wall_s",
                   "reference_s"),
    "tune": ("best_value", "trials", "complete", "failed"),
}
"""Every command's documented keys (a run may hold more: any key of its flattened metrics.json works)."""

HEADLINE: dict[str, tuple[str, ...]] = {
    "simulate": ("spike_count", "spike_count_max", "peak_V_mV", "peak_V_mV_max", "conduction_velocity_m_per_s",
                 "front_speed", "run_s"),
    "train-ude": ("best_loss", "current_rmse", "validation_sse", "train_s"),
    "train-pinn": ("rel_l2_max", "rel_l2_median", "max_abs_err_max", "train_s"),
    "tune": ("best_value", "complete"),
}
"""The metric columns `neurocli runs` shows, each where a listed run has it."""

COLUMNS = ("time", "command", "name", "status", "duration_s")
"""The columns every run has (from run.json and the directory's name)."""
