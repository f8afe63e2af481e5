"""Traced programs cached across processes: `jax.export` of a jitted function, keyed by everything
that changes the program.

JAX's persistent compilation cache skips XLA but not tracing, and tracing a diffrax solve costs
about a second. `compile_cached(fn, *args)` stores the exported (traced and lowered) program next
to the compilation cache, so a later process deserialises it instead of tracing `fn` again; the
compile that follows is then a compilation-cache hit.

The key is a SHA-256 of:
- the function: its code, and recursively everything its closure holds (the static half of an
  equinox Module, a solver config, the output grid's values, ...);
- the arguments' tree structure, shapes, dtypes, weak types and shardings;
- `key_parts` given by the caller;
- the source of every neurocli module (any edit misses) and the versions of python, jax, jaxlib,
  diffrax, equinox, lineax, optimistix and numpy;
- JAX's settings that change tracing (x64, matmul precision, ...), EQX_ON_ERROR, the backend and
  its devices.

Beside a program whose executable XLA compiled in this process, its executable is stored too
(`.xlaexec`, `jax.experimental.serialize_executable`): a later process loads that instead of
lowering the program and looking it up in XLA's cache (a warm train-ude ude_smoke: 5.4 s against
6.1 s, medians of 6 alternating runs on 2 cores). It is used only together with its program,
verified the same way. Within a process, a program compiled once is reused while its file
holds the same bytes (`_LOADED`); `cached_jit` puts once-per-run computations through the cache.

A value the fingerprint cannot read (an unknown object in a closure) disables caching for that
call. Any failure to export, store, read or call a cached program falls back to `jax.jit`: the
cache can only make a run faster, never different. It is off when the compilation cache is off.

Nothing read from the cache is trusted: a stored file starts with a header holding the program's
full key and the SHA-256 of its bytes, both checked before it is deserialised. A file stored for
another key (copied over this one), changed after it was stored, or unreadable is removed with a
warning on stderr, and the program is traced again. (A digest stops accidents and swaps, not a
forger who recomputes it: the cache directory must be writable by its user alone, which
`runtime.configure` checks.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import hashlib
import json
import os
import sys
import threading
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from neurocli import progress, runtime
from neurocli.atomic import atomic_write_bytes

FORMAT = 2  # bump when the stored layout changes
NO_CACHE_ENV = "NEUROCLI_NO_PROGRAM_CACHE"
VERSIONED = ("jax", "jaxlib", "diffrax", "equinox", "lineax", "optimistix", "numpy")
JAX_FLAGS = ("jax_enable_x64", "jax_default_matmul_precision", "jax_numpy_rank_promotion",
             "jax_numpy_dtype_promotion", "jax_default_prng_impl", "jax_threefry_partitionable",
             "jax_use_shardy_partitioner", "jax_disable_jit", "jax_debug_nans", "jax_debug_infs", "jax_enable_checks")



@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one `compile_cached` call did: `status` hit (read from the cache), miss (traced and
    stored), fallback (traced; the program could not be exported or compiled), uncached (its
    closure cannot be fingerprinted) or off (no cache); `reason` says why when it is not a hit.
    The returned callable carries it as `.outcome` (nothing is counted globally)."""

    status: str
    key: str | None = None
    reason: str | None = None


class Unfingerprintable(TypeError):
    """A value whose effect on the program cannot be read: the call is not cached."""


