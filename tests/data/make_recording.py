"""Make the small recordings the tests and shipped configs read: full Hodgkin–Huxley (squid-axon
defaults) from rest, three 30 ms current steps (−10, 4 and 10 µA/cm² from 5 ms), 50 ms sampled
every 0.1 ms, with 1 mV Gaussian voltage noise (seed 0). The hyperpolarising step (V near −90 mV,
where the potassium gates are nearly shut, so the leak carries the current) pins g_L: with σ = 1 mV
its standard error is 0.5 %, against 1.1 % with a −3 µA/cm² step (E_L's stays ≈ 0.1 mV); its
release fires an anode-break spike.

    python tests/data/make_recording.py        # writes hh_steps.csv and hh_steps.nwb beside this file

hh_steps.csv: columns sweep, time_ms, vm (mV), stim (µA/cm²).
hh_steps.nwb (needs the `recordings` extra): per sweep a CurrentClampSeries (data in mV,
conversion 1e-3 to volts) and a CurrentClampStimulusSeries (data in pA, conversion 1e-12 to
amperes) for a cell of 100 pF (membrane area 1e-4 cm² at C_m = 1 µF/cm²).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from neurocli.models import HodgkinHuxley  # noqa: E402
from neurocli.ude import synthetic  # noqa: E402

CAPACITANCE_PF = 100.0
AREA_CM2 = CAPACITANCE_PF * 1e-6  # at C_m = 1 µF/cm²


def main() -> None:
    syn = synthetic.current_clamp(HodgkinHuxley(), amplitudes=(-10.0, 4.0, 10.0), t1=50.0, dt=0.1, start=5.0,
                                  stop=35.0, noise_mV=1.0, seed=0)
    synthetic.write_csv(HERE / "hh_steps.csv", syn)
    synthetic.write_nwb(HERE / "hh_steps.nwb", syn, AREA_CM2,
                        "neurocli: full Hodgkin-Huxley, 3 current steps, 1 mV noise (tests/data/make_recording.py)")
    print(f"wrote {HERE / 'hh_steps.csv'} and {HERE / 'hh_steps.nwb'}")


if __name__ == "__main__":
    main()
