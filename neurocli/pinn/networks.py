"""Networks N(t, x) -> scalar (or one value per field: `outputs`) for the PINN: an MLP or the DGM layers of Sirignano & Spiliopoulos.

Inputs are optionally normalised to [−1, 1] and lifted by random Fourier features. Every function
here works on one point (scalars in, scalar out); batches are `jax.vmap`ped by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from neurocli.activations import ACTIVATIONS
from neurocli.config.pinn import NetworkConfig
from neurocli.numerics.program_cache import cached_jit


class FourierFeatures(eqx.Module):
    """z -> [z, sin(π z B), cos(π z B)] with a fixed (untrained) Gaussian B."""

    B: Float[Array, "2 m"]

    def __init__(self, features: int, scale: float, *, dtype, key: PRNGKeyArray):
        self.B = scale * jax.random.normal(key, (2, features), dtype)

    def __call__(self, z: Float[Array, " 2"]) -> Float[Array, " 2+2*m"]:
        zb = math.pi * (z @ jax.lax.stop_gradient(self.B))
        return jnp.concatenate([z, jnp.sin(zb), jnp.cos(zb)])

    @property
    def out_size(self) -> int:
        return 2 + 2 * self.B.shape[1]


class DGMLayer(eqx.Module):
    """S' = (1 − G) ⊙ H + Z ⊙ S with gates Z, G, R and candidate H (Sirignano & Spiliopoulos 2018)."""

    U: eqx.nn.Linear  # input -> 4 · width (Z, G, R, H), with biases
    W: eqx.nn.Linear  # state -> 3 · width (Z, G, R), no bias
    Wh: eqx.nn.Linear  # (S ⊙ R) -> width, no bias

    def __init__(self, in_size: int, width: int, *, dtype, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.U = eqx.nn.Linear(in_size, 4 * width, dtype=dtype, key=k1)
        self.W = eqx.nn.Linear(width, 3 * width, use_bias=False, dtype=dtype, key=k2)
        self.Wh = eqx.nn.Linear(width, width, use_bias=False, dtype=dtype, key=k3)

    def __call__(self, x, s, activation):
        ux = jnp.split(self.U(x), 4)
        ws = jnp.split(self.W(s), 3)
        z, g, r = (activation(u + w) for u, w in zip(ux[:3], ws))
        h = activation(ux[3] + self.Wh(s * r))
        return (1.0 - g) * h + z * s


class DGMNet(eqx.Module):
    first: eqx.nn.Linear
    layers: tuple[DGMLayer, ...]
    last: eqx.nn.Linear
    activation: Callable = eqx.field(static=True)

    def __init__(self, in_size: int, width: int, depth: int, activation: Callable, *, dtype, key: PRNGKeyArray,
                 outputs="scalar"):
        keys = jax.random.split(key, depth + 2)
        self.first = eqx.nn.Linear(in_size, width, dtype=dtype, key=keys[0])
        self.layers = tuple(DGMLayer(in_size, width, dtype=dtype, key=k) for k in keys[1:-1])
        self.last = eqx.nn.Linear(width, outputs, dtype=dtype, key=keys[-1])
        self.activation = activation

    def __call__(self, z):
        s = self.activation(self.first(z))
        for layer in self.layers:
            s = layer(z, s, self.activation)
        return self.last(s)


class PinnNetwork(eqx.Module):
    """(t, x) -> scalar (or `outputs` values): normalisation, optional Fourier features, then the
    MLP or DGM body."""

    body: eqx.nn.MLP | DGMNet
    fourier: FourierFeatures | None
    T: float = eqx.field(static=True)
    length: float = eqx.field(static=True)
    normalise: bool = eqx.field(static=True)

    def __init__(self, cfg: NetworkConfig, T: float, length: float, *, dtype, key: PRNGKeyArray, outputs="scalar"):
        k_body, k_ff = jax.random.split(key)
        self.T, self.length, self.normalise = float(T), float(length), cfg.normalise_inputs
        ff = cfg.fourier
        self.fourier = None if ff is None else FourierFeatures(ff.features, ff.scale, dtype=dtype, key=k_ff)
        in_size = 2 if self.fourier is None else self.fourier.out_size
        act = ACTIVATIONS[cfg.activation]
        if cfg.kind == "mlp":
            self.body = eqx.nn.MLP(in_size, outputs, cfg.width, cfg.depth, activation=act, dtype=dtype, key=k_body)
        else:
            self.body = DGMNet(in_size, cfg.width, cfg.depth, act, dtype=dtype, key=k_body, outputs=outputs)

    def __call__(self, t: Float[Array, ""], x: Float[Array, ""]) -> Float[Array, ""]:
        if self.normalise:
            z = jnp.stack([2.0 * t / self.T - 1.0, 2.0 * x / self.length - 1.0])
        else:
            z = jnp.stack([t, x])
        if self.fourier is not None:
            z = self.fourier(z)
        return self.body(z)


def init_networks(cfg: NetworkConfig, T: float, length: float, keys: PRNGKeyArray, dtype,
                  fold: int | None = None) -> PinnNetwork:
    """One network per key (with `fold`: per `fold_in(key, fold)`), stacked along a leading member
    axis (`eqx.filter_vmap`), built in one program (through the program cache) rather than op by op."""

    def make(key):
        return PinnNetwork(cfg, T, length, dtype=dtype, key=key if fold is None else jax.random.fold_in(key, fold))

    return cached_jit(eqx.filter_vmap(make))(keys)


def count_parameters(net: PinnNetwork) -> int:
    leaves = jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_inexact_array))
    return int(sum(leaf.size for leaf in leaves))
