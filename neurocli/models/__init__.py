"""Models: equinox Modules whose fields are the physical parameters.

`build_model` turns a validated config section into a model; config keys equal field names.
"""

from __future__ import annotations

import jax.numpy as jnp

from neurocli.models.base import AbstractModel as AbstractModel
from neurocli.models.base import AbstractNeuronModel as AbstractNeuronModel
from neurocli.models.base import AbstractPDEModel as AbstractPDEModel
from neurocli.models.fitzhugh_nagumo import FitzHughNagumo as FitzHughNagumo
from neurocli.models.fitzhugh_nagumo_cable import FitzHughNagumoCable as FitzHughNagumoCable
from neurocli.models.hh_cable import HHCable as HHCable
from neurocli.models.hh_reduced import ReducedHodgkinHuxley as ReducedHodgkinHuxley
from neurocli.models.hodgkin_huxley import HodgkinHuxley as HodgkinHuxley
from neurocli.models.heaviside import RampHeaviside, SigmoidHeaviside
from neurocli.models.profiles import ConstantProfile, GaussianProfile, PlateauProfile, SechProfile
from neurocli.models.reaction_diffusion import ReactionDiffusion as ReactionDiffusion
from neurocli.models import stimulus as _stim

MODELS = {
    "hh": HodgkinHuxley,
    "hh_reduced": ReducedHodgkinHuxley,
    "fitzhugh_nagumo": FitzHughNagumo,
    "reaction_diffusion": ReactionDiffusion,
    "hh_cable": HHCable,
    "fitzhugh_nagumo_cable": FitzHughNagumoCable,
}

STIMULI = {
    "none": _stim.NoStimulus,
    "pulse": _stim.PulseStimulus,
    "step": _stim.StepStimulus,
    "pulse_train": _stim.PulseTrainStimulus,
}


def _as_arrays(fields: dict) -> dict:
    """Float parameters become JAX arrays, so they are traced (sweepable, no recompiles)."""
    return {k: jnp.asarray(v, dtype=float) if isinstance(v, float) else v for k, v in fields.items()}


def build_profile(cfg):
    if cfg.kind == "phi":
        return SechProfile(height=2.0, centre=jnp.pi / 2, width=0.1)
    fields = _as_arrays(cfg.model_dump(exclude={"kind"}))
    kinds = {"sech": SechProfile, "gaussian": GaussianProfile, "constant": ConstantProfile, "plateau": PlateauProfile}
    return kinds[cfg.kind](**fields)


def build_heaviside(cfg):
    """The regularisation H_k of a `heaviside:` section (its floats as arrays: sweepable)."""
    fields = _as_arrays(cfg.model_dump(exclude={"kind"}))
    return {"ramp": RampHeaviside, "sigmoid": SigmoidHeaviside}[cfg.kind](**fields)


def build_model(cfg) -> AbstractModel:
    fields = _as_arrays(cfg.model_dump(exclude={"name", "initial", "heaviside"}))
    if "initial" in type(cfg).model_fields:
        fields["initial"] = build_profile(cfg.initial)
    if "heaviside" in type(cfg).model_fields:
        fields["heaviside"] = build_heaviside(cfg.heaviside)
    return MODELS[cfg.name](**fields)


def build_stimulus(cfg) -> _stim.AbstractStimulus:
    return STIMULI[cfg.kind](**_as_arrays(cfg.model_dump(exclude={"kind"})))
