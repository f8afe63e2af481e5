"""Shared figure conventions: Agg backend, sizes, labels with units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PARAMETER_UNITS = {
    "amplitude": "µA/cm²",
    "start": "ms",
    "duration": "ms",
    "period": "ms",
    "C_m": "µF/cm²",
    "g_Na": "mS/cm²",
    "g_K": "mS/cm²",
    "g_L": "mS/cm²",
    "E_Na": "mV",
    "E_K": "mV",
    "E_L": "mV",
    "temperature_C": "°C",
    "diameter_um": "µm",
    "R_i_ohm_cm": "Ω·cm",
    "length_cm": "cm",
    "stim_extent_cm": "cm",
}

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "pdf.fonttype": 42,
    }
)


def parameter_label(path: str, dimensionless: bool = False) -> str:
    """`stimulus.amplitude` -> 'stimulus amplitude (µA/cm²)'."""
    root, _, field = path.partition(".")
    unit = None if dimensionless else PARAMETER_UNITS.get(field)
    text = f"{root} {field}".replace("_", " ")
    return f"{text} ({unit})" if unit else text


def figure(*args, **kwargs):
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(*args, **kwargs)
