"""TensorBoard: event files in `<run>/tensorboard/`, written as the run goes.

- every logged training step: each numeric loss.csv column (`loss`, `grad_norm`, `lr`, …) as a
  scalar at that step, `<column>/member_<i>` when the step has a row per member;
- at the end: metrics.json's numbers (the keys of `neurocli runs`) as `metrics/<key>`, and each
  `figures/*.pdf` as a PNG image `figures/<name>` (rendered with pypdfium2, 80 dpi).

Event files are record streams (each record checksummed, flushed every 2 s and at the end), the
one kind of file a run appends to besides members.csv. `tensorboard --logdir outputs` finds them.
"""

from __future__ import annotations

import json
import math
import numbers
import io
import time
from pathlib import Path

from neurocli.runs.keys import flat_metrics
from neurocli.tracking.base import Tracker, warn

SKIPPED = ("step", "member")
DPI = 80  # figures as images: 7 inches wide -> 560 pixels


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, writer, summary, event):
        self._writer, self._Summary, self._Event = writer, summary, event
        self._last_step = 0

    @classmethod
    def open(cls, run_path: Path) -> TensorBoardTracker | None:
        try:
            from tensorboard.compat.proto.event_pb2 import Event
            from tensorboard.compat.proto.summary_pb2 import Summary
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError as exc:
            warn("tensorboard", f"not installed ({exc.name}); pip install 'neurocli[tracking]'")
            return None
        return cls(EventFileWriter(str(Path(run_path) / "tensorboard"), flush_secs=2), Summary, Event)

    def _write(self, step: int, values: list) -> None:
        if values:
            self._writer.add_event(self._Event(wall_time=time.time(), step=int(step), summary=self._Summary(value=values)))

    def rows(self, rows, step) -> None:
        per_member = len(rows) > 1
        values = []
        for row in rows:
            suffix = f"/member_{int(row['member'])}" if per_member and "member" in row else ""
            for key, v in row.items():
                if key not in SKIPPED and isinstance(v, numbers.Real) and not isinstance(v, bool):
                    values.append(self._Summary.Value(tag=f"{key}{suffix}", simple_value=float(v)))
        step = int(rows[0].get("step", step)) if rows else int(step)
        self._last_step = max(self._last_step, step)
        self._write(step, values)

    def finish(self, run) -> None:
        try:
            path = Path(run.path)
            try:
                metrics = json.loads((path / "metrics.json").read_text())
            except (OSError, ValueError):
                metrics = {}
            self._write(self._last_step, [self._Summary.Value(tag=f"metrics/{k}", simple_value=v)
                                          for k, v in flat_metrics(metrics).items() if math.isfinite(v)])
            self._figures(path)
        finally:
            self._writer.close()

    def _figures(self, path: Path) -> None:
        pdfs = sorted((path / "figures").glob("*.pdf"))
        if not pdfs:
            return
        try:
            import pypdfium2
        except ImportError:
            warn("tensorboard", "figures not logged as images: pypdfium2 is not installed (neurocli[tracking])")
            return
        images = []
        for pdf in pdfs:
            document = pypdfium2.PdfDocument(str(pdf))
            try:
                image = document[0].render(scale=DPI / 72).to_pil()  # the first page: every figure has one
            finally:
                document.close()
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            png = self._Summary.Image(height=image.height, width=image.width, colorspace=len(image.getbands()),
                                                      encoded_image_string=buf.getvalue())
            images.append(self._Summary.Value(tag=f"figures/{pdf.stem}", image=png))
        self._write(self._last_step, images)
