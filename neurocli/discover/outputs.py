"""What a discover run leaves besides the runner's files (config.yaml, run.json, metrics.json).

- equation.json: the recovered equation (neurocli/discover/equation.py); a sweep's holds one per
  member under `members`, and `form_counts`;
- equation.txt: the equation, g and E with their standard errors, readable;
- candidates.csv: every candidate support the regression scored (its terms, columns, CV error);
  a sweep's: member 0's;
- current.csv: V, the network's inputs, the learned, recovered and (simulated data) true current at
  the sampled inputs;
- validation.csv: the held-out protocol: t, I_ext, the true model, the recovered ODE, the network;
- members.csv (sweeps): the swept values, then form, g, E and the SSEs per member;
- figures/current.pdf (learned vs recovered over V), figures/validation.pdf (the held-out
  trajectory of the recovered ODE over the data); sweeps also figures/forms.pdf.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from neurocli.discover.library import Library
from neurocli.discover.pipeline import Result
from neurocli.plotting import discover as plots
from neurocli.run_dir import RunDirectory

MEMBER_METRICS = ("form_key", "g", "E", "g_standard_error", "E_standard_error", "cv_rmse", "fit_sse",
                  "fit_sse_network", "validation_sse", "validation_sse_network")


def member_metrics(result: Result) -> dict:
    """The numbers of one network's equation (metrics.json; a sweep's members)."""
    eq = result.equation
    first = eq["conductances"][0] if eq["conductances"] else {}
    sel = result.selection
    return {
        "form": eq["form"],
        "form_key": eq["form_key"],
        "g": first.get("g"),
        "E": first.get("E"),
        "g_standard_error": first.get("g_standard_error"),
        "E_standard_error": first.get("E_standard_error"),
        "equation": eq["equation"],
        "equation_latex": eq["latex"],
        "terms": len(result.chosen.terms),
        "cv_rmse": sel.chosen.cv_rmse,
        "regression_rmse": sel.fit_rmse,
        "threshold": sel.chosen.threshold,
        "selected_from": sel.chosen.origin,
        "fit_sse": result.fit.sse,
        "fit_sse_network": result.fit_network.sse,
        "validation_sse": result.validation.sse,
        "validation_sse_network": result.validation_network.sse,
        "fit_failed": result.fit.failed,
        "validation_failed": result.validation.failed,
        "refit_iterations": result.refit.iterations if result.refit else 0,
        "refit_loss_before": result.refit.loss_before if result.refit else None,
        "refit_s": result.refit.seconds if result.refit else 0.0,
    }


def equation_text(eq: dict, metrics: dict, source: str) -> str:
    lines = [f"{eq['equation']}", "", f"from the network of {source}", f"inputs: {', '.join(eq['inputs'])}"]
    for c in eq["conductances"]:
        gates = ", ".join(f"{k}^{v} ({eq_src})" for (k, v), eq_src in zip(c["gates"].items(), c["gate_sources"].values()))
        lines.append(f"form {c['form']}: g = {c['g']:.6g} ± {c['g_standard_error']:.2g} mS/cm², "
                     f"E = {c['E']:.6g} ± {c['E_standard_error']:.2g} mV; gates {gates}")
    lines.append("terms (coefficient ± standard error):")
    for t in eq["terms"]:
        lines.append(f"  {t['coefficient']:+.8g} ± {t['standard_error']:.2g}   {t['expression']}")
    lines += ["", f"SSE on the training data: recovered {metrics['fit_sse']:.4g}, network {metrics['fit_sse_network']:.4g}",
              f"SSE on the held-out protocol: recovered {metrics['validation_sse']:.4g}, "
              f"network {metrics['validation_sse_network']:.4g}"]
    return "\n".join(lines) + "\n"


def candidates_csv(run: RunDirectory, library: Library, result: Result) -> None:
    rows = []
    for rank, c in enumerate(result.selection.candidates):
        rows.append([rank, "+".join(library.terms[g].key for g in c.groups), len(c.columns), f"{c.cv_rmse:.6g}",
                     f"{c.cv_se:.3g}", c.origin, "" if c.threshold is None else f"{c.threshold:.4g}",
                     int(c == result.selection.chosen)])
    run.write_csv("candidates.csv", ["rank", "terms", "columns", "cv_rmse", "cv_se", "origin", "threshold", "chosen"], rows)


def curves(run: RunDirectory, result: Result, replaced: str, names: tuple[str, ...], inputs: tuple[str, ...],
           label: str = "") -> None:
    """current.csv, validation.csv and the two figures of one network."""
    s = result.samples
    true = result.true_on_samples
    run.write_csv("current.csv", ["V", *(f"input_{n}" for n in inputs), "learned", "recovered", "true"],
                  np.column_stack([s.voltage, s.inputs, s.learned, result.recovered_on_samples,
                                   true if true is not None else np.full(len(s.voltage), np.nan)]).tolist())
    val, net = result.validation, result.validation_network
    run.write_csv("validation.csv", ["t", "i_ext", *(f"true_{n}" for n in names), *(f"recovered_{n}" for n in names),
                                     *(f"network_{n}" for n in names)],
                  np.column_stack([val.t, val.i_ext, val.reference, val.ude, net.ude]).tolist())
    run.save_figure("current", plots.current(s.voltage, s.learned, result.recovered_on_samples, true, replaced=replaced,
                                             along=s.along, equation=label + result.equation["equation"]))
    run.save_figure("validation", plots.validation(
        val.t, val.reference, val.ude, net.ude, names, val.i_ext,
        title=f"{label}held-out stimulus: SSE recovered {val.sse:.3g}, network {net.sse:.3g}"))


def write(run: RunDirectory, library: Library, result: Result, replaced: str, names, inputs, source: str) -> dict:
    metrics = member_metrics(result)
    run.write_json("equation.json", {"source_run": source, **result.equation})
    run.write_text("equation.txt", equation_text(result.equation, metrics, source))
    candidates_csv(run, library, result)
    curves(run, result, replaced, names, inputs)
    return metrics


def write_sweep(run: RunDirectory, library: Library, results: list[Result], member_values: list[dict],
                replaced: str, names, inputs, source: str) -> dict:
    rows = [member_metrics(r) for r in results]
    counts = Counter(r["form"] for r in rows)
    swept = list(member_values[0])
    run.write_csv("members.csv", [*swept, *MEMBER_METRICS],
                  [[*v.values(), *(m[k] for k in MEMBER_METRICS)] for v, m in zip(member_values, rows)])
    run.write_json("equation.json", {"source_run": source, "form_counts": dict(counts.most_common()),
                                     "members": [{**v, **r.equation} for v, r in zip(member_values, results)]})
    common = counts.most_common(1)[0][0]
    text = [f"{len(results)} members of {source}", "forms selected:"]
    text += [f"  {n:3d} × {form}" for form, n in counts.most_common()]
    text += ["", *(f"member {i}: {r['equation']}" for i, r in enumerate(rows))]
    run.write_text("equation.txt", "\n".join(text) + "\n")
    candidates_csv(run, library, results[0])
    curves(run, results[0], replaced, names, inputs, label="member 0: ")
    run.save_figure("forms", plots.forms([f for f, _ in counts.most_common()], [n for _, n in counts.most_common()],
                                         members=len(results)))

    def stats(key):
        values = np.array([m[key] for m in rows if m[key] is not None and m["form"] == common], float)
        return {f"{key}_median": float(np.median(values)) if values.size else None,
                f"{key}_min": float(values.min()) if values.size else None,
                f"{key}_max": float(values.max()) if values.size else None}

    metrics = {"members": [{**v, **m} for v, m in zip(member_values, rows)], "form_counts": dict(counts.most_common()),
               "form": common, "form_fraction": counts[common] / len(results)}
    for key in ("g", "E", "fit_sse", "validation_sse", "validation_sse_network", "cv_rmse"):
        metrics.update(stats(key))
    metrics["equation_latex"] = next(m["equation_latex"] for m in rows if m["form"] == common)
    return metrics
