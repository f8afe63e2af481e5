"""analysis.solutions: a sweep's fields grouped into distinct solutions (issue 21)."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from neurocli.analysis.solutions import cluster, relative_distances, summary
from neurocli.cli import app
from neurocli.members.file import MembersFile

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SMALL = ["--set", "model.nx=11", "--set", "time.save_every=0.05"]


def test_relative_distance_and_leader_clusters():
    t = np.linspace(0, 1, 21)[:, None]
    down, up = 0.3 * np.exp(-t) + 0 * t, 1 - 0.7 * np.exp(-t)
    fields = np.stack([down, down * (1 + 1e-3), np.full_like(t, 0.3), up, up * (1 - 2e-3)])
    d = relative_distances(fields)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(d[0, 1], 1e-3 / 1.001, rtol=1e-9)  # ‖u − 1.001 u‖ / ‖1.001 u‖
    assert cluster(d, 0.05).tolist() == [0, 0, 1, 2, 2]
    assert cluster(d, 1e-4).tolist() == [0, 1, 2, 3, 4]
    labels, s = summary(fields, 0.05)
    assert s["count"] == 3 and [c["members"] for c in s["clusters"]] == [[0, 1], [2], [3, 4]]
    assert s["clusters"][1]["distance_to"][1] == 0.0 and s["clusters"][0]["distance_to"][2] == pytest.approx(d[0, 3])
    assert relative_distances(np.zeros((2, 3, 3)))[0, 1] == 0.0  # two vanishing fields are one solution


def _run(tmp_path, *args, code=0):
    result = CliRunner().invoke(app, ["simulate", "--output-root", str(tmp_path / "out"), *map(str, args)])
    assert result.exit_code == code, result.output
    return result, Path(result.stdout.strip().splitlines()[-1]) if code == 0 else None


def test_rd_nonunique_finds_three_solutions_down_stay_up(tmp_path):
    _, run = _run(tmp_path, "--config", CONFIGS / "rd_nonunique.yaml", *SMALL)
    metrics = json.loads((run / "metrics.json").read_text())
    sol = metrics["solutions"]
    offsets = np.asarray(metrics["values"])
    assert sol["count"] == 3
    expected = np.where(offsets < 0.3, 0, np.where(offsets == 0.3, 1, 2))
    assert sol["member_solution"] == expected.tolist()
    lines = (run / "members.csv").read_text().splitlines()
    assert lines[0].split(",")[-1] == "solution"
    assert [line.split(",")[-1] for line in lines[1:]] == [str(i) for i in expected]  # integers
    # the representatives are the exact solutions: down a e^{−t}, stay a, up 1 − (1 − a) e^{−t}
    table = np.genfromtxt(run / "members.csv", delimiter=",", names=True)
    u_min, u_max = table["u_min"], table["u_max"]
    np.testing.assert_allclose(u_min[offsets < 0.3], 0.3 * np.exp(-1.0), rtol=2e-3)  # delay τ ≤ 0.001
    np.testing.assert_allclose(u_max[offsets > 0.3], 1 - 0.7 * np.exp(-1.0), rtol=2e-3)
    assert u_min[offsets == 0.3].tolist() == [0.3] and abs(u_max[offsets == 0.3] - 0.3).max() < 1e-15
    for c in sol["clusters"]:
        assert c["max_distance_within"] <= sol["threshold"] and min(
            d for j, d in enumerate(c["distance_to"]) if j != c["id"]) > 0.3
    assert (run / "figures" / "solutions.pdf").stat().st_size > 0
    # a resumed finished run keeps members.csv whole (it was rewritten with the ids at the end)
    before = (run / "members.csv").read_text()
    result = CliRunner().invoke(app, ["simulate", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "members.csv").read_text() == before


def test_a_sweep_cut_before_the_ids_resumes_to_them(tmp_path, monkeypatch):
    append = MembersFile.append

    def interrupt(self, index, rows):
        append(self, index, rows)
        if index == 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(MembersFile, "append", interrupt)
    _run(tmp_path, "--config", CONFIGS / "rd_nonunique.yaml", *SMALL, "--set", "runtime.chunk_size=4",
         "--set", "sweep.values=[0.0, 0.3, 0.6, 1.0, 0.2]", code=130)
    monkeypatch.undo()
    (cut,) = (tmp_path / "out" / "simulate").iterdir()
    assert [line.split(",")[-1] for line in (cut / "members.csv").read_text().splitlines()[1:]] == ["-1"] * 4
    result = CliRunner().invoke(app, ["simulate", "--resume", str(cut)])
    assert result.exit_code == 0, result.output
    assert [line.split(",")[-1] for line in (cut / "members.csv").read_text().splitlines()[1:]] == \
        ["0", "1", "2", "2", "0"]


@pytest.mark.parametrize("extra, key", [
    (["--set", "analysis.solution_threshold=0"], "analysis.solution_threshold"),
    (["--set", "analysis.solutions=false", "--set", "analysis.solution_threshold=0.1"], "analysis.solution_threshold"),
    (["--set", "sweep=null"], "analysis.solutions"),
    (["--set", "sweep={parameter: model.length, values: [3.0, 4.0]}"], "analysis.solutions"),
    (["--set", "sweep={parameter: model.k, logspace: {start: 1, stop: 1000, num: 500}}"], "analysis.solutions"),
])
def test_bad_solutions_settings_exit_2(tmp_path, extra, key):
    result, _ = _run(tmp_path, "--config", CONFIGS / "rd_nonunique.yaml", *extra, code=2)
    assert f": {key}:" in result.output and not (tmp_path / "out").exists()
