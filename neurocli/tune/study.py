"""The search: check everything, open (or continue) the Optuna study, run trials to N, summarise.

- The study lives in `--storage` (default `sqlite:///<output-root>/tune.db`) under `--study`
  (default: the config file's stem). Started again with the same storage and study, tune
  continues it until the study holds N counted trials: complete ones and failed runs. A trial
  left RUNNING by a tune that was killed is marked failed (`interrupted`, not counted) and its
  parameters are queued to run again first. One tune per study at a time: a RUNNING trial of a
  live tune on this host is refused.
- Each trial is a normal run directory `<output-root>/<command>/<stamp>_<study>-trial<NNNN>/`;
  the trial's user attrs hold `run_dir`, and the run directory's `tune_trial.json` holds the
  study, storage, trial number and parameters.
- The tune's own directory `<output-root>/tune/<stamp>_<study>/` holds run.json, tune.yaml (what
  was asked), summary.csv (every trial of the study), metrics.json (best value, parameters and
  run) and figures/history.pdf; its path is the last line on stdout.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
from pathlib import Path

import yaml

from neurocli.config.base import ConfigError, UsageError, load_config, read_yaml
from neurocli.run_dir import NAME_PATTERN, NAME_RULE, RunDirectory, check_output_root
from neurocli.runs.keys import KEYS
from neurocli.runs.record import read_run
from neurocli.tune.space import Param, check_space, load_space, override
from neurocli.tune.trial import os_pid_alive, run_trial

DIRECTIONS = ("minimize", "maximize")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Stopped(Exception):
    def __init__(self, code: int):
        self.code = code


def _schema(command: str):
    if command == "simulate":
        from neurocli.config.simulate import SimulateConfig as schema
    elif command == "train-ude":
        from neurocli.config.ude import TrainUDEConfig as schema
    else:
        from neurocli.config.pinn import TrainPinnConfig as schema
    return schema


def infer_command(data: dict) -> str:
    """A `pde` section: train-pinn; a `ude` section: train-ude; otherwise simulate."""
    return "train-pinn" if "pde" in data else "train-ude" if "ude" in data else "simulate"


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def tune(config: Path, space: Path, trials: int, objective: str, direction: str = "minimize",
         storage: str | None = None, study_name: str | None = None, command: str | None = None,
         sets: list[str] = (), output_root: str = "outputs", argv: list[str] = ()) -> int:
    try:
        checked = _check(Path(config), Path(space), trials, objective, direction, storage, study_name, command,
                         list(sets), output_root)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    return _search(*checked, argv=list(argv))


def _check(config, space, trials, objective, direction, storage, study_name, command, sets, output_root):
    """Everything before the first trial; ConfigError (exit 2) names what is wrong."""
    if trials < 1:
        raise UsageError("--trials", f"{trials}: expected at least 1")
    if direction not in DIRECTIONS:
        raise UsageError("--direction", f"{direction!r}: expected minimize or maximize")
    study_name = study_name or Path(config).stem
    if not NAME_PATTERN.match(f"{study_name}-trial0000"):  # each trial's run is named <study>-trialNNNN
        raise UsageError("--study", f"{study_name[:60]!r} is not a plain name; expected {NAME_RULE}, "
                         "less the 10 of -trialNNNN")
    data = read_yaml(Path(config))
    command = command or infer_command(data)
    if command not in ("simulate", "train-ude", "train-pinn"):
        raise UsageError("--command", f"{command!r}: expected simulate, train-ude or train-pinn")
    if objective not in KEYS[command]:
        raise UsageError("--objective", f"{objective!r} is not a metric key of `neurocli {command}`; expected one of "
                         f"{', '.join(KEYS[command])} (README: 'Metric keys')")
    schema = _schema(command)
    _, data = load_config(schema, Path(config), sets)  # the base config with its --set applied, checked
    params = load_space(space)
    check_space(params, schema, data, str(space))
    root = check_output_root(output_root)
    if storage is None:
        root.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{root / 'tune.db'}"
    study = _open_study(storage, study_name, direction, objective, command)
    return config, space, params, trials, objective, direction, storage, study, command, sets, root


def _open_study(storage: str, name: str, direction: str, objective: str, command: str):
    try:
        import optuna
    except ImportError as exc:
        raise UsageError("tune", f"needs Optuna ({exc.name} is not installed): pip install 'neurocli[tracking]'") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        backend = optuna.storages.RDBStorage(storage)
        study = optuna.create_study(storage=backend, study_name=name, direction=direction, load_if_exists=True)
    except Exception as exc:  # a bad URL, an unreachable server, an unwritable file, a missing driver
        text = " ".join(str(exc).split())[:300]
        raise UsageError(f"--storage {storage}", f"cannot be opened ({type(exc).__name__}: {text})") from None
    attrs = study.user_attrs
    if study.direction.name.lower() != direction:
        raise UsageError("--direction", f"study {name!r} in {storage} was made to {study.direction.name.lower()}, "
                         f"not {direction}; use another --study")
    for key, value in (("objective", objective), ("command", command)):
        if key in attrs and attrs[key] != value:
            raise UsageError(f"--{key}", f"study {name!r} in {storage} has {key} {attrs[key]!r}, not {value!r}; "
                             "use another --study")
        study.set_user_attr(key, value)
    return study


def _recover(study) -> int:
    """Trials left RUNNING by a tune that stopped: failed (not counted) and queued again."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        pid, where = t.user_attrs.get("pid"), t.user_attrs.get("host")
        if where == host and isinstance(pid, int) and pid != os.getpid() and os_pid_alive(pid):
            raise UsageError("--study", f"{study.study_name!r}: trial {t.number} is running in tune process {pid}; "
                             "one tune per study at a time")
    for t in stale:
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", "left running by a tune that stopped")
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
    return len(stale)


