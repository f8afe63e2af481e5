"""The run directory's JSON is standard JSON: scripts (jq, JavaScript) read metrics.json."""

import json

import numpy as np

from neurocli.run_dir import to_json


def _strict(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null():
    obj = {"validation_sse": float("inf"), "values": [1.5, float("nan")], "a32": np.float32("-inf"),
           "arr": np.array([1.0, np.inf]), "nested": {"ok": np.float64(2.0), "t": (3, float("nan"))}}
    got = _strict(to_json(obj))
    assert got == {"validation_sse": None, "values": [1.5, None], "a32": None, "arr": [1.0, None],
                   "nested": {"ok": 2.0, "t": [3, None]}}


def test_checkpoint_headers_keep_inf():
    assert json.loads(to_json({"best_loss": float("inf")}, strict=False))["best_loss"] == float("inf")