def compile_cached(fn: Callable, *args, key_parts: Any = (), then: str | None = None) -> Callable:
    """`jax.jit(fn).lower(*args).compile()`, with the traced program cached across processes.

    Returns a callable taking arguments of the same structure, shapes and dtypes as `args`.
    `key_parts`: anything else that changes the program and is not visible in `fn` (hashed with
    the same fingerprint). Announces the phase `compiling` on stderr (neurocli.progress), and
    `then` (e.g. "solving") when the compiled program is first called."""
    import jax

    directory = program_dir()
    if directory is None:
        progress.phase("compiling", "tracing (program cache off)")
        return _announced(_plain(fn, args, Outcome("off", None, "the program cache is off")), then)
    try:
        key = program_key(fn, args, key_parts)
    except Unfingerprintable as exc:
        progress.phase("compiling", "tracing")
        return _announced(_plain(fn, args, Outcome("uncached", None, str(exc))), then)

    leaves, in_tree = jax.tree_util.tree_flatten(args)
    path = directory / f"{key[:40]}.jaxexport"
    exported, data = None, b""
    status = "hit"
    stored, reason = _load(path, key)
    progress.phase("compiling", "cached program" if stored is not None else "tracing (first run of this program)")
    compiled = _LOADED.get(key, stored)
    if compiled is None and stored is not None:  # its executable, stored beside it
        compiled = _load_executable(path.with_suffix(EXECUTABLE), key, stored)
        if compiled is not None:
            _LOADED.put(key, stored, compiled)
    if compiled is not None:  # compiled in this process from these very bytes, or their executable
        return _announced(_calling(compiled, Outcome("hit", key, None)), then)
    if stored is not None:
        try:
            exported, data = jax.export.deserialize(bytearray(stored)), stored
        except Exception as exc:  # digest right, yet not a program of this JAX: trace again, replace it
            reason = _discard(path, f"could not be read ({type(exc).__name__})")
    if exported is None:
        status = "miss"

        def flat_fn(*flat):
            return fn(*jax.tree_util.tree_unflatten(in_tree, flat))

        try:
            exported = jax.export.export(jax.jit(flat_fn))(*leaves)
            data = bytes(exported.serialize())
        except Exception as exc:  # host callbacks, custom pytrees in the output...
            return _announced(_plain(fn, args, Outcome("fallback", None, f"export failed: {type(exc).__name__}: {exc}")), then)
        _store(path, key, data)
    try:
        with _lapack_when_called(data), _xla_cache_watched() as xla:
            compiled = jax.jit(exported.call).lower(*leaves).compile()
    except Exception as exc:
        return _announced(_plain(fn, args, Outcome("fallback", None,
                                                   f"cached program did not compile: {type(exc).__name__}: {exc}")), then)
    if not xla.hit:  # compiled by XLA just now (an executable read from XLA's cache re-serialises broken)
        _store_executable(path.with_suffix(EXECUTABLE), key, data, compiled)
    _LOADED.put(key, data, compiled)
    return _announced(_calling(compiled, Outcome(status, key, reason)), then)


EXECUTABLE = ".xlaexec"
_XLA = threading.local()  # .watch: the _Watch of the compile this thread runs, if any
_XLA_LISTENING: list = []


class _Watch:
    hit = False  # the compile was served from JAX's persistent compilation cache


@contextlib.contextmanager
def _xla_cache_watched():
    """Whether the compile inside came from JAX's persistent compilation cache (`.hit`), from its
    monitoring event, which JAX records in the compiling thread."""
    import jax

    with _LAPACK_GUARD:
        if not _XLA_LISTENING:
            jax.monitoring.register_event_listener(_on_jax_event)
            _XLA_LISTENING.append(True)
    watch, before = _Watch(), getattr(_XLA, "watch", None)
    _XLA.watch = watch
    try:
        yield watch
    finally:
        _XLA.watch = before


def _on_jax_event(event: str, **kwargs) -> None:
    watch = getattr(_XLA, "watch", None)
    if watch is not None and event == "/jax/compilation_cache/cache_hits":
        watch.hit = True


