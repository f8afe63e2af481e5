"""MLflow: at the end of each session of a run, one MLflow run with

- params: the resolved config, flattened (`phases.0.lr`: MLflow's key rules);
- step metrics: loss.csv's numeric columns (`loss`, …; `<column>/member_<i>` for sweeps), at
  their `step`;
- metrics: metrics.json's numbers (the keys of `neurocli runs`);
- artifacts: the whole run directory; tags `neurocli.run_dir`, `neurocli.command`, `neurocli.status`.

The MLflow run's id and how many loss.csv rows it has are kept in the run directory's
`tracking.json`, so a resumed run continues the same MLflow run with the rows that are new.
The default store is `sqlite:///<output-root>/mlflow.db`, artifacts in `<output-root>/mlflow-artifacts/`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from neurocli.runs.compare import flat_config
from neurocli.runs.keys import flat_metrics
from neurocli.tracking.base import Tracker, warn

STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
BATCH = 1000  # MLflow takes at most 1000 metrics and 100 params per log_batch


def _artifact_root(uri: str) -> str | None:
    """Artifacts next to a sqlite store (MLflow's own default is ./mlruns in the working directory)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db = Path(uri[len("sqlite:///"):])
    return (db.parent / "mlflow-artifacts").resolve().as_uri()


def _param_key(key: str) -> str:
    return key.replace("[", ".").replace("]", "")


class MlflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, client_class, entities, uri: str, experiment: str, command: str, cfg):
        self._Client, self._entities = client_class, entities
        self.uri, self.experiment, self.command, self.cfg = uri, experiment, command, cfg

    @classmethod
    def open(cls, uri: str, experiment: str, command: str, cfg) -> MlflowTracker | None:
        # an unreachable server fails at once instead of after minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        try:
            from mlflow import entities
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            warn("mlflow", f"not installed ({exc.name}); pip install 'neurocli[tracking]'")
            return None
        for logger in ("mlflow", "alembic"):  # their INFO lines about creating tables are not the run's progress
            logging.getLogger(logger).setLevel(logging.WARNING)
        return cls(MlflowClient, entities, uri, experiment, command, cfg)

    def finish(self, run) -> None:
        path = Path(run.path)
        client = self._Client(tracking_uri=self.uri)
        state = _read_json(path / "tracking.json").get("mlflow", {})
        run_id, logged = (state.get("run_id"), int(state.get("loss_values", 0))) if state.get("uri") == self.uri else (None, 0)
        if run_id is not None:
            try:
                client.get_run(run_id)
            except Exception:  # deleted from the store meanwhile: a new one
                run_id, logged = None, 0
        if run_id is None:
            exp = client.get_experiment_by_name(self.experiment)
            exp_id = exp.experiment_id if exp is not None else client.create_experiment(
                self.experiment, artifact_location=_artifact_root(self.uri))
            run_id = client.create_run(exp_id, run_name=path.name, tags={
                "neurocli.run_dir": str(path.resolve()), "neurocli.command": self.command}).info.run_id
            params = [self._entities.Param(_param_key(k), str(v)[:6000])
                      for k, v in flat_config(self.cfg.model_dump(mode="json")).items()]
            for i in range(0, len(params), 100):
                client.log_batch(run_id, params=params[i:i + 100])
        status = str(run.info.get("status"))
        rows = _loss_rows(path)
        now = int(time.time() * 1000)
        metrics = [self._entities.Metric(k, v, now, step) for step, k, v in rows[logged:]]
        last = max((s for s, _, _ in rows), default=0)
        try:
            final = json.loads((path / "metrics.json").read_text())
        except (OSError, ValueError):
            final = {}
        metrics += [self._entities.Metric(k, v, now, last) for k, v in flat_metrics(final).items() if math.isfinite(v)]
        for i in range(0, len(metrics), BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + BATCH])
        client.set_tag(run_id, "neurocli.status", status)
        client.log_artifacts(run_id, str(path))
        client.set_terminated(run_id, STATUS.get(status, "FAILED"))
        run.write_json("tracking.json", {"mlflow": {"uri": self.uri, "run_id": run_id, "experiment": self.experiment,
                                                    "loss_values": len(rows)}})


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _loss_rows(path: Path) -> list[tuple[int, str, float]]:
    """loss.csv as (step, key, value) for every finite numeric cell (`key/member_<i>` for sweeps)."""
    try:
        with open(path / "loss.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    members = len({r.get("member") for r in rows}) > 1
    out = []
    for row in rows:
        try:
            step = int(float(row["step"]))
        except (KeyError, TypeError, ValueError):
            continue
        suffix = f"/member_{row['member']}" if members and row.get("member") not in (None, "") else ""
        for key, raw in row.items():
            if key in ("step", "member"):
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                continue  # text columns (the optimiser's name)
            if math.isfinite(value):
                out.append((step, f"{key}{suffix}", value))
    return out
