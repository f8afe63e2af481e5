"""Where `make test`'s time goes (issue 23). Not a test: writes benchmarks/results/suite_profile.{json,md}.

Run as a script, it runs `make test`'s pytest command (`-n auto --dist worksteal -m "not slow"`)
with an empty compilation cache, as `.ci/run` does, and with this file loaded as a pytest plugin
in every worker. The plugin adds up, per test, JAX's own compile-time events
(`jax.monitoring`): tracing to a jaxpr, lowering to StableHLO, and the backend (XLA) compile,
whose event includes reads of the persistent compilation cache (their time is listed apart),
and the test's wall time in its worker (setup, call and teardown). Compiles in the background
threads of a run count in full although they overlap the test's other work; processes a test
starts (spawn) are not seen. The report lists the totals and the modules and tests with the most wall time.

It also records every call of neurocli's program cache (`compile_cached`: the solves, training
steps and evaluations, the suite's largest programs) with its key, its outcome and its wall time
(tracing, export and XLA compile of a miss; a hit only reads). A program one test compiled and
no other test used is that test's own cost: moving the test to `make test-slow` saves it. A
program other tests read back from the cache moves to the next test that needs it instead.

SUITE_ARGS (default `-m "not slow"`) replaces the marker selection, e.g. `-m slow`.
"""

from __future__ import annotations

import collections
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

EVENTS = {  # jax/_src/dispatch.py and compilation_cache.py
    "trace": "/jax/core/compile/jaxpr_trace_duration",
    "lower": "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "xla": "/jax/core/compile/backend_compile_duration",
    "cache_read": "/jax/compilation_cache/cache_retrieval_time_sec",
}
OUT_ENV = "SUITE_PROFILE_DIR"

# ---- the plugin (loaded in each pytest-xdist worker with `-p suite_profile`) ----

_current = ["<outside tests>"]
_totals: dict = collections.defaultdict(lambda: collections.defaultdict(float))


_by_name: dict = collections.defaultdict(lambda: [0, 0.0])  # XLA compiles by JAX's function name: count, s


def _listen(event, duration, fun_name=None, **_):
    _totals[_current[0]][event] += duration
    _totals[_current[0]]["count " + event] += 1
    if event == EVENTS["xla"]:
        entry = _by_name[fun_name or "?"]
        entry[0] += 1
        entry[1] += duration


_programs: list = []  # one row per compile_cached call: test, function, key, status, seconds, thread


def _watch_program_cache() -> None:
    """Wrap neurocli's `compile_cached`, in its module and wherever a module imported it by name."""
    import threading

    from neurocli.numerics import program_cache

    original = program_cache.compile_cached
    if getattr(original, "_profiled", False):
        return

    def compile_cached(fn, *args, **kwargs):
        start = time.perf_counter()
        out = original(fn, *args, **kwargs)
        outcome = out.outcome
        _programs.append({"test": _current[0], "function": getattr(fn, "__qualname__", repr(fn)),
                          "key": (outcome.key or "")[:12], "status": outcome.status,
                          "s": time.perf_counter() - start, "thread": threading.current_thread().name})
        return out

    compile_cached._profiled = True
    for module in list(sys.modules.values()):
        if (getattr(module, "__name__", "") or "").startswith("neurocli") and \
                getattr(module, "compile_cached", None) is original:
            module.compile_cached = compile_cached


def pytest_configure(config):
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_listen)
    _watch_program_cache()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    start = time.perf_counter()
    _totals[item.nodeid]["started"] = time.time()  # when, in which worker: which test compiled a program first
    _totals[item.nodeid]["worker"] = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    try:
        yield
    finally:
        _totals[item.nodeid]["wall"] += time.perf_counter() - start
        _current[0] = "<between tests>"