def _store_executable(path: Path, key: str, program: bytes, compiled) -> None:
    """Store the compiled executable beside its program (same header and digest), so that a later
    process loads it directly: no lowering of the program, no lookup in XLA's cache. Only an
    executable XLA compiled in this process is stored: one read from JAX's persistent cache and
    serialised again lacks some of its kernels on CPU ("Function ... not found" when run), so a
    program whose executable JAX's cache already held keeps going through the program. An
    executable that cannot be serialised is not stored either. The ids of the devices it was
    compiled for are stored with it (`_load_executable` loads it onto them)."""
    try:
        import pickle
        import zlib

        from jax.experimental import serialize_executable

        blob, in_tree, out_tree = serialize_executable.serialize(compiled)
        devices = [d.id for d in compiled._executable._unloaded_executable.device_list]  # as serialize reads it
        data = zlib.compress(pickle.dumps((blob, in_tree, out_tree, b"lapack" in program, devices), protocol=5), 1)
    except Exception:
        return
    _store(path, key, data)


def _load_executable(path: Path, key: str, program: bytes):
    """The executable stored for `key`, verified as a program is, or None (none stored, or it
    failed its check or to load: then it is removed and the program serves). It is used only
    together with its program, `program`, itself verified: whatever invalidates the program
    invalidates this."""
    data, _ = _load(path, key)
    if data is None:
        return None
    try:
        import pickle
        import zlib

        import jax
        from jax.experimental import serialize_executable

        blob, in_tree, out_tree, lapack, devices = pickle.loads(zlib.decompress(data))
        by_id = {d.id: d for d in jax.devices()}
        if lapack:
            _initialise_lapack()
        # on the devices it was compiled for: by default it would load onto every device, and a
        # one-device program in a process of two then wants two shards of each argument
        return serialize_executable.deserialize_and_load(blob, in_tree, out_tree,
                                                         execution_devices=[by_id[i] for i in devices])
    except Exception as exc:
        _discard(path, f"could not be loaded ({type(exc).__name__})")
        return None


def _initialise_lapack() -> None:
    """JAX's LAPACK kernels, which an executable calling them needs set up (lowering a program does
    it; loading an executable does not)."""
    from jax._src.lax import linalg

    with _LAPACK_GUARD:
        linalg.initialize_lapack()


def _calling(compiled, outcome: Outcome) -> Callable:
    """call(*args) -> compiled(*leaves of args), carrying `outcome`."""
    import jax

    def call(*call_args):
        return compiled(*jax.tree_util.tree_leaves(call_args))

    call.outcome = outcome
    return call


class _Loaded:
    """The executables this process compiled from stored programs, by key, each with the digest of
    the bytes it came from: a later `compile_cached` of the same program (a test process runs the
    same config many times, a sweep's members share a step) reuses the executable instead of
    lowering the program and reading XLA's cache again. It is used only while the stored file
    still holds those verified bytes (`_load` checks them on every call), so a cache that was
    cleared, replaced or tampered with is treated as it is on disk. The `SIZE` most recently used
    are kept."""

    SIZE = 48

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[bytes, Any]] = {}

    def get(self, key: str, data: bytes | None):
        if data is None:
            return None
        digest = hashlib.sha256(data).digest()
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None or entry[0] != digest:
                return None
            self._entries[key] = entry  # most recently used last
            return entry[1]

    def put(self, key: str, data: bytes, compiled) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (hashlib.sha256(data).digest(), compiled)
            while len(self._entries) > self.SIZE:
                del self._entries[next(iter(self._entries))]


_LOADED = _Loaded()


