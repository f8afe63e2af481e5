"""Shared figure conventions: sizes, labels with units, PDF output.

matplotlib is imported on the first figure, not with this module: commands that make no figure
(and `neurocli --help`) never pay for it.
"""

from __future__ import annotations

import functools

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
def _figure_class():
    """matplotlib's Figure with the house style. No pyplot: its import (~0.1 s), backend
    resolution and figure manager buy nothing for files; a Figure drawn for a file needs no
    manager and is freed with its last reference (nothing to close)."""
    import matplotlib

    matplotlib.rcParams.update(RC_PARAMS)
    from matplotlib.figure import Figure

    return Figure


UNIT_SUFFIXES = ("_ohm_cm", "_um", "_cm", "_C")
"""Units spelled in a field's name; the label states the unit once, in brackets."""
SYMBOLS = {"R_i", "C_m", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L"}
"""Field names that are symbols with a subscript: labelled as written."""


def parameter_label(path: str, unit: str | None = None) -> str:
    """`stimulus.amplitude`, "µA/cm²" -> 'stimulus amplitude (µA/cm²)'; `model.diameter_um`, "µm" ->
    'model diameter (µm)'. The unit comes from the member table (the schema field's `Unit`); none
    or "" (dimensionless) adds nothing."""
    root, _, field = path.partition(".")
    unit = None if unit in (None, "", "dimensionless") else unit
    name = field
    if unit:
        name = next((field[: -len(s)] for s in UNIT_SUFFIXES if field.endswith(s)), field)
    text = f"{root} {name if name in SYMBOLS else name.replace('_', ' ').replace('.', ' ')}"  # model heaviside offset
    return f"{text} ({unit})" if unit else text


FIGURE_KEYWORDS = ("figsize", "dpi", "facecolor", "edgecolor", "layout")


def figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """(figure, axes) as `pyplot.subplots` returns them, constrained layout unless told."""
    kwargs.setdefault("layout", "constrained")
    fig = _figure_class()(**{k: kwargs.pop(k) for k in FIGURE_KEYWORDS if k in kwargs})
    return fig, fig.subplots(nrows, ncols, **kwargs)


def pdf_bytes(fig) -> bytes:
    """The figure as PDF bytes. Every figure of a run is saved through here (in this process or in
    the figure worker, neurocli.plotting.figure_worker)."""
    import io

    buf = io.BytesIO()
    # a figure laid out by its layout engine (constrained) already fits its canvas; a tight
    # bounding box would draw it twice (~40 % of the save)
    fig.savefig(buf, format="pdf", bbox_inches=None if fig.get_layout_engine() is not None else "tight")
    return buf.getvalue()
