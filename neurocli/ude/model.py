"""Universal differential equations: a Hodgkin–Huxley membrane with one ionic current learned.

    C_m dV/dt = I_ext − Σ_{known currents} I − N(x),     gates as in the known model,

where N is a network of some states x (V and the gates of the current it replaces) standing for
the replaced current in the membrane convention (outward positive, µA/cm²): for `sodium` the
truth is g_Na m³ h (V − E_Na), for `potassium` g_K n⁴ (V − E_K). The seed notebook's NN(V) enters
with a plus sign, so it equals −N; a network's last layer absorbs the sign.

The UDE is an `AbstractNeuronModel`, so `Problem`/`solve_one` integrate it like any other model.

Its vector field clips the state to a guard box (V in ±500 mV, gates in [−1, 2]) before evaluating
anything. Accepted solver steps never leave the box, so solutions are unchanged; but the trial
stages of a *rejected* step can (a step of a few ms over a 20 µA/cm² pulse sends V to 1e16 mV and
n⁴ past 1e168), and although the forward pass discards them, reverse-mode differentiation multiplies
their Jacobian (inf) by a zero cotangent and the gradient becomes NaN. Inside the box every term is
finite, in float32 too.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar, Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from neurocli.activations import ACTIVATIONS
from neurocli.models import gating
from neurocli.models.base import AbstractNeuronModel
from neurocli.models.hh_membrane import AbstractHHMembrane
from neurocli.models.hh_reduced import ReducedHodgkinHuxley
from neurocli.models.hodgkin_huxley import HodgkinHuxley
from neurocli.models.rest import newton_root

Replaced = Literal["sodium", "potassium"]

class ScaledMLP(eqx.Module):
    """x -> output_scale · MLP((x − centre) / scale): the MLP sees O(1) inputs and gives O(1) outputs.

    centre, scale and output_scale are fixed settings (static), not trained.
    """

    mlp: eqx.nn.MLP
    centre: tuple[float, ...] = eqx.field(static=True)
    scale: tuple[float, ...] = eqx.field(static=True)
    output_scale: float = eqx.field(static=True)

    def __init__(
        self,
        centre,
        scale,
        output_scale: float,
        width: int,
        depth: int,
        activation: str,
        key: PRNGKeyArray,
        final_layer_scale: float = 1.0,
    ):
        self.centre = tuple(float(c) for c in centre)
        self.scale = tuple(float(s) for s in scale)
        self.output_scale = float(output_scale)
        mlp = eqx.nn.MLP(len(self.centre), "scalar", width, depth, activation=ACTIVATIONS[activation], key=key)
        if final_layer_scale != 1.0:
            last = mlp.layers[-1]
            mlp = eqx.tree_at(
                lambda m: (m.layers[-1].weight, m.layers[-1].bias),
                mlp,
                (last.weight * final_layer_scale, last.bias * final_layer_scale),
            )
        self.mlp = mlp

    def __call__(self, x: Float[Array, " k"]) -> Float[Array, ""]:
        z = (x - jnp.asarray(self.centre)) / jnp.asarray(self.scale)
        return self.output_scale * self.mlp(z)


GUARD_V = 500.0  # mV
GUARD_GATES = (-1.0, 2.0)


def guard(y: Float[Array, " state"]) -> Float[Array, " state"]:
    """y clipped to the guard box (identity, with unit gradient, inside it)."""
    lo = jnp.full_like(y, GUARD_GATES[0]).at[0].set(-GUARD_V)
    hi = jnp.full_like(y, GUARD_GATES[1]).at[0].set(GUARD_V)
    return jnp.clip(y, lo, hi)


class AbstractUDE(AbstractNeuronModel):
    """A known HH-type membrane whose `replaced` current is the `network` of states `input_index`."""

    known: eqx.AbstractVar[AbstractHHMembrane]
    network: eqx.AbstractVar[Callable[[Float[Array, " k"]], Float[Array, ""]]]
    replaced: eqx.AbstractVar[str]
    input_index: eqx.AbstractVar[tuple[int, ...]]

    @abc.abstractmethod
    def membrane_currents(self, y: Float[Array, " state"]) -> dict[str, Float[Array, ""]]:
        """The known model's ionic currents at state y: sodium, potassium, leak (µA/cm²)."""

    @abc.abstractmethod
    def steady_state(self, V: Float[Array, ""]) -> Float[Array, " state"]:
        """The state with every gate at its steady state for voltage V."""

    def learned_current(self, y: Float[Array, " state"]) -> Float[Array, ""]:
        return self.network(y[jnp.asarray(self.input_index)])

    def true_current(self, y: Float[Array, " state"]) -> Float[Array, ""]:
        """The known model's version of the replaced current (the truth for simulated data)."""
        return self.membrane_currents(y)[self.replaced]

    def ionic_current(self, y: Float[Array, " state"]) -> Float[Array, ""]:
        known = sum(i for name, i in self.membrane_currents(y).items() if name != self.replaced)
        return known + self.learned_current(y)

    def vector_field(self, t, y, i_ext):
        y = guard(y)
        # the gates' equations are the known model's; its dV/dt is unused (and compiled away)
        dy = self.known.vector_field(t, y, i_ext)
        dV = (i_ext - self.ionic_current(y)) / self.known.C_m
        return dy.at[0].set(dV)

    def initial_state(self):
        """The UDE's own resting state (gates at steady state, zero net current near −65 mV)."""
        V = newton_root(lambda V: self.ionic_current(self.steady_state(V)), -65.0)
        return self.steady_state(V)