def compile_cached_step(step: Callable, state, *rest, stats: Callable[[list], Any]) -> Callable:
    """A training step `step(state, *rest) -> (new_state, stats)` compiled through the program cache.

    Equinox pytrees hold non-array leaves (activations, static fields): those stay in the traced
    function's closure, and so in its key; the arrays are the program's inputs. The new state has
    the structure of `state` (checked when traced) and is rebuilt from it; `stats(leaves)` rebuilds
    the statistics from their leaves (checked likewise). Returns call(state, *rest) -> (new_state,
    stats) for arguments shaped as these."""
    import equinox as eqx
    import jax

    dynamic, static = eqx.partition((state, *rest), eqx.is_array)
    state_dynamic, state_static = eqx.partition(state, eqx.is_array)
    state_def = jax.tree_util.tree_structure(state_dynamic)

    def fn(dynamic):
        new, out = step(*eqx.combine(dynamic, static))
        new_dynamic, _ = eqx.partition(new, eqx.is_array)
        new_leaves, new_def = jax.tree_util.tree_flatten(new_dynamic)
        out_leaves = jax.tree_util.tree_leaves(out)
        if new_def != jax.tree_util.tree_structure(dynamic[0]) or jax.tree_util.tree_structure(stats(out_leaves)) != jax.tree_util.tree_structure(out):
            raise TypeError("a training step must return a state shaped as its input and statistics that "
                            "`stats` rebuilds")
        return new_leaves, out_leaves

    compiled = compile_cached(fn, dynamic)

    def call(state, *rest):
        new_leaves, out_leaves = compiled(eqx.partition((state, *rest), eqx.is_array)[0])
        return eqx.combine(jax.tree_util.tree_unflatten(state_def, new_leaves), state_static), stats(out_leaves)

    call.outcome = compiled.outcome
    return call


def cached_jit(fn: Callable) -> Callable:
    """`eqx.filter_jit(fn)` with its program through the program cache, for what a run computes
    once or a few times (a network's or an optimiser's initial state, an evaluation): a warm
    process reads the program instead of lowering it, and, where `fn` would otherwise run op by
    op, instead of paying a compile-cache read per distinct operation.

    As with filter_jit, the arguments' array leaves are the program's inputs and every other leaf
    is static (part of its key). The result may hold non-array leaves (an equinox Module's
    activation, static fields): its structure comes from `eqx.filter_eval_shape`, a trace without
    lowering or compiling. Calls whose static leaves are hashable reuse the program in this
    process, as filter_jit does: the `MEMO` most recent layouts are kept. Called inside another
    trace (under `jax.vmap`, in a jitted function), `fn` is simply traced into that program."""
    programs: dict = {}
    lock = threading.Lock()

    @functools.wraps(fn)
    def call(*args):
        import equinox as eqx
        import jax

        dynamic, static = eqx.partition(args, eqx.is_array)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(dynamic)):
            return fn(*args)  # called inside a trace (a sweep's vmap): part of that program
        memo = _memo_key(dynamic, static)
        with lock:
            entry = programs.pop(memo, None) if memo is not None else None
        if entry is None:
            entry = _tree_program(fn, dynamic, static)
        if memo is not None:
            with lock:
                programs[memo] = entry  # most recently used last
                while len(programs) > cached_jit.MEMO:
                    del programs[next(iter(programs))]
        compiled, out_def, kept = entry
        computed = iter(compiled(dynamic))
        return jax.tree_util.tree_unflatten(out_def, [next(computed) if leaf is _ARRAY else leaf for leaf in kept])

    return call


cached_jit.MEMO = 8
_ARRAY = object()  # a result leaf the program computes


