"""`analysis.solutions` on a PDE sweep: the members' fields grouped into distinct solutions
(neurocli/analysis/solutions.py), the ids written into members.csv's `solution` column, a figure
of each solution and their differences (figures/solutions.pdf), metrics.json's `solutions`."""

from __future__ import annotations

import numpy as np

from neurocli.analysis import solutions
from neurocli.members import MemberTable
from neurocli.members.file import FILE, MembersFile
from neurocli.plotting import figure_worker
from neurocli.plotting import solutions as solution_plots
from neurocli.run_dir import RunDirectory


def with_solution_ids(text: str, labels: np.ndarray, column: str = "solution") -> str:
    """members.csv's text with its `column` cells replaced by the ids (every other cell kept as written)."""
    lines = text.splitlines()
    header = lines[0].split(",")
    j = header.index(column)
    rows = [line.split(",") for line in lines[1:]]
    if len(rows) != len(labels):
        raise RuntimeError(f"{FILE} has {len(rows)} rows for {len(labels)} members")
    for cells, label in zip(rows, labels.tolist()):
        cells[j] = str(int(label))
    return "\n".join([lines[0], *(",".join(cells) for cells in rows)]) + "\n"


def write(cfg, problem, t, members: MemberTable, fields, store: MembersFile, run: RunDirectory) -> dict:
    labels, summary = solutions.summary(fields, cfg.analysis.solution_threshold)
    store.rewritten(with_solution_ids(run.read_text(FILE), labels))
    reps = [c["representative"] for c in summary["clusters"]]
    titles = [f"solution {c}: member {r}\n{members.label(r)}" for c, r in enumerate(reps)]
    x = np.asarray(problem.model.grid())
    figure_worker.save(run, "solutions", solution_plots.solution_maps, np.asarray(t), x, fields[reps], titles)
    return summary
