"""The library of candidate terms for a learned current: a column of features per term.

Two kinds of term group:

- `Conductance`: an HH-type current g · x1^p1 · x2^p2 · (V − E) with gates x from the model's own
  gating functions (`neurocli.models.gating`): a gate the network sees as an input is that state
  (the hidden gating variable itself, e.g. n of the potassium UDE), any other is its steady state
  x∞(V). It is linear in two columns, G(V)·V and G(V) (G the gate product), with coefficients
  c1 = g and c2 = −g·E, so E = −c2 / c1.
- `Monomial`: a product of powers of the network's inputs, each centred and scaled as the network
  sees it (u = (x − centre) / scale), so the columns are of order one.

`Library.features(x)` maps one network input vector to every column; it is a pure JAX function,
used both for the regression (vmapped over the samples) and inside the recovered ODE.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from neurocli.models import gating

STEADY_STATES: dict[str, Callable] = {"m": gating.m_inf, "h": gating.h_inf, "n": gating.n_inf}
"""The gates of the HH family and their steady states x∞(V) = α / (α + β)."""

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclasses.dataclass(frozen=True)
class Conductance:
    """g · Π gate^power · (V − E): two columns, G·V and G."""

    gates: tuple[tuple[str, int], ...]  # ((name, power), ...), in library order
    from_state: tuple[bool, ...]  # per gate: the network's input state (True) or x∞(V)

    width = 2

    def gate_text(self, unicode: bool = True) -> str:
        parts = []
        for (name, power), state in zip(self.gates, self.from_state):
            base = name if state else (f"{name}∞(V)" if unicode else f"{name}_inf(V)")
            exp = str(power).translate(SUPERSCRIPTS) if unicode else f"^{power}"
            parts.append(base + (exp if power > 1 else ""))
        return "·".join(parts) if unicode else "*".join(parts)

    @property
    def name(self) -> str:
        """e.g. 'm∞(V)³·h∞(V)'; 'n⁴' for a gate seen as a state."""
        return self.gate_text()

    @property
    def key(self) -> str:
        """A plain identifier of the form: 'm3h1', 'n4' (state gates marked: 'n4s')."""
        return "".join(f"{n}{p}{'s' if s else ''}" for (n, p), s in zip(self.gates, self.from_state))

    def expressions(self) -> list[str]:
        return [f"{self.name}·V", self.name]

    def latex_gates(self) -> str:
        parts = []
        for (name, power), state in zip(self.gates, self.from_state):
            base = name if state else f"{name}_\\infty(V)"
            parts.append(base + (f"^{{{power}}}" if power > 1 else ""))
        return " ".join(parts)


@dataclasses.dataclass(frozen=True)
class Monomial:
    """Π u_i^p_i over the network's scaled inputs u = (x − centre) / scale: one column."""

    powers: tuple[int, ...]
    inputs: tuple[str, ...]
    centre: tuple[float, ...]
    scale: tuple[float, ...]

    width = 1

    def _factor(self, i: int, unicode: bool = True) -> str:
        c, s = self.centre[i], self.scale[i]
        sign = "−" if c > 0 else "+"
        inner = f"({self.inputs[i]} {sign} {abs(c):.6g})/{s:.6g}" if c != 0 else f"{self.inputs[i]}/{s:.6g}"
        if not unicode:
            inner = inner.replace("−", "-")
        p = self.powers[i]
        exp = (str(p).translate(SUPERSCRIPTS) if unicode else f"^{p}") if p > 1 else ""
        return f"({inner}){exp}"

    @property
    def name(self) -> str:
        if not any(self.powers):
            return "1"
        return "·".join(self._factor(i) for i, p in enumerate(self.powers) if p)

    @property
    def key(self) -> str:
        return "poly_" + "_".join(f"{n}{p}" for n, p in zip(self.inputs, self.powers) if p) if any(self.powers) else "const"

    def expressions(self) -> list[str]:
        return [self.name]

    def latex(self) -> str:
        if not any(self.powers):
            return "1"
        parts = []
        for i, p in enumerate(self.powers):
            if not p:
                continue
            c, s = self.centre[i], self.scale[i]
            sign = "-" if c > 0 else "+"
            inner = f"\\frac{{{self.inputs[i]} {sign} {abs(c):.4g}}}{{{s:.4g}}}" if c != 0 else f"\\frac{{{self.inputs[i]}}}{{{s:.4g}}}"
            parts.append(f"\\left({inner}\\right)" + (f"^{{{p}}}" if p > 1 else ""))
        return " ".join(parts)