def _memo_key(dynamic, static):
    """A hashable key for the program `cached_jit` compiles for these arguments, or None."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(static)
    key = (signature(dynamic), treedef, tuple((type(leaf), leaf) for leaf in leaves))  # 5 and 5.0 apart
    try:
        hash(key)
    except TypeError:  # an unhashable static leaf (a config): traced on every call
        return None
    return key


def _tree_program(fn: Callable, dynamic, static):
    """(compiled(dynamic) -> the result's array leaves, the result's treedef, its leaves with
    _ARRAY where the program computes them)."""
    import equinox as eqx
    import jax

    shape = eqx.filter_eval_shape(fn, *eqx.combine(dynamic, static))
    shape_leaves, out_def = jax.tree_util.tree_flatten(shape)
    arrays = tuple(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in shape_leaves)

    def flat(dynamic):
        leaves = jax.tree_util.tree_leaves(fn(*eqx.combine(dynamic, static)))
        return [leaf for leaf, is_array in zip(leaves, arrays) if is_array]

    with progress.silenced():  # a step of the run's set-up, not a phase of its own
        compiled = compile_cached(flat, dynamic)
    return compiled, out_def, [_ARRAY if is_array else leaf for leaf, is_array in zip(shape_leaves, arrays)]


_LAPACK = threading.local()  # .skip: this thread is compiling a cached program that calls no LAPACK
_LAPACK_GUARD = threading.Lock()


@contextlib.contextmanager
def _lapack_when_called(serialized: bytes):
    """Calling an exported program initialises JAX's LAPACK kernels on CPU, which imports
    scipy.linalg (0.13-0.3 s), whether or not the program calls LAPACK; `jax.jit` does it only for
    programs that do. Do as `jax.jit` does: skip it unless the program names a LAPACK kernel
    (custom calls `lapack_*`, stored as plain strings in the serialized module).

    JAX's initialiser is wrapped once, for good, by one that asks a thread-local flag, so that
    programs compiled at once in two threads (a training phase compiled in the background,
    neurocli.training.engine) cannot leave the kernels uninitialised for each other: a program
    calling LAPACK with them uninitialised crashes the process."""
    try:
        from jax._src.export import _export
    except ImportError:  # another JAX layout: leave it be
        yield
        return
    with _LAPACK_GUARD:
        original = getattr(_export, "_ensure_backends_initialized", None)
        if original is not None and not getattr(original, "_neurocli_wrapper", False):
            def ensure(platforms, _original=original):
                if not getattr(_LAPACK, "skip", False):
                    _original(platforms)

            ensure._neurocli_wrapper = True
            _export._ensure_backends_initialized = ensure
    if original is None:
        yield
        return
    before = getattr(_LAPACK, "skip", False)
    _LAPACK.skip = b"lapack" not in serialized
    try:
        yield
    finally:
        _LAPACK.skip = before


def _announced(compiled: Callable, then: str | None) -> Callable:
    """`compiled`, announcing the phase `then` on its first call (its `.outcome` kept)."""
    if then is None:
        return compiled
    announced = [False]

    def call(*args):
        if not announced[0]:
            announced[0] = True
            progress.phase(then)
        return compiled(*args)

    call.outcome = compiled.outcome
    return call


def _plain(fn, args, outcome: Outcome):
    """`fn` traced and compiled as `jax.jit` does, carrying `outcome` (why it was not cached)."""
    import jax

    if os.environ.get("NEUROCLI_DEBUG", "0") not in ("", "0") and outcome.reason:
        print(f"program cache: {outcome.status}: {outcome.reason}", file=sys.stderr)
    compiled = jax.jit(fn).lower(*args).compile()

    def call(*call_args):
        return compiled(*call_args)

    call.outcome = outcome
    return call


def program_dir() -> Path | None:
    """Where exported programs live: beside the persistent compilation cache; None when it is off
    (or NEUROCLI_NO_PROGRAM_CACHE is set, to anything but 0)."""
    if os.environ.get(NO_CACHE_ENV, "0") not in ("", "0"):
        return None
    cache = runtime.compilation_cache_dir()
    return None if cache is None else cache / "programs"


MAGIC = b"neurocli-program/2\n"


def _store(path: Path, key: str, data: bytes) -> None:
    """Store a program: a header line naming its full key and the SHA-256 of its bytes, then the
    bytes (written atomically). A failure to store (a full disk, a read-only cache) is a warning:
    this run goes on with the program it has."""
    header = json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    try:
        atomic_write_bytes(path, MAGIC + header.encode() + b"\n" + data)
    except OSError as exc:
        _warn(f"program cache: could not store {path} ({exc}); this run goes on without storing it")


def _load(path: Path, key: str) -> tuple[bytes | None, str | None]:
    """(the stored program for `key`, verified, or None; why there is none). A file that fails
    the check (another key's program copied here, bytes changed since they were stored, another
    format) is removed, with a warning: the program is traced again."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        why = f"cannot read {path} ({exc.strerror or exc})"
        _warn(f"program cache: {why}; tracing instead")
        return None, why
    head, newline, data = raw[len(MAGIC):].partition(b"\n")
    why = None
    try:
        header = json.loads(head) if raw.startswith(MAGIC) and newline else None
    except ValueError:
        header = None
    if not isinstance(header, dict):
        why = "is not a neurocli program file (or of an older format)"
    elif header.get("key") != key:
        why = "was stored for another program (its key differs: a copied or swapped file)"
    elif header.get("size") != len(data) or header.get("sha256") != hashlib.sha256(data).hexdigest():
        why = "does not match its digest (its bytes changed after it was stored)"
    if why is not None:
        return None, _discard(path, why)
    return data, None


