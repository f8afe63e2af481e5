"""`neurocli train-pinn`: the reference solve, one vmapped training of every member, errors, figures."""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from neurocli import checkpoint
from neurocli.config.base import ConfigError
from neurocli.config.pinn import TrainPinnConfig
from neurocli.models.reaction_diffusion import ReactionDiffusion
from neurocli.pinn.errors import member_errors
from neurocli.pinn.networks import count_parameters
from neurocli.pinn.reference import Reference, output_grid, solve_reference
from neurocli.pinn.setup import build_pde_model, build_setup
from neurocli.pinn.steps import TrainState
from neurocli.pinn.train import Snapshot, Trainer, member_keys
from neurocli.plotting import pde as pde_plots
from neurocli.plotting import pinn as pinn_plots
from neurocli.progress import progress
from neurocli.run_dir import RunDirectory

SCHEMA = TrainPinnConfig
LATEST, BEST = "checkpoints/latest.eqx", "checkpoints/best.eqx"
U_LABEL = "u (dimensionless)"
X_LABEL, T_LABEL = "x (dimensionless)", "t (dimensionless)"


@dataclasses.dataclass
class Prepared:
    model: ReactionDiffusion


def prepare(cfg: TrainPinnConfig, source: str) -> Prepared:
    """Builds the model (the schema has checked every value); compiles nothing."""
    try:
        return Prepared(build_pde_model(cfg))
    except ValueError as exc:  # pragma: no cover - the schema should have caught it
        raise ConfigError(source, [("pde", str(exc))]) from None


# -- checkpoints ---------------------------------------------------------------------------------


def _identity(cfg: TrainPinnConfig) -> dict:
    """What a checkpoint must match to be resumed by this config."""
    dump = cfg.model_dump(mode="json")
    return {
        "command": "train-pinn",
        "a": cfg.pde.member_values(),
        "network": dump["network"],
        "conditions": dump["conditions"],
        "collocation": dump["collocation"],
        "phases": dump["phases"],
    }


def _save(run: RunDirectory, cfg: TrainPinnConfig, columns: tuple[str, ...], snap: Snapshot) -> None:
    header = {**_identity(cfg), "step": snap.step, "phase": snap.phase, "history_rows": int(len(snap.history)),
              "loss_columns": list(columns)}
    checkpoint.save(run.file(LATEST), header, {"state": snap.state, "history": snap.history,
                                               "best_params": snap.best_params, "best_loss": snap.best_loss})
    checkpoint.save(run.file(BEST), {**header, "best_loss": snap.best_loss.tolist()}, snap.best_params)
    _write_losses(run, cfg, columns, snap.history)


def _load(run: RunDirectory, cfg: TrainPinnConfig, trainer: Trainer) -> Snapshot | None:
    path = run.file(LATEST)
    if not path.is_file():
        return None
    header = checkpoint.load_header(path)
    state: TrainState = trainer.initial_state(int(header.get("phase", 0)))
    width = 3 + len(trainer.setup.loss_columns)
    skeleton = {"state": state, "history": np.zeros((int(header.get("history_rows", 0)), width)),
                "best_params": state.params, "best_loss": np.zeros(trainer.n)}
    header, tree = checkpoint.load(path, skeleton, expect=_identity(cfg))
    return Snapshot(int(header["step"]), int(header["phase"]), tree["state"], np.asarray(tree["history"]),
                    tree["best_params"], np.asarray(tree["best_loss"]))


def _write_losses(run: RunDirectory, cfg: TrainPinnConfig, columns, history: np.ndarray) -> None:
    header = ["step", "member", "a", *columns]
    rows = ([int(r[0]), int(r[1]), *r[2:]] for r in history.tolist())
    run.write_csv("loss.csv", header, rows)


# -- the run -------------------------------------------------------------------------------------


def execute(prepared: Prepared, cfg: TrainPinnConfig, run: RunDirectory, resume: bool = False) -> dict:
    started = time.perf_counter()
    values = cfg.pde.member_values()
    ref = solve_reference(cfg)
    run.write_npz("reference.npz", t=ref.t, x=ref.x, a=ref.a, u=ref.u)

    setup = build_setup(cfg, prepared.model)
    trainer = Trainer(setup, values, member_keys(cfg.runtime.seed, len(values)))
    snapshot = _load(run, cfg, trainer) if resume else None
    columns = setup.loss_columns
    total = cfg.total_steps
    start = 0 if snapshot is None else snapshot.step
    with progress(total, f"train-pinn ({len(values)} member{'s' * (len(values) > 1)})", start=start) as update:
        result = trainer.run(
            snapshot,
            on_log=lambda step, losses: update(step, loss=float(losses[:, 0].max())),
            on_checkpoint=lambda snap: _save(run, cfg, columns, snap),
        )

    t, x = output_grid(cfg)
    u = trainer.predict(result.final.state.params, t, x)
    run.write_npz("predictions.npz", t=t, x=x, a=np.asarray(values, dtype=np.float64), u=u)
    errors = member_errors(u, ref.u)
    _figures(run, cfg, ref, u, errors, result.final.history, columns)
    return _metrics(cfg, ref, errors, result, trainer, time.perf_counter() - started)


