"""A root finder for implicit stages whose equation is affine: exactly one chord step.

diffrax solves each implicit Runge–Kutta stage with `VeryChord`, which iterates until its
convergence-rate estimate passes. When the stiff part of an IMEX split is linear in y (diffusion,
`AbstractPDEModel.split_linear`), one step with the exact (constant) Jacobian already solves the
stage; VeryChord then keeps iterating on rounding noise, where the rate estimate is noise too, and
declares divergence (a rejected step) about half the time. Measured on `hh_cable` (nx 51, 4 ms,
KenCarp4, rtol 1e-6): 236 752 steps (139 347 rejected) with VeryChord, 653 (150) with one step.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax
import lineax as lx
import optimistix as optx


class OneChordStep(optx.AbstractRootFinder):
    """Exactly one step of diffrax's `VeryChord`: the exact solution of an affine equation.

    rtol/atol/norm only feed VeryChord's (unused) convergence bookkeeping; a failed linear solve
    is still reported, so the step is rejected. Needs no tolerances from the step-size controller,
    so it also serves fixed-step solves.
    """

    linear_solver: lx.AbstractLinearSolver = lx.AutoLinearSolver(well_posed=None)
    rtol: float = 1.0
    atol: float = 1.0
    norm: Callable = optx.max_norm

    def _chord(self) -> diffrax.VeryChord:
        return diffrax.VeryChord(rtol=self.rtol, atol=self.atol, norm=self.norm, linear_solver=self.linear_solver)

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        return self._chord().init(fn, y, args, options, f_struct, aux_struct, tags)

    def step(self, fn, y, args, options, state, tags):
        return self._chord().step(fn, y, args, options, state, tags)

    def terminate(self, fn, y, args, options, state, tags):
        return state.step >= 1, state.result

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        return y, aux, {}
