"""Numerical machinery: the diffrax solve and its chunked sweeps (`solve`), the block-tridiagonal
linear solver and one-chord implicit stages, and the cross-process cache of traced programs."""