def _metrics(cfg, ref: Reference, errors, result, trainer: Trainer, wall_s: float) -> dict:
    final = result.final
    hist = final.history
    last_step = hist[:, 0].max() if len(hist) else 0
    last = hist[hist[:, 0] == last_step]
    last = last[np.argsort(last[:, 1])]
    members = []
    for i, a in enumerate(ref.a):
        members.append({
            "a": float(a),
            "final_loss": float(last[i, 3]) if len(last) else None,
            "best_loss": float(final.best_loss[i]),
            "rel_l2": float(errors["rel_l2"][i]),
            "max_abs_err": float(errors["max_abs_err"][i]),
            "rel_l2_T": float(errors["rel_l2_T"][i]),
        })
    one_net = jax.tree_util.tree_map(lambda v: v[0], final.state.params)
    metrics = {
        "members": members,
        "rel_l2_max": float(errors["rel_l2"].max()),
        "compile_s": result.compile_s,
        "train_s": result.train_s,
        "s_per_step": result.train_s / max(result.steps_run, 1),
        "steps": int(final.step),
        "steps_this_session": result.steps_run,
        "reference_s": ref.compile_s + ref.run_s,
        "wall_s": wall_s,
        "boundary": cfg.pde.boundary,
        "reference_boundary": ref.boundary,
        "reference_nx": ref.solver_nx,
        "reference_solver": cfg.reference.solver.name,
        "reference_num_steps": ref.num_steps,
        "nt": int(ref.t.size),
        "nx": int(ref.x.size),
        "derivatives": cfg.derivatives,
        "precision": cfg.runtime.precision,
        "parameters_per_member": count_parameters(one_net),
        "devices": len(jax.devices()),
    }
    if cfg.pde.boundary == "none":
        metrics["reference_note"] = (
            "boundary none (no boundary term, as in the paper's code) leaves the PDE without a unique "
            "solution; the reference uses zero-flux (neumann) ends"
        )
    return metrics


def _figures(run: RunDirectory, cfg: TrainPinnConfig, ref: Reference, u, errors, history, columns) -> None:
    titles = [f"a = {a:g}" for a in ref.a]
    err_titles = [f"a = {a:g}: rel L2 {e:.2g}" for a, e in zip(ref.a, errors["rel_l2"])]
    scale = pde_plots.colour_scale(ref.t, u, ref.u)  # one scale for prediction and reference
    grid = dict(x_label=X_LABEL, t_label=T_LABEL)
    k, bc = cfg.pde.k, cfg.pde.boundary
    run.save_figure("heatmaps", pde_plots.heatmap_grid(
        ref.t, ref.x, u, titles, label=U_LABEL, scale=scale, suptitle=f"PINN u(t, x), k = {k:g}, boundary {bc}", **grid))
    run.save_figure("heatmaps_reference", pde_plots.heatmap_grid(
        ref.t, ref.x, ref.u, titles, label=U_LABEL, scale=scale,
        suptitle=f"reference (finite differences, {ref.boundary}, nx = {ref.solver_nx})", **grid))
    run.save_figure("heatmaps_error", pde_plots.heatmap_grid(
        ref.t, ref.x, np.abs(u - ref.u), err_titles, label="|u − reference| (dimensionless)", vmin=0.0,
        suptitle="absolute error of the PINN", **grid))
    times = cfg.output.profile_times or list(np.linspace(0.0, cfg.pde.T, 5))
    run.save_figure("profiles", pinn_plots.profiles_grid(
        ref.t, ref.x, u, ref.u, times=times, titles=err_titles, label=U_LABEL, x_label=X_LABEL))
    if len(history):
        n = ref.a.size
        steps = history[history[:, 1] == 0, 0]
        per = lambda j: np.stack([history[history[:, 1] == i, j] for i in range(n)])  # noqa: E731
        terms = {name: per(4 + j) for j, name in enumerate(columns[1:])} if len(columns) > 2 else None
        ends = list(cfg.phase_starts[1:-1])
        run.save_figure("loss", pinn_plots.loss_curves(steps, per(3), titles, terms=terms, phase_ends=ends))