def counted(study) -> int:
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "interrupted" not in t.user_attrs))


def _search(config, space, params, trials, objective, direction, storage, study, command, sets, root, argv) -> int:
    import optuna

    try:
        requeued = _recover(study)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    study.sampler = optuna.samplers.TPESampler(seed=len(study.trials))  # another seed each session
    run = RunDirectory.create(root, "tune", study.study_name, argv, None)
    run.write_text("tune.yaml", yaml.safe_dump({
        "command": command, "config": str(Path(config).resolve()), "set": list(sets), "space": str(Path(space).resolve()),
        "trials": trials, "objective": objective, "direction": direction, "storage": storage, "study": study.study_name,
    }, sort_keys=False))
    run.write_text("space.yaml", Path(space).read_text(encoding="utf-8"))
    run.mark("running")
    print(f"tune: study {study.study_name!r} in {storage}: {counted(study)} of {trials} trials done"
          + (f"; {requeued} left running by a stopped tune, queued again" if requeued else ""), file=sys.stderr)
    code, status, error = EXIT_OK, "completed", None
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        while counted(study) < trials:
            code, error = _one_trial(study, params, config, sets, command, root, objective, storage, run)
            if code != EXIT_OK:
                status = "interrupted" if code in (130, 143) else "failed"
                break
    except (KeyboardInterrupt, _Stopped) as exc:
        code = exc.code if isinstance(exc, _Stopped) else 130
        status, error = "interrupted", "interrupted between trials; run the same command again to continue"
    finally:
        signal.signal(signal.SIGTERM, previous)
    _summarise(study, params, objective, direction, storage, run)
    run.mark(status, error)
    if error:
        _error(error)
    print(run.path)
    return code


def _terminated(signum, frame):
    raise _Stopped(143)