def pytest_sessionfinish(session):
    folder = os.environ.get(OUT_ENV)
    if folder:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(folder, f"{worker}.json").write_text(json.dumps(_totals))
        Path(folder, f"{worker}.names").write_text(json.dumps(_by_name))
        Path(folder, f"{worker}.programs").write_text(json.dumps(_programs))


# ---- the script ----


def _aggregate(folder: Path) -> tuple[dict, dict, dict]:
    total: dict = collections.Counter()
    modules: dict = collections.defaultdict(collections.Counter)
    tests: dict = collections.defaultdict(collections.Counter)
    for f in sorted(folder.glob("*.json")):
        for nodeid, events in json.loads(f.read_text()).items():
            module = nodeid.split("::")[0]
            for key, value in events.items():
                tests[nodeid][key] += value
                if key in ("started", "worker"):
                    continue
                total[key] += value
                modules[module][key] += value
    return dict(total), {m: dict(c) for m, c in modules.items()}, {t: dict(c) for t, c in tests.items()}


def _programs_report(rows: list) -> tuple[dict, list[str]]:
    """The program cache's calls: per program (key) who compiled it and who read it back; per test
    the seconds of programs no other test used (its own) and of those others reused (shared)."""
    by_key: dict = collections.defaultdict(list)
    for row in rows:
        if row["key"]:
            by_key[row["key"]].append(row)
    own: dict = collections.Counter()
    shared: dict = collections.Counter()
    programs = []
    for key, calls in by_key.items():
        misses = [c for c in calls if c["status"] == "miss"]
        if not misses:
            continue
        seconds = sum(c["s"] for c in misses)
        payer = misses[0]["test"]
        users = sorted({c["test"] for c in calls} - {payer})
        (shared if users else own)[payer] += seconds
        programs.append({"key": key, "function": misses[0]["function"], "s": seconds, "misses": len(misses),
                         "compiled_by": payer, "reused_by": users})
    programs.sort(key=lambda p: -p["s"])
    miss_s = sum(p["s"] for p in programs)
    own_s = sum(own.values())
    lines = ["", f"neurocli's program cache (`compile_cached`): {len(rows)} calls, {len(by_key)} distinct programs, "
             f"{len(programs)} compiled in the suite ({sum(p['misses'] for p in programs)} misses: more than one "
             f"where a test removed or swapped a stored program, or two workers missed at once), {miss_s:.0f} s of wall in the calls that compiled them (tracing, "
             "export and XLA; background threads overlap other work). Programs no other test used: "
             f"{own_s:.0f} s; programs other tests read back: {miss_s - own_s:.0f} s.", "",
             "The tests that compiled the most (own: programs only this test used, which moving it to "
             "`make test-slow` saves; shared: programs later tests read back, which moving it hands to the "
             "next of them):", "", "| test | own s | shared s |", "|---|---:|---:|"]
    for test in sorted(set(own) | set(shared), key=lambda t: -(own[t] + shared[t]))[:30]:
        lines.append(f"| {test.removeprefix('tests/')} | {own[test]:.1f} | {shared[test]:.1f} |")
    lines += ["", "The costliest programs:", "", "| program | function | s | compiled by | reused by |",
              "|---|---|---:|---|---|"]
    for p in programs[:25]:
        reused = f"{len(p['reused_by'])} tests" if len(p["reused_by"]) > 2 else \
            ", ".join(t.split("::")[-1] for t in p["reused_by"]) or "none"
        lines.append(f"| {p['key']} | {p['function']} | {p['s']:.1f} | {p['compiled_by'].removeprefix('tests/')} "
                     f"| {reused} |")
    return {"own": dict(own), "shared": dict(shared), "programs": programs}, lines


