"""How implicit stages are solved, fitted to what a model declares about its stiff part.

diffrax solves each implicit Runge–Kutta stage with a root finder (default: `VeryChord`, a
chord method whose Jacobian is an untagged `lineax.JacobianLinearOperator`, solved by lineax's
dense LU). Two facts a model can declare (`AbstractPDEModel.split_jacobian`, `.split_linear`)
make that much cheaper for the stiff part of an IMEX split:

- tridiagonal Jacobian (1-D diffusion with the state in blocks): `TridiagonalJacobian` extracts
  the three diagonals with three colored Jacobian-vector products and solves with LAPACK's gtsv,
  O(n) instead of n products and an O(n³) factorisation.
- linear (affine) stiff part: one chord step with the exact, constant Jacobian solves the stage
  exactly, so `OneChordStep` stops there. VeryChord instead iterates until its convergence-rate
  test passes; once the iterates agree to rounding error that rate is noise, and it declares
  divergence and rejects the step about half the time (measured: 2e5 steps instead of a few
  hundred for `hh_cable`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import lineax as lx
import optimistix as optx


class TridiagonalJacobian(lx.AbstractLinearSolver):
    """`lineax.Tridiagonal` on `operator` re-tagged as tridiagonal (it must be: entries off the
    three diagonals would be silently folded in by the coloring)."""

    inner: lx.Tridiagonal = eqx.field(default_factory=lx.Tridiagonal)

    def init(self, operator: lx.AbstractLinearOperator, options: dict[str, Any]):
        tagged = lx.FunctionLinearOperator(operator.mv, operator.in_structure(), tags=lx.tridiagonal_tag)
        return self.inner.init(tagged, options)

    def compute(self, state, vector, options):
        return self.inner.compute(state, vector, options)

    def transpose(self, state, options):
        return self.inner.transpose(state, options)

    def conj(self, state, options):
        return self.inner.conj(state, options)

    def assume_full_rank(self):
        return True


class OneChordStep(optx.AbstractRootFinder):
    """Exactly one step of diffrax's `VeryChord`: the exact solution of an affine equation.

    rtol/atol/norm only feed VeryChord's (unused) convergence bookkeeping; a failed linear
    solve is still reported.
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


def linear_solver_for(jacobian: str) -> lx.AbstractLinearSolver:
    """"tridiagonal" -> TridiagonalJacobian; anything else -> lineax's default (dense LU)."""
    return TridiagonalJacobian() if jacobian == "tridiagonal" else lx.AutoLinearSolver(well_posed=None)


def root_finder_for(*, jacobian: str, linear: bool, rtol: float | None, atol: float | None):
    """The stage root finder. rtol/atol None: taken from the adaptive step-size controller."""
    linear_solver = linear_solver_for(jacobian)
    if linear:
        return OneChordStep(linear_solver=linear_solver)
    if rtol is None:
        return diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=linear_solver)
    return diffrax.VeryChord(rtol=rtol, atol=atol, norm=optx.max_norm, linear_solver=linear_solver)


