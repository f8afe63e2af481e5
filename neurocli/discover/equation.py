"""A recovered current as an equation: its terms, coefficients and standard errors; for a
conductance form also g (mS/cm²), E (mV) and the gate powers; as text and as LaTeX.

A conductance's coefficients are c1 (of G·V) and c2 (of G): g = c1, E = −c2 / c1, and E's standard
error follows by the delta method from the coefficients' covariance.
"""

from __future__ import annotations

import numpy as np

from neurocli.discover.library import Conductance, Library

CURRENT_NAMES = {"sodium": ("I_Na", "I_{\\mathrm{Na}}"), "potassium": ("I_K", "I_{\\mathrm{K}}")}


def _se(cov: np.ndarray, i: int) -> float:
    return float(np.sqrt(max(cov[i, i], 0.0)))


def describe(library: Library, coefficients: np.ndarray, covariance: np.ndarray, replaced: str,
             regression: np.ndarray | None = None, regression_cov: np.ndarray | None = None) -> dict:
    """equation.json's content for `library` (the chosen terms only) with these coefficients."""
    coefficients = np.asarray(coefficients, float)
    terms, conductances = [], []
    for group, term in zip(library.groups(), library.terms):
        for k, expression in zip(group, term.expressions()):
            entry = {"expression": expression, "coefficient": float(coefficients[k]), "standard_error": _se(covariance, k)}
            if regression is not None:
                entry["regression_coefficient"] = float(regression[k])
                entry["regression_standard_error"] = _se(regression_cov, k)
            terms.append(entry)
        if isinstance(term, Conductance):
            i, j = group
            c1, c2 = coefficients[i], coefficients[j]
            grad = np.array([c2 / c1**2, -1.0 / c1])
            sub = covariance[np.ix_(group, group)]
            conductances.append({
                "form": term.name, "key": term.key,
                "gates": {name: power for name, power in term.gates},
                "gate_sources": {name: "state" if s else "steady_state" for (name, _), s in zip(term.gates, term.from_state)},
                "g": float(c1), "g_standard_error": _se(covariance, i), "g_unit": "mS/cm²",
                "E": float(-c2 / c1), "E_standard_error": float(np.sqrt(max(grad @ sub @ grad, 0.0))), "E_unit": "mV",
            })
    name, latex_name = CURRENT_NAMES[replaced]
    return {
        "current": name,
        "replaced": replaced,
        "inputs": list(library.inputs),
        "units": {"current": "µA/cm²", "V": "mV", "g": "mS/cm²", "E": "mV"},
        "form": " + ".join(t.name for t in library.terms),
        "form_key": "+".join(t.key for t in library.terms),
        "terms": terms,
        "conductances": conductances,
        "equation": f"{name} = {text(library, coefficients)}",
        "latex": f"{latex_name} = {latex(library, coefficients)}",
    }


def _signed(parts: list[tuple[float, str]], digits: int, minus: str) -> str:
    out = ""
    for value, body in parts:
        term = f"{abs(value):.{digits}g}{body}"
        if not out:
            out = (minus if value < 0 else "") + term
        else:
            out += f" {minus if value < 0 else '+'} {term}"
    return out or "0"


def _render(library: Library, c: np.ndarray, as_latex: bool) -> str:
    """The equation's right-hand side, as text (6 digits) or LaTeX (4)."""
    digits, sep, minus = (4, "\\, ", "-") if as_latex else (6, " · ", "−")
    parts = []
    for group, term in zip(library.groups(), library.terms):
        if isinstance(term, Conductance):
            g, E = c[group[0]], -c[group[1]] / c[group[0]]
            reversal = f"(V {minus} {E:.{digits}g})" if E >= 0 else f"(V + {-E:.{digits}g})"
            parts.append((g, f"{sep}{term.latex_gates() if as_latex else term.name}{sep}{reversal}"))
        else:
            name = term.latex() if as_latex else term.name
            parts.append((c[group[0]], "" if name == "1" else f"{sep}{name}"))
    return _signed(parts, digits, minus)


def text(library: Library, c: np.ndarray) -> str:
    """e.g. '120 · m∞(V)³·h∞(V) · (V − 50)'."""
    return _render(library, c, as_latex=False)


def latex(library: Library, c: np.ndarray) -> str:
    return _render(library, c, as_latex=True)
