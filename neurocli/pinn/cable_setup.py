"""From a validated cable train-pinn config to what training needs: the problem as `CableFields`
in the training precision, and the line's resting state (the first window's start)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.pinn import TrainPinnConfig
from neurocli.models import build_model, build_stimulus
from neurocli.pinn.cable_residual import CableFields
from neurocli.pinn.setup import dtype_of


def build_fields(cfg: TrainPinnConfig) -> tuple[CableFields, np.ndarray]:
    pde = cfg.pde
    with jax.enable_x64(True):  # the rest (a Newton solve for FitzHugh–Nagumo) in float64
        model = build_model(pde.cable)
        rest = np.asarray(model.membrane().initial_state(), dtype=np.float64)
    dtype = dtype_of(cfg)
    cast = lambda tree: jax.tree_util.tree_map(  # noqa: E731
        lambda v: jnp.asarray(v, dtype) if eqx.is_inexact_array(v) or isinstance(v, float) else v, tree)
    fields = CableFields(cast(model), cast(build_stimulus(pde.stimulus)), jnp.asarray(pde.field_scales, dtype),
                         float(pde.T) / pde.windows, pde.length, float(model.stimulated_extent()))
    return fields, rest
