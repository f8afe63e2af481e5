"""One trial: a normal `neurocli <command>` run in a child process, its overrides as `--set`.

The child runs in its own session, so a Ctrl-C reaches tune alone, and tune forwards it (or a
SIGTERM) once: the trial saves and stops as any run does (status `interrupted`). A tune killed
outright (SIGKILL) leaves its trial to finish on its own; the next tune re-runs that trial.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int  # the run's exit code (0, 1, 130, 143, ...)
    run_dir: Path | None  # the run directory (the last line of the child's stdout)
    signal: int | None  # the signal tune received while the trial ran (forwarded), if any


def run_trial(command: str, config: Path, overrides: list[str], output_root: str, name: str) -> Outcome:
    argv = [sys.executable, "-m", "neurocli", command, "--config", str(config), "--output-root", str(output_root),
            "--name", name]
    for o in overrides:
        argv += ["--set", o]
    received: list[int] = []
    # no preexec_fn: the parent has JAX's threads, and only a plain fork + exec is safe then
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)

    def forward(signum, frame):
        received.append(signum)
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in SIGNALS}
    try:
        out, _ = child.communicate()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    lines = [line for line in out.splitlines() if line.strip()]
    run_dir = Path(lines[-1]) if lines and Path(lines[-1]).is_dir() else None
    return Outcome(child.returncode, run_dir, received[0] if received else None)


def os_pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