Term = Conductance | Monomial


class LibraryError(ValueError):
    """A library that cannot be built for this network (the message says why)."""


class Library(eqx.Module):
    """Candidate term groups over a network's inputs; `features(x)` gives every column."""

    inputs: tuple[str, ...] = eqx.field(static=True)
    terms: tuple[Term, ...] = eqx.field(static=True)

    @property
    def columns(self) -> int:
        return sum(t.width for t in self.terms)

    def groups(self) -> list[list[int]]:
        """The column indices of each term group (a conductance's two columns go together)."""
        out, start = [], 0
        for t in self.terms:
            out.append(list(range(start, start + t.width)))
            start += t.width
        return out

    def expressions(self) -> list[str]:
        return [e for t in self.terms for e in t.expressions()]

    def features(self, x: Float[Array, " k"]) -> Float[Array, " columns"]:
        V = x[self.inputs.index("V")] if "V" in self.inputs else None
        cols = []
        for term in self.terms:
            if isinstance(term, Conductance):
                G = jnp.ones((), x.dtype)
                for (name, power), state in zip(term.gates, term.from_state):
                    value = x[self.inputs.index(name)] if state else STEADY_STATES[name](V)
                    G = G * value**power
                cols += [G * V, G]
            else:
                u = (x - jnp.asarray(term.centre, x.dtype)) / jnp.asarray(term.scale, x.dtype)
                cols.append(jnp.prod(u ** jnp.asarray(term.powers, x.dtype)))
        return jnp.stack(cols)


def conductance_forms(gates: tuple[str, ...], max_power: int, max_gates: int, states: set[str]) -> list[Conductance]:
    """Every product of 1..max_gates distinct gates with powers 1..max_power (e.g. m³h, n⁴)."""
    forms = []
    for k in range(1, max_gates + 1):
        for combo in itertools.combinations(gates, k):
            for powers in itertools.product(range(1, max_power + 1), repeat=k):
                forms.append(Conductance(tuple(zip(combo, powers)), tuple(g in states for g in combo)))
    return forms


def monomials(inputs: tuple[str, ...], centre, scale, degree: int) -> list[Monomial]:
    """Every monomial of total degree 0..degree in the scaled inputs (the constant first)."""
    out = []
    for total in range(degree + 1):
        for powers in itertools.product(range(total + 1), repeat=len(inputs)):
            if sum(powers) == total:
                out.append(Monomial(tuple(powers), inputs, tuple(centre), tuple(scale)))
    return out


def build_library(lib_cfg, inputs: tuple[str, ...], centre, scale) -> Library:
    """The configured library for a network of `inputs` (with its input centring and scaling).

    LibraryError when it cannot be built: conductances need V among the inputs; the library must
    have at least one term."""
    inputs = tuple(inputs)
    terms: list[Term] = []
    if lib_cfg.gates:
        if "V" not in inputs:
            raise LibraryError(f"conductance terms g·G·(V − E) need V, but the network sees only "
                               f"{', '.join(inputs)}; set library.gates: [] (polynomials only)")
        states = set(inputs) & set(lib_cfg.gates) if lib_cfg.gate_states else set()
        terms += conductance_forms(tuple(lib_cfg.gates), lib_cfg.max_power, min(lib_cfg.max_gates, len(lib_cfg.gates)),
                                   states)
    if lib_cfg.polynomial_degree is not None:
        terms += monomials(inputs, centre, scale, lib_cfg.polynomial_degree)
    if not terms:
        raise LibraryError("the library is empty: give library.gates or a library.polynomial_degree")
    return Library(inputs, tuple(terms))
