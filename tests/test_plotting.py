"""Figures: heat maps whose colour scale shows the travelling front, shared between figures."""

from __future__ import annotations

import numpy as np

from neurocli.plotting import pde


def _pulse_then_front(nt=101, nx=51, peak=2.0, front=0.6):
    t = np.linspace(0.0, 1.0, nt)
    x = np.linspace(0.0, np.pi, nx)
    pulse = peak * np.exp(-t[:, None] / 0.01) * np.exp(-((x[None] - np.pi / 2) / 0.1) ** 2)
    wave = front * (np.abs(x[None] - np.pi / 2) < t[:, None])
    return t, x, np.maximum(pulse, wave)


def test_an_early_pulse_is_clipped_so_the_front_uses_the_colours():
    t, x, u = _pulse_then_front()
    scale = pde.colour_scale(t, u[None])
    assert scale.vmax == 0.6 and scale.clipped_from == 2.0
    assert "clipped > 0.6" in scale.label("u") and "2" in scale.label("u")


def test_prediction_and_reference_share_one_scale():
    t, x, ref = _pulse_then_front(front=0.6)
    _, _, pred = _pulse_then_front(front=0.5, peak=1.8)
    scale = pde.colour_scale(t, pred[None], ref[None])
    assert scale.vmin < 1e-100 and scale.vmax == 0.6 and scale.clipped_from == 2.0


def test_a_field_without_an_early_peak_keeps_its_full_range():
    t, x, u = _pulse_then_front(peak=0.0)
    scale = pde.colour_scale(t, u[None])
    assert scale.vmax == 0.6 and scale.clipped_from is None
    assert pde.colour_scale(t, _pulse_then_front()[2][None], clip=False).vmax == 2.0


def test_heatmap_colorbar_says_it_is_clipped():
    t, x, u = _pulse_then_front()
    fig = pde.heatmap_grid(t, x, u[None], ["a = 0.1"], label="u")
    bar = fig.axes[-1]
    assert "clipped > " in bar.get_ylabel()
    fixed = pde.heatmap_grid(t, x, u[None], ["a = 0.1"], label="u", vmin=0.0, vmax=2.0)
    assert fixed.axes[-1].get_ylabel() == "u"


def test_loss_figure_best_line_ends_at_the_reported_best_loss():
    from neurocli.plotting import ude

    step = np.arange(6.0)
    loss = np.array([10.0, 5.0, np.inf, 3.0, 4.0, 3.5])  # the loss of the parameters before each update
    rejected = np.array([0, 0, 1, 0, 0, 0])
    phase = np.zeros(6)
    fig = ude.loss_curve(step, loss, phase, ["adam"], rejected, final_loss=2.5)
    (best,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "best so far"]
    assert best.get_ydata()[-1] == 2.5 and best.get_xdata()[-1] == 6.0  # metrics' best_loss: min(3.0, final 2.5)
    worse = ude.loss_curve(step, loss, phase, ["adam"], rejected, final_loss=9.0)
    (best,) = [line for line in worse.axes[0].get_lines() if line.get_label() == "best so far"]
    assert best.get_ydata()[-1] == 3.0


def test_heat_map_cells_on_a_log_axis_stay_positive_and_centred():
    """Cells of a log-spaced parameter are centred in log space: the first cell of k = 5, 50, 500
    spans 1.58–15.8 (a linear midpoint rule would reach below zero and clip it on the log axis)."""
    from neurocli.plotting.sweeps import cell_edges, metric_map

    edges = cell_edges(np.array([5.0, 50.0, 500.0]), log=True)
    np.testing.assert_allclose(edges, [5 / 10**0.5, 5 * 10**0.5, 50 * 10**0.5, 500 * 10**0.5])
    np.testing.assert_allclose(cell_edges(np.array([0.1, 0.2, 0.4])), [0.05, 0.15, 0.3, 0.5])
    fig = metric_map([np.array([0.1, 0.2]), np.array([5.0, 50.0, 500.0])], ["model.a", "model.k"],
                     np.array([1.0, 2.0, np.nan, 0.5, 1.0, 1.5]), "front speed", log_axes=[False, True],
                     units=("", ""))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.get_xlim(), [edges[0], edges[-1]], rtol=1e-9)
    assert [t.get_text() for t in ax.texts].count("–") == 1  # the undefined member's cell is blank


def test_axis_labels_state_a_unit_once():
    from neurocli.plotting.style import parameter_label

    assert parameter_label("model.diameter_um", "µm") == "model diameter (µm)"
    assert parameter_label("model.temperature_C", "°C") == "model temperature (°C)"
    assert parameter_label("model.R_i_ohm_cm", "Ω·cm") == "model R_i (Ω·cm)"
    assert parameter_label("stimulus.amplitude", "µA/cm²") == "stimulus amplitude (µA/cm²)"
    assert parameter_label("model.temperature_C", "") == "model temperature C"


def test_units_come_from_the_schema_fields():
    """A sweep's units are the config fields' own (`Unit` metadata): the HH stimulus is in µA/cm²,
    FitzHugh–Nagumo's is dimensionless (its panels once said 'amplitude = 0.5 µA/cm²')."""
    from neurocli.config.base import validate
    from neurocli.config.simulate import SimulateConfig

    def members(model, parameter):
        cfg = validate(SimulateConfig, {"model": model, "stimulus": {"kind": "step", "amplitude": 0.5},
                                        "time": {"t1": 10, "save_every": 1},
                                        "sweep": {"parameter": parameter, "values": [0.5, 1.0]}}, "x")
        return cfg.binding().table(cfg.sweep)

    hh = members({"name": "hh"}, "stimulus.amplitude")
    assert hh.units == ("µA/cm²",) and hh.label(0) == "amplitude = 0.5 µA/cm²"
    fhn = members({"name": "fitzhugh_nagumo"}, "stimulus.amplitude")
    assert fhn.units == ("",) and fhn.label(0) == "amplitude = 0.5"
    assert members({"name": "hh"}, "model.g_K").label(1) == "g_K = 1 mS/cm²"
    assert members({"name": "hh"}, "stimulus.start").units == ("ms",)