def _one_trial(study, params: list[Param], config, sets, command, root, objective, storage, run) -> tuple[int, str | None]:
    """Ask, run, tell. (exit code for tune, error) — 0 to go on."""
    from optuna.trial import TrialState

    trial = study.ask()
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("tune_dir", str(run.path))
    values = {p.key: p.suggest(trial) for p in params}
    name = f"{study.study_name}-trial{trial.number:04d}"
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    print(f"tune: trial {trial.number}: {shown}", file=sys.stderr)
    out = run_trial(command, Path(config), [*sets, *(override(k, v) for k, v in values.items())], str(root), name)
    if out.run_dir is not None:
        trial.set_user_attr("run_dir", str(out.run_dir))
        _link(out.run_dir, {"study": study.study_name, "storage": storage, "trial": trial.number, "params": values,
                            "tune_dir": str(run.path)})
    trial.set_user_attr("exit_code", out.code)
    if out.signal is not None or out.code in (130, 143, -signal.SIGINT, -signal.SIGTERM):
        trial.set_user_attr("interrupted", f"the run stopped (exit {out.code})")
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(values, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        code = 143 if out.signal == signal.SIGTERM or out.code in (143, -signal.SIGTERM) else 130
        return code, f"interrupted in trial {trial.number}; run the same command again to continue the study"
    if out.code == EXIT_USAGE:
        study.tell(trial, state=TrialState.FAIL)
        return EXIT_USAGE, f"trial {trial.number}: the run refused its config (its error is above)"
    record = read_run(out.run_dir) if out.run_dir is not None else None
    value = record.metrics.get(objective) if record is not None and out.code == EXIT_OK else None
    if value is None:
        reason = (f"the run failed (exit {out.code})" if out.code != EXIT_OK
                  else f"{objective} is missing or null in its metrics.json")
        trial.set_user_attr("error", reason)
        study.tell(trial, state=TrialState.FAIL)
        print(f"tune: trial {trial.number} failed: {reason}", file=sys.stderr)
        return EXIT_OK, None
    study.tell(trial, value)
    print(f"tune: trial {trial.number}: {objective} = {value:.6g}  ({out.run_dir})", file=sys.stderr)
    return EXIT_OK, None


def _link(run_dir: Path, trial: dict) -> None:
    """tune_trial.json in the trial's run directory (a problem writing it is a warning: the study
    holds the link too, as the trial's `run_dir`)."""
    try:
        trial_run = RunDirectory.open(run_dir)
    except ValueError as exc:
        print(f"warning: tune: {exc}; tune_trial.json not written", file=sys.stderr)
        return
    try:
        trial_run.write_json("tune_trial.json", trial)
    except OSError as exc:
        print(f"warning: tune: {exc}; tune_trial.json not written", file=sys.stderr)
    finally:
        trial_run.close()


def _summarise(study, params, objective, direction, storage, run) -> None:
    from optuna.trial import TrialState

    from neurocli.plotting.runs import optimisation_history

    all_trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    keys = list(dict.fromkeys([*(p.key for p in params), *(k for t in all_trials for k in t.params)]))
    header = ["trial", "state", objective, *keys, "run_dir", "note"]
    rows = []
    for t in all_trials:
        note = t.user_attrs.get("interrupted") or t.user_attrs.get("error") or ""
        rows.append([t.number, t.state.name.lower(), "" if t.value is None else repr(t.value),
                     *(t.params.get(k, "") for k in keys), t.user_attrs.get("run_dir", ""), note])
    run.write_csv("summary.csv", header, rows)
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    failed = [t for t in all_trials if t.state == TrialState.FAIL and "interrupted" not in t.user_attrs]
    best = study.best_trial if complete else None
    run.write_json("metrics.json", {
        "study": study.study_name, "storage": storage, "objective": objective, "direction": direction,
        "trials": len(complete) + len(failed), "complete": len(complete), "failed": len(failed),
        "interrupted": sum(1 for t in all_trials if "interrupted" in t.user_attrs),
        "best_value": None if best is None else best.value, "best_trial": None if best is None else best.number,
        "best_params": None if best is None else best.params,
        "best_run_dir": None if best is None else best.user_attrs.get("run_dir"),
    })
    fig = optimisation_history([t.number for t in complete], [t.value for t in complete],
                               [t.number for t in failed], objective, direction)
    run.save_figure("history", fig)
    widths = [max(len(str(h)), *(len(_short(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    text = io.StringIO()
    for r in [header, *rows]:
        print("  ".join(_short(c).ljust(w) for c, w in zip(r, widths)).rstrip(), file=text)
    if best is not None:
        print(f"best: trial {best.number}, {objective} = {best.value:.6g}, {best.user_attrs.get('run_dir')}", file=text)
    sys.stderr.write(text.getvalue())


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str):
        try:
            return f"{float(v):.4g}" if v and v[0] in "0123456789-." else v
        except ValueError:
            return v
    return str(v)
