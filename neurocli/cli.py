"""The `neurocli` command line: parse options, hand over to `neurocli.runner`. Nothing else."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate nerve-impulse models and train neural networks inside them (JAX + diffrax).",
)

CONFIG = typer.Option(None, "--config", "-c", help="The run's YAML config file.")  # the loader checks it: one line naming the path
SET = typer.Option(None, "--set", help="Override a config key, parsed as YAML: --set solver.rtol=1e-8 (repeatable).")
# a str, not a Path: Path("") is ".", and `--output-root ""` must be refused, not mean the working directory
OUTPUT_ROOT = typer.Option("outputs", "--output-root", help="Where run directories go: <root>/<command>/<stamp>_<name>/.")
NAME = typer.Option(None, "--name", help="Run name in the directory name (default: the config file's stem).")
RESUME = typer.Option(None, "--resume", help="Continue the interrupted run in this run directory.", file_okay=False)
COORDINATOR = typer.Option(None, "--coordinator", help="Many processes (jax.distributed): HOST:PORT of process 0, "
                           "or `auto` to detect SLURM / Open MPI. Process 0 alone writes the run directory.")
NUM_PROCESSES = typer.Option(None, "--num-processes", help="With --coordinator HOST:PORT: how many processes.")
PROCESS_ID = typer.Option(None, "--process-id", help="With --coordinator HOST:PORT: this process's index, 0 … N-1.")


def _version(value: bool) -> None:
    if value:
        from neurocli import runtime

        typer.echo(runtime.version_report())
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the versions of neurocli and JAX, JAX's backend and devices, and exit."),
) -> None:
    """Simulate nerve-impulse models and train neural networks inside them (JAX + diffrax)."""


def _check_distributed(coordinator, num_processes, process_id) -> bool:
    """Whether the options ask for many processes; BadParameter (exit 2) when they do not fit."""
    if coordinator is None:
        if num_processes is not None or process_id is not None:
            raise typer.BadParameter("--num-processes and --process-id need --coordinator", param_hint="--coordinator")
        return False
    if coordinator == "auto":
        return True
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{coordinator!r}: expected HOST:PORT (a port 1–65535) or auto", param_hint="--coordinator")
    if num_processes is None or process_id is None:
        raise typer.BadParameter("--coordinator HOST:PORT needs --num-processes and --process-id", param_hint="--coordinator")
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise typer.BadParameter(f"--process-id {process_id} with --num-processes {num_processes}: expected "
                                 "N >= 1 and 0 <= I < N", param_hint="--process-id")
    return True


def _run(command: str, module_name: str, config, sets, output_root, name, resume=None, distributed=None) -> None:
    # Equinox's runtime checks compile to host callbacks by default, and JAX never writes such
    # executables to the persistent compilation cache. Every solve checks its own result
    # (diffrax throw=False), so checks that return NaN lose nothing. Set before equinox loads.
    os.environ.setdefault("EQX_ON_ERROR", "nan")
    from neurocli import runner

    from neurocli import runtime

    processes = runtime.ONE_PROCESS
    if distributed is not None and _check_distributed(*distributed):
        try:
            processes = runtime.start_distributed(*distributed)
        except Exception as exc:  # an unreachable coordinator, a clash of process ids
            typer.echo(f"error: --coordinator {distributed[0]}: could not join the processes ({exc})", err=True)
            raise typer.Exit(2) from None

    module = importlib.import_module(f"neurocli.commands.{module_name}")
    argv = ["neurocli", *sys.argv[1:]] if sys.argv else []
    if resume is not None:
        if config is not None or sets:
            raise typer.BadParameter("--resume takes the config from the run directory; drop --config/--set")
        code = runner.resume(command, module, resume, argv, processes)
    elif config is None:
        raise typer.BadParameter("either --config or --resume is required", param_hint="--config")
    else:
        code = runner.launch(command, module, config, list(sets or []), output_root, name, argv, processes=processes)
    raise typer.Exit(code)


@app.command()
def simulate(config: Path = CONFIG, set: Optional[list[str]] = SET, output_root: str = OUTPUT_ROOT,
             name: Optional[str] = NAME, resume: Optional[Path] = RESUME, coordinator: Optional[str] = COORDINATOR,
             num_processes: Optional[int] = NUM_PROCESSES, process_id: Optional[int] = PROCESS_ID):
    """Solve a membrane or reaction–diffusion model (sweeps: vmapped chunks, resumable, many processes)."""
    _run("simulate", "simulate", config, set, output_root, name, resume, (coordinator, num_processes, process_id))


@app.command("train-ude")
def train_ude(config: Path = CONFIG, set: Optional[list[str]] = SET, output_root: str = OUTPUT_ROOT,
              name: Optional[str] = NAME, resume: Optional[Path] = RESUME):
    """Train a universal differential equation: a membrane model with one current learned."""
    _run("train-ude", "train_ude", config, set, output_root, name, resume)


@app.command("train-pinn")
def train_pinn(config: Path = CONFIG, set: Optional[list[str]] = SET, output_root: str = OUTPUT_ROOT,
               name: Optional[str] = NAME, resume: Optional[Path] = RESUME):
    """Train physics-informed networks for the reaction–diffusion sweep, checked against a reference solve."""
    _run("train-pinn", "train_pinn", config, set, output_root, name, resume)


runs_app = typer.Typer(no_args_is_help=False, help="Find, show and compare run directories (run.json, metrics.json; no JAX).")
app.add_typer(runs_app, name="runs")
RUNS_ROOT = typer.Option("outputs", "--output-root", help="Where the run directories are.")


def _runs(call) -> None:
    """Call the runs library; its RunsError is bad input (exit 2), one line."""
    from neurocli.runs import RunsError

    try:
        call()
    except RunsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@runs_app.callback(invoke_without_command=True)
def runs(ctx: typer.Context, output_root: str = RUNS_ROOT,
         command: Optional[str] = typer.Option(None, "--command", help="Only this command's runs (simulate, train-ude, ...)."),
         status: Optional[str] = typer.Option(None, "--status", help="Only runs with this status."),
         where: Optional[list[str]] = typer.Option(None, "--where", help="KEY OP VALUE, e.g. 'rel_l2_max<1e-3' (repeatable: all must hold)."),
         sort: Optional[str] = typer.Option(None, "--sort", help="Sort by KEY (ascending) or -KEY (descending); default: time."),
         format: str = typer.Option("table", "--format", help="table, csv or json.")):
    """List runs, one row per run directory: time, command, name, status, duration, headline metrics."""
    if ctx.invoked_subcommand is None:
        from neurocli.runs import table

        _runs(lambda: typer.echo(table.render(table.select(output_root, command, status, where or [], sort)[0], format), nl=False))


@runs_app.command("show")
def runs_show(run: str = typer.Argument(..., help="A run directory (or its name under --output-root)."),
              output_root: str = RUNS_ROOT):
    """One run: status, argv, config, metrics, figures and files."""
    from neurocli.runs import record, show

    _runs(lambda: typer.echo(show.describe(record.find_run(run, output_root)), nl=False))


@runs_app.command("compare")
def runs_compare(runs: list[str] = typer.Argument(..., help="Two or more run directories (or names)."),
                 output: Optional[Path] = typer.Option(None, "--output", help="The loss figure (default: "
                                                       "<output-root>/comparisons/<stamp>_<name>_vs_<n>.pdf)."),
                 output_root: str = RUNS_ROOT):
    """Config keys that differ, metrics side by side, loss curves overlaid in one PDF (its path: the last line)."""
    from neurocli.runs import compare, record

    def call():
        text, pdf = compare.compare([record.find_run(r, output_root) for r in runs], output, Path(output_root))
        typer.echo(text + (f"{pdf}\n" if pdf else ""), nl=False)

    _runs(call)


@app.command()
def tune(config: Path = CONFIG, space: Path = typer.Option(..., "--space", help="The search space YAML: per dotted key a range or choices."),
         trials: int = typer.Option(..., "--trials", help="Trials the study holds at the end (complete or failed)."),
         objective: str = typer.Option(..., "--objective", help="The metric key to optimise, e.g. rel_l2_max."),
         direction: str = typer.Option("minimize", "--direction", help="minimize or maximize."),
         storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default: sqlite:///<output-root>/tune.db)."),
         study: Optional[str] = typer.Option(None, "--study", help="Study name (default: the config file's stem); the same one continues."),
         command: Optional[str] = typer.Option(None, "--command", help="The command (default: from the config: pde -> train-pinn, ude -> train-ude, else simulate)."),
         set: Optional[list[str]] = SET, output_root: str = OUTPUT_ROOT):
    """An Optuna search over config keys; each trial a normal run directory. Interrupted, it continues."""
    if config is None:
        raise typer.BadParameter("--config is required", param_hint="--config")
    from neurocli.tune import tune as search

    raise typer.Exit(search(config, space, trials, objective, direction, storage, study, command, list(set or []),
                            output_root, ["neurocli", *sys.argv[1:]]))


@app.command()
def discover(run_dir: Path = typer.Argument(..., help="A completed train-ude run directory."),
             config: Optional[Path] = CONFIG, set: Optional[list[str]] = SET, output_root: str = OUTPUT_ROOT,
             name: Optional[str] = typer.Option(None, "--name", help="Run name (default: the train-ude run's).")):
    """Recover the equation of a trained UDE's network: sparse regression on HH conductance terms, refitted through the ODE."""
    os.environ.setdefault("EQX_ON_ERROR", "nan")  # as in _run
    from neurocli import runner
    from neurocli.commands import discover as module

    argv = ["neurocli", *sys.argv[1:]] if sys.argv else []
    raise typer.Exit(runner.launch("discover", module, config, list(set or []), output_root,
                                   name or module.default_name(run_dir.resolve()), argv,
                                   preset={"run": str(run_dir.resolve())}))


