"""jaxtyping annotations are valid: every shape string in the package parses, symbolic sizes name
axes of the same signature, and one is checked on real arrays (the Fourier features' 2 + 2m)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import jax
import jax.numpy as jnp
import pytest
from jaxtyping import AbstractArray, Array, Float, jaxtyped

import neurocli

MODULES = sorted(m.name for m in pkgutil.walk_packages(neurocli.__path__, "neurocli.") if ".__main__" not in m.name)


def _array_types(hint):
    if isinstance(hint, type) and issubclass(hint, AbstractArray):
        yield hint
    for arg in typing.get_args(hint):
        yield from _array_types(arg)


def _signatures(module):
    """(name, annotated object, its class or None) of every function, method and class body."""
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            yield name, obj, None
            for attr, member in vars(obj).items():
                if inspect.isfunction(member):
                    yield f"{name}.{attr}", member, obj
        elif inspect.isfunction(obj):
            yield name, obj, None


def test_every_shape_annotation_is_valid():
    checked, problems = 0, []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj, owner in _signatures(module):
            try:
                hints = typing.get_type_hints(obj, include_extras=True)
                fields = typing.get_type_hints(owner, include_extras=True) if owner is not None else {}
            except Exception as exc:  # an annotation that does not even evaluate
                problems.append(f"{module_name}.{name}: {exc}")
                continue
            arrays = [t for h in hints.values() for t in _array_types(h)]
            scope = arrays + [t for h in fields.values() for t in _array_types(h)]  # a method sees its fields' axes
            named = {d.name for t in scope for d in t.dims if hasattr(d, "name")}
            for t in arrays:
                checked += 1
                for dim in t.dims:
                    if not hasattr(dim, "elem") or not isinstance(dim.elem, str):
                        continue
                    try:
                        code = compile(dim.elem, "<shape>", "eval")
                    except SyntaxError:
                        problems.append(f"{module_name}.{name}: {dim.elem!r} is not an expression")
                        continue
                    missing = set(code.co_names) - named
                    if missing:
                        problems.append(f"{module_name}.{name}: {dim.elem!r} uses unknown axes {sorted(missing)}")
    assert not problems, "\n".join(problems)
    assert checked >= 40  # the package annotates its arrays (measured: well over 40)


def test_fourier_features_return_the_annotated_shape():
    from neurocli.pinn.networks import FourierFeatures

    ff = FourierFeatures(5, 1.0, dtype=jnp.float64, key=jax.random.key(0))
    hints = typing.get_type_hints(FourierFeatures.__call__, include_extras=True)

    @jaxtyped(typechecker=None)
    def check(z, out):
        return isinstance(ff.B, Float[Array, "2 m"]) and isinstance(z, hints["z"]) and isinstance(out, hints["return"])

    z = jnp.array([0.3, 0.7])
    out = ff(z)
    assert out.shape == (12,) and check(z, out)
    with pytest.raises(AssertionError):
        assert check(z, out[:-1])