class ReducedHHUDE(AbstractUDE):
    """The seed's UDE: the reduced model (V, n) with a current replaced."""

    known: ReducedHodgkinHuxley
    network: Callable
    replaced: str = eqx.field(static=True)
    input_index: tuple[int, ...] = eqx.field(static=True)

    state_names: ClassVar[tuple[str, ...]] = ReducedHodgkinHuxley.state_names

    def membrane_currents(self, y):
        V, n = y[0], y[1]
        k = self.known
        return {"sodium": k.i_na_inf(V), "potassium": k.i_k(V, n), "leak": k.i_l(V)}

    def steady_state(self, V):
        return jnp.stack([V, gating.n_inf(V)])


class HHUDE(AbstractUDE):
    """The full model (V, m, h, n) with a current replaced."""

    known: HodgkinHuxley
    network: Callable
    replaced: str = eqx.field(static=True)
    input_index: tuple[int, ...] = eqx.field(static=True)

    state_names: ClassVar[tuple[str, ...]] = HodgkinHuxley.state_names

    def membrane_currents(self, y):
        V, m, h, n = y[0], y[1], y[2], y[3]
        k = self.known
        return {"sodium": k.i_na(V, m, h), "potassium": k.i_k(V, n), "leak": k.i_l(V)}

    def steady_state(self, V):
        return jnp.stack([V, gating.m_inf(V), gating.h_inf(V), gating.n_inf(V)])


UDE_CLASSES = {ReducedHodgkinHuxley: ReducedHHUDE, HodgkinHuxley: HHUDE}


def make_ude(known: AbstractHHMembrane, network: Callable, replaced: Replaced, inputs: tuple[str, ...]) -> AbstractUDE:
    """The UDE on `known` with `replaced` learned by `network` of the states named in `inputs`."""
    cls = UDE_CLASSES[type(known)]
    index = tuple(cls.state_names.index(name) for name in inputs)
    return cls(known=known, network=network, replaced=replaced, input_index=index)


class TrueCurrent(eqx.Module):
    """A stand-in network: the known model's replaced current of the network's inputs, exactly.

    Valid when that current depends on the input states only (true for the default inputs).
    Used to check the training and evaluation code against the truth.
    """

    template: AbstractUDE  # the UDE with network = None: knows the currents and the input states

    def __init__(self, ude: AbstractUDE):
        self.template = eqx.tree_at(lambda u: u.network, ude, None, is_leaf=lambda x: x is None)

    def __call__(self, x: Float[Array, " k"]) -> Float[Array, ""]:
        n = len(type(self.template).state_names)
        y = jnp.zeros(n, x.dtype).at[jnp.asarray(self.template.input_index)].set(x)
        return self.template.true_current(y)


def with_true_current(ude: AbstractUDE) -> AbstractUDE:
    """The UDE with its network replaced by `TrueCurrent`: dynamics equal to the known model's."""
    return eqx.tree_at(lambda u: u.network, ude, TrueCurrent(ude))