def _row(name: str, c: dict) -> str:
    return (f"| {name} | {c.get('wall', 0):.1f} | {c.get(EVENTS['xla'], 0):.1f} | {c.get(EVENTS['trace'], 0):.1f} "
            f"| {c.get(EVENTS['lower'], 0):.1f} | {c.get(EVENTS['cache_read'], 0):.1f} |")


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    results = root / "benchmarks" / "results"
    selection = shlex.split(os.environ.get("SUITE_ARGS", '-m "not slow"'))
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "NEUROCLI_CACHE_DIR": cache, OUT_ENV: folder,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "benchmarks"), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "pytest", "-q", "-n", "auto", "--dist", "worksteal", *selection,
                   "-p", "suite_profile"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
        total, modules, tests = _aggregate(Path(folder))
        names: dict = collections.defaultdict(lambda: [0, 0.0])
        for f in Path(folder).glob("*.names"):
            for name, (count, seconds) in json.loads(f.read_text()).items():
                names[name][0] += count
                names[name][1] += seconds
        # distinct XLA executables stored (each compile that was not a cache read stores one): fewer
        # than the compiles means workers compiled the same program at the same time
        stored = sum(1 for p in Path(cache).iterdir() if p.is_file() and p.name.endswith("-cache"))
        program_rows = [row for f in Path(folder).glob("*.programs") for row in json.loads(f.read_text())]
    programs, program_lines = _programs_report(program_rows)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    report = {"command": shlex.join(command), "exit": done.returncode, "summary": summary, "wall_s": wall,
              "cores": os.cpu_count(), "loadavg_after": load, "total": total, "xla_cache_entries": stored, "xla_by_function": names, "modules": modules,
              "tests": tests, "program_cache": programs}
    (results / "suite_profile.json").write_text(json.dumps(report, indent=1))
    worker_s = total.get("wall", 0.0)
    lines = [
        "# Where the suite's time goes",
        "",
        f"`python benchmarks/suite_profile.py` ({os.cpu_count()} cores, empty compilation cache): "
        f"`{shlex.join(command[2:])}` exit {done.returncode}, {summary}; {wall:.0f} s wall, "
        f"load average after {' '.join(load)}.",
        "",
        f"Test time in the workers, added up: {worker_s:.0f} s. Of it (JAX's compile events, in the "
        "workers' processes; background compiles overlap other work): XLA compile "
        f"{total.get(EVENTS['xla'], 0):.0f} s ({int(total.get('count ' + EVENTS['xla'], 0))} programs, of which "
        f"{int(total.get('count ' + EVENTS['cache_read'], 0))} were read from the persistent cache in "
        f"{total.get(EVENTS['cache_read'], 0):.1f} s; {stored} distinct executables stored), tracing {total.get(EVENTS['trace'], 0):.0f} s, lowering "
        f"{total.get(EVENTS['lower'], 0):.0f} s.",
        "",
        "| module | wall s | XLA compile s | trace s | lower s | cache reads s |",
        "|---|---|---|---|---|---|",
        _row("all", total),
    ]
    for name, c in sorted(modules.items(), key=lambda kv: -kv[1].get("wall", 0))[:25]:
        lines.append(_row(name.removeprefix("tests/"), c))
    small = [(n, c, sec) for n, (c, sec) in names.items() if c and sec / c < 0.05]
    lines += ["", f"XLA compiles by JAX's function name: {len(names)} names; the programs that took under 0.05 s each "
              f"on average: {sum(c for _, c, _ in small)} compiles, {sum(sec for _, _, sec in small):.0f} s. The most "
              "time:", "", "| function | compiles | XLA s |", "|---|---:|---:|"]
    for name, (count, seconds) in sorted(names.items(), key=lambda kv: -kv[1][1])[:15]:
        lines.append(f"| {name} | {count} | {seconds:.1f} |")
    lines += program_lines
    lines += ["", "The tests with the most wall time:", "",
              "| test | wall s | XLA compile s | trace s | lower s | cache reads s |", "|---|---|---|---|---|---|"]
    for name, c in sorted(tests.items(), key=lambda kv: -kv[1].get("wall", 0))[:40]:
        lines.append(_row(name.removeprefix("tests/"), c))
    (results / "suite_profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
