"""`neurocli runs`, `runs show`, `runs compare` on synthetic run directories: the metric keys,
filters, order, formats, bad input (exit 2), and no JAX import."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import invoke

from neurocli.runs import flat_metrics


def make_run(root: Path, command: str, stamp: str, name: str, status: str = "completed", metrics: dict | None = None,
             config: dict | None = None, loss: list[tuple] | None = None, duration_s: int = 10) -> Path:
    path = root / command / f"{stamp}_{name}"
    path.mkdir(parents=True)
    day, time = stamp.split("-")
    started = f"{day[:4]}-{day[4:6]}-{day[6:]}T{time[:2]}:{time[2:4]}:{time[4:]}+00:00"
    finished = f"{day[:4]}-{day[4:6]}-{day[6:]}T{time[:2]}:{time[2:4]}:{int(time[4:]) + duration_s:02d}+00:00"
    info = {"command": command, "argv": ["neurocli", command], "status": status, "started": started,
            "finished": None if status == "running" else finished, "error": None}
    (path / "run.json").write_text(json.dumps(info))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if config is not None:
        (path / "config.yaml").write_text(yaml.safe_dump(config))
    if loss is not None:
        lines = ["step,member,loss"] + [f"{s},{m},{v!r}" for s, m, v in loss]
        (path / "loss.csv").write_text("\n".join(lines) + "\n")
    return path


def pinn_metrics(*rel_l2):
    return {"members": [{"a": 0.1 * (i + 1), "rel_l2": r, "max_abs_err": 2 * r, "final_loss": r / 10}
                        for i, r in enumerate(rel_l2)], "train_s": 3.0}


@pytest.fixture
def root(tmp_path):
    make_run(tmp_path, "train-pinn", "20261201-100000", "a", metrics=pinn_metrics(1e-3, 4e-3, 2e-3))
    make_run(tmp_path, "train-pinn", "20261201-110000", "b", metrics=pinn_metrics(5e-2))
    make_run(tmp_path, "train-pinn", "20261201-120000", "c", status="failed")
    make_run(tmp_path, "train-ude", "20261201-090000", "u", metrics={"best_loss": 2.5e-6, "current_rmse": 0.01})
    make_run(tmp_path, "simulate", "20261201-080000", "s", metrics={"spike_count": [0, 1, 3], "peak_V_mV": [-60.0, 40.0, 41.0],
                                                                 "firing_rate_hz": [None, None, 80.0], "run_s": 0.5})
    (tmp_path / "simulate" / "not-a-run").mkdir()  # no run.json: skipped
    (tmp_path / "mlflow.db").write_text("")  # files at the root are not runs
    return tmp_path


def listing(root, *args, fmt="csv"):
    result, _ = invoke("runs", "--output-root", root, "--format", fmt, *args)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(result.stdout)))
    return result.stdout


def test_flat_metrics_summarise_members_and_lists_and_keep_their_own_keys():
    flat = flat_metrics({**pinn_metrics(1e-3, 4e-3, 2e-3), "peak": [1.0, None, 3.0], "nested": {"x": 2},
                         "rel_l2_max": 9.0, "flag": True, "note": "text", "gone": None})
    assert flat["rel_l2_min"] == 1e-3 and flat["rel_l2_median"] == 2e-3
    assert flat["rel_l2_max"] == 9.0  # metrics.json's own key wins over the derived one
    assert flat["max_abs_err_max"] == 8e-3 and flat["a_median"] == pytest.approx(0.2)
    assert (flat["peak_min"], flat["peak_median"], flat["peak_max"]) == (1.0, 2.0, 3.0)  # nulls left out
    assert flat["nested.x"] == 2.0
    assert not {"flag", "note", "gone"} & flat.keys()


def test_lists_every_run_oldest_first_with_headline_columns(root):
    rows = listing(root)
    assert [r["name"] for r in rows] == ["s", "u", "a", "b", "c"]
    assert [r["command"] for r in rows] == ["simulate", "train-ude", "train-pinn", "train-pinn", "train-pinn"]
    a = rows[2]
    assert a["status"] == "completed" and float(a["duration_s"]) == 10.0 and a["time"] == "2026-12-01 10:00:00"
    assert float(a["rel_l2_max"]) == 4e-3 and float(a["rel_l2_median"]) == 2e-3
    assert float(rows[0]["spike_count_max"]) == 3 and float(rows[1]["best_loss"]) == 2.5e-6
    assert rows[4]["rel_l2_max"] == ""  # a failed run without metrics.json
    assert Path(a["path"]) == root / "train-pinn" / "20261201-100000_a"


def test_filters_by_command_status_and_where(root):
    assert [r["name"] for r in listing(root, "--command", "train-pinn")] == ["a", "b", "c"]
    assert [r["name"] for r in listing(root, "--status", "failed")] == ["c"]
    assert [r["name"] for r in listing(root, "--where", "rel_l2_max<1e-2")] == ["a"]
    assert [r["name"] for r in listing(root, "--where", "rel_l2_max>=4e-3")] == ["a", "b"]
    assert [r["name"] for r in listing(root, "--where", "rel_l2_max>1e-3", "--where", "rel_l2_min<1e-2")] == ["a"]
    assert [r["name"] for r in listing(root, "--where", "command==train-ude")] == ["u"]
    assert [r["name"] for r in listing(root, "--where", "duration_s==10", "--where", "status!=completed")] == ["c"]


def test_sorts_ascending_and_descending_with_missing_values_last(root):
    assert [r["name"] for r in listing(root, "--sort", "rel_l2_max")] == ["a", "b", "s", "u", "c"]
    assert [r["name"] for r in listing(root, "--sort", "-rel_l2_max")] == ["b", "a", "s", "u", "c"]
    assert [r["name"] for r in listing(root, "--sort", "name")] == ["a", "b", "c", "s", "u"]


def test_table_and_json_formats(root):
    table = listing(root, "--command", "train-pinn", fmt="table").splitlines()
    assert table[0].split() == ["time", "command", "name", "status", "duration_s", "rel_l2_max", "rel_l2_median",
                                "max_abs_err_max", "train_s"]
    assert len(table) == 4 and table[1].split()[-4:] == ["0.004", "0.002", "0.008", "3"]
    rows = json.loads(listing(root, "--where", "rel_l2_max<1", fmt="json"))
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["metrics"]["rel_l2_max"] == 5e-2


@pytest.mark.parametrize("args, named", [
    (["--where", "rel_l3<1"], "unknown key 'rel_l3'"),
    (["--sort", "-nosuch"], "--sort: unknown key 'nosuch'"),
    (["--where", "rel_l2_max~1"], "expected KEY OP VALUE"),
    (["--where", "rel_l2_max<small"], "'small' is not a number"),
    (["--where", "name<b"], "name is text"),
    (["--status", "done"], "--status 'done': expected one of"),
    (["--format", "xml"], "--format 'xml'"),
])
def test_bad_options_exit_2_naming_them(root, args, named):
    result, _ = invoke("runs", "--output-root", root, *args)
    assert result.exit_code == 2 and named in result.stderr, result.output
    assert "Traceback" not in result.output


def test_a_documented_key_is_known_before_any_run_has_it(tmp_path):
    make_run(tmp_path, "simulate", "20261201-080000", "s", metrics={"run_s": 1.0})
    assert listing(tmp_path, "--where", "rel_l2_max<1e-2") == []  # no run matches, but the key is train-pinn's
    result, _ = invoke("runs", "--output-root", tmp_path / "missing")
    assert result.exit_code == 2 and "no such directory" in result.stderr


def test_show_lists_status_config_metrics_and_figures(root):
    run = make_run(root, "train-pinn", "20261202-100000", "shown", metrics=pinn_metrics(1e-3),
                   config={"network": {"width": 16}, "phases": [{"lr": 0.003}]})
    (run / "figures").mkdir()
    (run / "figures" / "loss.pdf").write_bytes(b"%PDF-1.4")
    for target in (str(run), "shown", run.name):  # a path, a name, a directory's name under the root
        result, _ = invoke("runs", "show", target, "--output-root", root)
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert f"run      {run}" in out and "status completed" in out and "duration 10.0 s" in out
        assert "    width: 16" in out and "rel_l2_max" in out and str(run / "figures" / "loss.pdf") in out
    result, _ = invoke("runs", "show", "nosuch", "--output-root", root)
    assert result.exit_code == 2 and "nosuch: no such run directory" in result.stderr


def test_compare_names_the_differing_keys_and_overlays_the_losses(root, tmp_path):
    base = {"network": {"width": 16, "activation": "tanh"}, "phases": [{"optimizer": "adam", "lr": 0.003}]}
    one = make_run(root, "train-pinn", "20261202-100000", "one", metrics=pinn_metrics(1e-3), config=base,
                   loss=[(10, 0, 0.5), (10, 1, 0.4), (20, 0, 0.1), (20, 1, 0.2)])
    other = {**base, "phases": [{"optimizer": "adam", "lr": 0.01}]}
    two = make_run(root, "train-pinn", "20261202-110000", "two", metrics=pinn_metrics(3e-3), config=other,
                   loss=[(10, 0, 0.6), (20, 0, 0.3)])
    pdf = tmp_path / "out" / "cmp.pdf"
    result, last = invoke("runs", "compare", one, two, "--output", pdf)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "config keys that differ (1):" in lines
    row = next(line for line in lines if line.strip().startswith("phases[0].lr"))
    assert row.split() == ["phases[0].lr", "0.003", "0.01"]
    metric = next(line for line in lines if line.strip().startswith("rel_l2_max"))
    assert metric.split() == ["rel_l2_max", "0.001", "0.003"]
    assert last == pdf and pdf.read_bytes().startswith(b"%PDF")
    result, last = invoke("runs", "compare", one, two, "--output-root", root)  # default: <root>/comparisons/
    assert result.exit_code == 0 and last.parent == root / "comparisons" and last.suffix == ".pdf" and last.is_file()
    result, _ = invoke("runs", "compare", one)
    assert result.exit_code == 2 and "at least two runs" in result.stderr


NO_JAX = """
import sys
from neurocli.cli import app
for args in ({cmds}):
    try:
        code = app(args, standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    assert code in (None, 0), (args, code)
print("JAX" if "jax" in sys.modules else "no JAX")
"""


def test_runs_show_and_compare_do_not_import_jax(root, tmp_path):
    """The listing, show, and a compare that draws its loss figure: all succeed without JAX."""
    runs = [str(make_run(tmp_path / "compared", "train-pinn", f"20261203-10000{i}", f"l{i}", loss=[(1, 0, 0.5), (2, 0, 0.2)]))
            for i in (1, 2)]
    figure = tmp_path / "cmp.pdf"
    cmds = [["runs", "--output-root", str(root), "--where", "rel_l2_max<1", "--sort", "-train_s"],
            ["runs", "show", runs[0]], ["runs", "compare", *runs, "--output", str(figure)]]
    out = subprocess.run([sys.executable, "-c", NO_JAX.format(cmds=repr(cmds)[1:-1] + ",")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "no JAX"
    assert figure.read_bytes().startswith(b"%PDF")
    assert "2026-12-01 10:00:00" in out.stdout  # the listing ran (run a, rel_l2_max 4e-3 < 1)