def _discard(path: Path, why: str) -> str:
    """Remove a stored program that failed its check, say so; returns why."""
    try:
        path.unlink(missing_ok=True)
        done = "removed it"
    except OSError as exc:
        done = f"could not remove it ({exc.strerror or exc})"
    again = "compiled its program again" if path.suffix == EXECUTABLE else "traced the program again"
    _warn(f"program cache: {path} {why}; {done} and {again}")
    return why


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# -- the key --------------------------------------------------------------------------------------


def signature(tree) -> tuple:
    """What a program compiled for the arguments `tree` depends on besides their values: the tree
    structure (static fields included) and each array leaf's shape, dtype, weak type and
    sharding. Hashable: a key for the programs compiled in this process."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple(_aval(x) if hasattr(x, "dtype") else f"static:{type(x).__qualname__}" for x in leaves)


def program_key(fn: Callable, args: tuple, key_parts: Any = ()) -> str:
    import jax

    leaves, in_tree = jax.tree_util.tree_flatten(args)
    h = hashlib.sha256()
    h.update(repr((FORMAT, _environment())).encode())
    h.update(str(in_tree).encode())
    for leaf in leaves:
        h.update(_aval(leaf).encode())
    h.update(fingerprint(fn))
    h.update(fingerprint(key_parts))
    return h.hexdigest()


def _aval(leaf) -> str:
    import jax

    if not hasattr(leaf, "dtype"):
        if isinstance(leaf, (bool, int, float, complex)):
            return f"py:{type(leaf).__name__}"  # weakly typed scalars, value passed at run time
        raise Unfingerprintable(f"argument leaf of type {type(leaf).__name__}")
    sharding = getattr(leaf, "sharding", None)
    weak = getattr(leaf, "weak_type", False)
    if isinstance(leaf, jax.Array):
        weak = leaf.aval.weak_type
    return f"{leaf.dtype}{tuple(leaf.shape)}w{int(bool(weak))}s{sharding!r}"


def _environment() -> tuple:
    import jax

    flags = tuple((f, str(getattr(jax.config, f, None))) for f in JAX_FLAGS)
    devices = tuple(str(d.device_kind) for d in jax.devices())
    return (sys.version, _versions(), source_hash(), flags, os.environ.get("EQX_ON_ERROR"),
            jax.default_backend(), devices)


@functools.cache
def _versions() -> tuple:
    """The installed versions of VERSIONED (read once: a metadata lookup costs milliseconds)."""
    versions = []
    for name in VERSIONED:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, None))
    return tuple(versions)


@functools.cache
def source_hash() -> str:
    """SHA-256 over every neurocli module's source: editing any of them invalidates every program."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(obj: Any) -> bytes:
    """A digest of everything in `obj` that can change a traced program. Raises Unfingerprintable."""
    h = hashlib.sha256()
    _feed(h, obj, set())
    return h.digest()


