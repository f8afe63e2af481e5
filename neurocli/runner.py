"""The life of a run: config -> prepare (model, no compile) -> run directory -> execute -> status.

Exit codes (the run contract, README "Command line"): 0 done, 2 bad usage or config, 1 run failed, 130 interrupted
(SIGINT), 143 terminated (SIGTERM). A command module provides SCHEMA, prepare(cfg, source) and
execute(prepared, cfg, run, restored) and resumable(cfg) (whether an interrupted run of this
config can be continued); a command with --resume (RESUMABLE = True) also
restore(prepared, cfg, run) -> what execute continues from (refusing with ConfigError).

Resume: everything is checked (run record, command, config, the whole checkpoint) before anything
is written, so a refused resume leaves the run as it was (exit 2). A completed run is not resumed:
the message says so and the exit code is 0 (nothing to do; a script that resumes until done
stops), and nothing in the run directory changes.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from neurocli import memory, runtime, tracking
from neurocli.config.base import ConfigError, config_source, dump_config, load_config, read_yaml, validate
from neurocli.atomic import FileWriteError
from neurocli.plotting import figure_worker
from neurocli.run_dir import DetachedRun, RunDirectory, check_name, check_output_root
from neurocli.training import signals
from neurocli.training.checkpoint import CheckpointError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def launch(
    command: str,
    module: ModuleType,
    config_path: Path | None,
    overrides: list[str],
    output_root: str | Path,
    name: str | None,
    argv: list[str],
    preset: dict | None = None,
    processes: runtime.Processes = runtime.ONE_PROCESS,
) -> int:
    """Check everything a run needs before anything is written or compiled (the config, the name,
    the memory estimate, the output root), then make the run directory and execute.
    `config_path` None: the schema's defaults (then `name` is needed); `preset`: config values the
    command line gives as arguments (e.g. discover's RUN_DIR); `processes`: this process among the
    run's (`runtime.start_distributed`)."""
    failure = None
    config_path = None if config_path is None else Path(config_path)
    try:
        if name is not None:
            check_name(name, config_path or Path(""))  # a bad --name first: it is the cheapest to fix
        cfg, _ = load_config(module.SCHEMA, config_path, overrides, preset)
        name = check_name(name, config_path or Path(""))
        source = config_source(config_path, overrides)
        memory.check_config(cfg, source)
        check_output_root(output_root)
        _configure(module, cfg, processes)
        prepared = module.prepare(cfg, source)
        if processes.main:  # process 0 alone writes the run directory
            run = RunDirectory.create(Path(output_root), command, name, argv, cfg.runtime.seed)
        else:
            run = DetachedRun()
    except ConfigError as exc:
        failure = EXIT_USAGE, str(exc)
    except FileWriteError as exc:  # the new run's run.json (a full disk): the directory is gone again
        failure = EXIT_FAILED, str(exc)
    except Exception as exc:  # a check itself failed (a bug): say so, no traceback unless NEUROCLI_DEBUG
        failure = EXIT_FAILED, f"could not check the run: {type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr) if _debug() else None
    if not _everyone_started(failure, processes):
        return failure[0] if failure else EXIT_FAILED
    return _execute(command, module, prepared, cfg, run, None, config_text=dump_config(cfg))


def _configure(module: ModuleType, cfg, processes: runtime.Processes) -> None:
    """JAX's precision, compilation cache and CPU devices for this run (before anything computes).
    A command whose members run in parallel says so by `parallel_members(cfg)`."""
    parallel = getattr(module, "parallel_members", lambda cfg: False)(cfg)
    devices = runtime.cpu_devices(cfg.runtime.cpu_devices, parallel, processes.count)
    runtime.configure(cfg.runtime.precision, cfg.runtime.compilation_cache, devices)


def _everyone_started(failure: tuple[int, str] | None, processes: runtime.Processes) -> bool:
    """Reports this process's failure to start; with several processes, whether all of them
    started (each calls this once, so one that failed alone does not leave the others waiting)."""
    if failure is not None:
        _error(failure[1])
    everyone = processes.all_ok(failure is None)
    if failure is None and not everyone:
        _error("another process could not start the run (its error is in its own output); stopping")
    return everyone


def resume(command: str, module: ModuleType, run_path: Path, argv: list[str],
           processes: runtime.Processes = runtime.ONE_PROCESS) -> int:
    """Continue a run in place from its config.yaml and latest checkpoint (see the module doc)."""
    run_path = Path(run_path)
    config_file = run_path / "config.yaml"
    failure = None
    try:
        if not getattr(module, "RESUMABLE", False):
            raise ConfigError(str(run_path), [("--resume", f"`neurocli {command}` has no --resume")])
        try:
            run = RunDirectory.open(run_path)
        except ValueError as exc:
            raise ConfigError(str(run_path), [("", str(exc))]) from None
        if run.info.get("command") != command:
            raise ConfigError(str(run_path), [("", f"was made by `neurocli {run.info.get('command')}`, not `{command}`")])
        if run.info.get("status") == "completed":
            if processes.main:  # process 0 alone reports the run directory
                print(f"{run_path}: this run has completed; nothing to resume (nothing changed)", file=sys.stderr)
                print(run.path)
            return EXIT_OK
        cfg = validate(module.SCHEMA, read_yaml(config_file), str(config_file))
        _configure(module, cfg, processes)
        prepared = module.prepare(cfg, str(config_file))
        restored = module.restore(prepared, cfg, run)
        if processes.main:
            run.check_writable()  # a read-only mount or a full disk: refused before anything is written
    except ConfigError as exc:
        failure = EXIT_USAGE, str(exc)
    except CheckpointError as exc:
        failure = EXIT_USAGE, f"cannot resume: {exc}"
    except FileWriteError as exc:
        failure = EXIT_FAILED, f"cannot resume: {exc}"
    if not _everyone_started(failure, processes):
        return failure[0] if failure else EXIT_FAILED
    if not processes.main:  # every process checked the same files; process 0 alone writes
        run = DetachedRun(run.info)
    run.info.setdefault("resumed", []).append(list(argv))
    return _execute(command, module, prepared, cfg, run, restored)


def _interrupted(command: str, module: ModuleType, cfg, run: RunDirectory, exc: KeyboardInterrupt) -> int:
    name = exc.name if isinstance(exc, signals.Interrupted) else "SIGINT"
    code = exc.exit_code if isinstance(exc, signals.Interrupted) else EXIT_INTERRUPTED
    text = f"interrupted ({name})"
    resumable = module.resumable(cfg) and not run.detached  # other processes: process 0 reports
    if resumable:
        text += f"; continue with: neurocli {command} --resume {run.path}"
    unrecorded = run.mark_ended("interrupted", text)
    _error((f"{text}; state saved in {run.path}" if resumable else text) + _unrecorded(unrecorded))
    return code


def _failed(run: RunDirectory, record: str, shown: str) -> None:
    """Mark the run failed where that can still be written, and say why on one `error:` line."""
    _error(shown + _unrecorded(run.mark_ended("failed", record)))


def _unrecorded(reason: str | None) -> str:
    return "" if reason is None else f" (run.json not updated either: {reason})"


def _execute(command: str, module: ModuleType, prepared, cfg, run: RunDirectory, restored,
             config_text: str | None = None) -> int:
    tracker = tracking.start(command, cfg, run)  # runtime.tracking (off by default); warns, never raises
    run.tracker = tracker  # the training engine logs to it as the run goes
    with signals.guarding() as guard:
        run.guard = guard  # the training engine defers signals to its step boundaries through it
        try:
            if config_text is not None:
                run.write_text("config.yaml", config_text)
            run.mark("running")
            run.record_backend()
            metrics = module.execute(prepared, cfg, run, restored)
            figure_worker.wait()  # every figure on disk (or its failure raised) before `completed`
            guard.check()  # a signal whose exception was swallowed (see signals._handle)
            run.write_json("metrics.json", metrics)
            run.mark("completed")
            code = EXIT_OK
        except (ConfigError, CheckpointError) as exc:
            _failed(run, str(exc), str(exc))
            code = EXIT_USAGE
        except KeyboardInterrupt as exc:  # signals.Interrupted included
            with guard.deferred():  # a second signal does not cut the record short
                code = _interrupted(command, module, cfg, run, exc)
        except FileWriteError as exc:  # a full disk, a read-only mount, a link in the run directory
            _failed(run, str(exc), f"run failed: {exc}")
            code = EXIT_FAILED
        except Exception as exc:  # the run failed: say why, keep the record
            _failed(run, f"{type(exc).__name__}: {exc}", f"run failed: {exc}")
            traceback.print_exc(file=sys.stderr) if _debug() else None
            code = EXIT_FAILED
        finally:
            figure_worker.abandon()  # a failed or interrupted run: stop it (no-op after wait())
    tracker.finish(run)  # the status is final: mirror the run directory (a failure is a warning)
    if not run.detached:
        print(run.path)
    run.close()
    return code


def _debug() -> bool:
    return os.environ.get("NEUROCLI_DEBUG", "0") not in ("", "0")