def main() -> None:
    """The `neurocli` console entry (and `python -m neurocli`). Ends the process with `os._exit`
    once the command is done (see `_exit`), except with --coordinator."""
    args = sys.argv[1:]
    if _draws_figures(args):
        from neurocli.plotting import figure_worker

        figure_worker.start()  # imports matplotlib on another core while this process imports JAX
    try:
        app()
    except SystemExit as exc:
        if "--coordinator" in args or not (exc.code is None or isinstance(exc.code, int)):
            raise
        _exit(exc.code or 0)


def _exit(code: int) -> None:
    """Exit without the interpreter's teardown (freeing JAX's runtime and thousands of modules:
    ~0.3 s after the run directory's line on a 2-core machine). Safe here: every file of the run
    was written atomically and fsynced before that line, the persistent caches are written
    synchronously, and the atexit handlers (the figure worker's among them) still run; stdout and
    stderr are flushed. Not with --coordinator: jax.distributed shuts down at exit."""
    import atexit

    background = sys.modules.get("neurocli.background")
    if background is not None:  # os._exit stops its threads: no waiting for a compile nobody needs
        background.no_wait_at_exit()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)


def _draws_figures(args: list[str]) -> bool:
    """Whether this command line is a run of this process that ends in figures (`simulate`, and a
    `train-ude` or `train-pinn` run, which draw theirs after training): worth a figure worker
    (neurocli.plotting.figure_worker). Not for --help, nor for many processes."""
    return (bool(args) and args[0] in ("simulate", "train-ude", "train-pinn")
            and not {"--help", "-h", "--coordinator"} & set(args))