def _feed(h, obj, seen: set) -> None:
    import jax

    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, enum.Enum):
        h.update(f"enum:{type(obj).__module__}.{type(obj).__qualname__}.{obj.name};".encode())
        return
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        arr = np.asarray(obj)
        h.update(f"array:{arr.dtype}{arr.shape}:".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
        weak = obj.aval.weak_type if isinstance(obj, jax.Array) else False
        h.update(f"w{int(weak)};".encode())
        return
    if isinstance(obj, np.dtype):
        h.update(f"dtype:{obj};".encode())
        return
    if isinstance(obj, type):
        h.update(f"type:{obj.__module__}.{obj.__qualname__};".encode())
        return
    if id(obj) in seen:  # a cycle (a recursive closure): its identity is already fed
        h.update(b"cycle;")
        return
    seen = seen | {id(obj)}
    if isinstance(obj, (tuple, list, frozenset, set)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        h.update(f"{type(obj).__name__}[{len(items)}](".encode())
        for item in items:
            _feed(h, item, seen)
        h.update(b");")
        return
    if isinstance(obj, dict):
        h.update(f"dict[{len(obj)}](".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k, seen)
            _feed(h, obj[k], seen)
        h.update(b");")
        return
    if isinstance(obj, types.CodeType):
        h.update(f"code:{obj.co_name}:".encode())
        h.update(obj.co_code)
        _feed(h, obj.co_names, seen)
        _feed(h, obj.co_varnames, seen)
        _feed(h, obj.co_consts, seen)
        return
    if isinstance(obj, functools.partial):
        h.update(b"partial(")
        _feed(h, (obj.func, obj.args, obj.keywords), seen)
        h.update(b");")
        return
    if isinstance(obj, types.MethodType):
        h.update(b"method(")
        _feed(h, (obj.__func__, obj.__self__), seen)
        h.update(b");")
        return
    if isinstance(obj, types.FunctionType):
        # the code and what it closes over; the globals it calls are covered by the source hash
        # (neurocli) or the package versions (everything else)
        h.update(f"function:{obj.__module__}.{obj.__qualname__}(".encode())
        _feed(h, obj.__code__, seen)
        _feed(h, obj.__defaults__, seen)
        _feed(h, obj.__kwdefaults__, seen)
        cells = tuple(c.cell_contents if _filled(c) else _EMPTY for c in obj.__closure__ or ())
        _feed(h, cells, seen)
        h.update(b");")
        return
    if type(obj).__name__ == "PjitFunction" and isinstance(getattr(obj, "__wrapped__", None), types.FunctionType):
        # jax.jit(f), e.g. jax.nn.tanh as an equinox MLP's activation: inlined when traced, so f
        h.update(b"jit(")
        _feed(h, obj.__wrapped__, seen)
        h.update(b");")
        return
    if isinstance(obj, (types.BuiltinFunctionType, types.ModuleType)):
        h.update(f"{type(obj).__name__}:{getattr(obj, '__module__', '')}.{obj.__name__};".encode())
        return
    if dataclasses.is_dataclass(obj):  # equinox Modules included: static fields are fields too
        h.update(f"dataclass:{type(obj).__module__}.{type(obj).__qualname__}(".encode())
        for field in dataclasses.fields(obj):
            h.update(field.name.encode())
            _feed(h, getattr(obj, field.name, _EMPTY), seen)
        h.update(b");")
        return
    dump = getattr(obj, "model_dump", None)  # pydantic models: their data
    if callable(dump) and hasattr(type(obj), "model_fields"):
        h.update(f"pydantic:{type(obj).__module__}.{type(obj).__qualname__}(".encode())
        _feed(h, dump(), seen)
        h.update(b");")
        return
    if obj is _EMPTY:
        h.update(b"empty;")
        return
    raise Unfingerprintable(f"cannot fingerprint a {type(obj).__module__}.{type(obj).__qualname__}")


_EMPTY = object()


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
