"""The life of a run: config -> prepare (model, no compile) -> run directory -> execute -> status.

Exit codes (shared RUNS.md): 0 done, 2 bad usage or config, 1 run failed, 130 interrupted.
A command module provides SCHEMA, prepare(cfg, source) and execute(prepared, cfg, run, resume).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from types import ModuleType

from neurocli import runtime
from neurocli.config.base import ConfigError, dump_config, load_config, read_yaml, validate
from neurocli.run_dir import DetachedRun, RunDirectory

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def launch(
    command: str,
    module: ModuleType,
    config_path: Path,
    overrides: list[str],
    output_root: Path,
    name: str | None,
    argv: list[str],
) -> int:
    try:
        cfg, _ = load_config(module.SCHEMA, Path(config_path), overrides)
        runtime.configure(cfg.runtime.precision, cfg.runtime.compilation_cache)
        prepared = module.prepare(cfg, str(config_path))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if not runtime.is_main_process():  # process 0 alone writes the run directory
        return _execute(module, prepared, cfg, DetachedRun(), resume=False)
    run = RunDirectory.create(Path(output_root), command, name or Path(config_path).stem, argv, cfg.runtime.seed)
    run.write_text("config.yaml", dump_config(cfg))
    return _execute(module, prepared, cfg, run, resume=False)


def resume(command: str, module: ModuleType, run_path: Path, argv: list[str]) -> int:
    """Continue an interrupted training run in place, from its config.yaml and latest checkpoint."""
    run_path = Path(run_path)
    config_file = run_path / "config.yaml"
    try:
        if not (run_path / "run.json").is_file():
            raise ConfigError(str(run_path), [("", "not a run directory (no run.json)")])
        cfg = validate(module.SCHEMA, read_yaml(config_file), str(config_file))
        runtime.configure(cfg.runtime.precision, cfg.runtime.compilation_cache)
        prepared = module.prepare(cfg, str(config_file))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if not runtime.is_main_process():
        return _execute(module, prepared, cfg, DetachedRun(), resume=True)
    run = RunDirectory.open(run_path)
    if run.info.get("command") != command:
        _error(f"{run_path}: was made by `neurocli {run.info.get('command')}`, not `{command}`")
        return EXIT_USAGE
    run.info.setdefault("resumed", []).append(list(argv))
    return _execute(module, prepared, cfg, run, resume=True)


def _execute(module: ModuleType, prepared, cfg, run: RunDirectory, resume: bool) -> int:
    run.mark("running")
    run.record_backend()
    code = EXIT_OK
    try:
        metrics = module.execute(prepared, cfg, run, resume=resume)
        run.write_json("metrics.json", metrics)
        run.mark("completed")
    except ConfigError as exc:
        run.mark("failed", str(exc))
        _error(str(exc))
        code = EXIT_USAGE
    except KeyboardInterrupt:
        run.mark("interrupted", "interrupted (SIGINT); resume with --resume " + str(run.path))
        _error(f"interrupted; state saved in {run.path}")
        code = EXIT_INTERRUPTED
    except Exception as exc:  # the run failed: say why, keep the record
        run.mark("failed", f"{type(exc).__name__}: {exc}")
        _error(f"run failed: {exc}")
        traceback.print_exc(file=sys.stderr) if _debug() else None
        code = EXIT_FAILED
    if not run.detached:
        print(run.path)
    return code


def _debug() -> bool:
    import os

    return os.environ.get("NEUROCLI_DEBUG", "0") not in ("", "0")
