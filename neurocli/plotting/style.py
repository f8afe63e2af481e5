"""Shared figure conventions: Agg backend, sizes, labels with units.

matplotlib is imported on the first figure, not with this module: commands that make no figure
(and `neurocli --help`) never pay for it.
"""

from __future__ import annotations

import functools

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

RC_PARAMS = {
    "figure.dpi": 100,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    # Type 3 (matplotlib's default): embedding TrueType (42) runs fontTools' subsetter on every
    # save, ~0.2 s a figure; the text stays searchable either way.
    "pdf.fonttype": 3,
}


@functools.cache
def pyplot():
    """matplotlib.pyplot on the Agg backend (set explicitly: no GUI probing) with the house style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(RC_PARAMS)
    return plt


def parameter_label(path: str, dimensionless: bool = False) -> str:
    """`stimulus.amplitude` -> 'stimulus amplitude (µA/cm²)'."""
    root, _, field = path.partition(".")
    unit = None if dimensionless else PARAMETER_UNITS.get(field)
    text = f"{root} {field}".replace("_", " ")
    return f"{text} ({unit})" if unit else text


def figure(*args, **kwargs):
    kwargs.setdefault("layout", "constrained")
    return pyplot().subplots(*args, **kwargs)


def pdf_bytes(fig) -> bytes:
    """The figure as PDF bytes; closes it. Every figure of a run is saved through here (in this
    process or in the figure worker, neurocli.plotting.figure_worker)."""
    import io

    buf = io.BytesIO()
    # a figure laid out by its layout engine (constrained) already fits its canvas; a tight
    # bounding box would draw it twice (~40 % of the save)
    fig.savefig(buf, format="pdf", bbox_inches=None if fig.get_layout_engine() is not None else "tight")
    pyplot().close(fig)
    return buf.getvalue()
