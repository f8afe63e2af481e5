"""One network to one checked equation: sample it, regress, refit through the ODE, evaluate.

The evaluation is train-ude's own (`neurocli.ude.evaluate`): the recovered UDE and the network's
UDE solved on the training data (SSE against the data) and under the held-out validation
stimulus (SSE against the true model), with the train-ude run's solvers.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from neurocli.config.discover import DiscoverConfig
from neurocli.discover import equation, regression
from neurocli.discover.library import Library
from neurocli.discover.refit import RecoveredCurrent, Refit, refit
from neurocli.discover.samples import Samples, along_of, features, sample
from neurocli.discover.source import Source
from neurocli.ude import evaluate as ude_evaluate
from neurocli.ude.data import Recording
from neurocli.ude.model import TrueCurrent
from neurocli.ude.objective import split_network
from neurocli.ude.setup import build_ude, make_loss


@dataclasses.dataclass
class Result:
    samples: Samples
    selection: regression.Selection
    chosen: Library  # the selected terms only
    regression_coefficients: np.ndarray  # of `chosen`'s columns
    regression_covariance: np.ndarray
    refit: Refit | None
    current: RecoveredCurrent  # the final (refitted) current
    equation: dict
    recovered_on_samples: np.ndarray  # µA/cm² at the samples
    true_on_samples: np.ndarray | None  # the known model's current (simulated data)
    fit: ude_evaluate.Trajectories  # recovered UDE on the training data
    fit_network: ude_evaluate.Trajectories
    validation: ude_evaluate.Trajectories
    validation_network: ude_evaluate.Trajectories


def chosen_library(library: Library, groups: tuple[int, ...]) -> Library:
    return Library(library.inputs, tuple(library.terms[g] for g in groups))


def discover(cfg: DiscoverConfig, src: Source, library: Library, network, recording: Recording,
             seed: int) -> Result:
    """The whole of `neurocli discover` for one network (module doc)."""
    tcfg, prep = src.cfg, src.prep
    s = sample(network, recording, src.inputs, along_of(cfg.sample.along, src.inputs), cfg.sample.points)
    reg = cfg.regression
    sel = regression.select(features(library, s.inputs), s.learned, library.groups(), folds=reg.folds,
                            thresholds=reg.thresholds, ridge=reg.ridge, complexity_tolerance=reg.complexity_tolerance,
                            max_iterations=reg.max_iterations, seed=seed, max_terms=reg.max_terms)
    chosen = chosen_library(library, sel.chosen.groups)
    cols = list(sel.chosen.columns)
    c0 = sel.coefficients[cols]
    current = RecoveredCurrent(chosen, c0)
    ude_net = build_ude(tcfg, prep.truth, network)
    fitted = None
    covariance = sel.covariance
    if cfg.refit.enabled:
        _, static = split_network(network)
        loss = make_loss(tcfg, ude_net, recording, prep.stimulus, static)
        fitted = refit(loss, current, cfg.refit.iterations, cfg.refit.tolerance, cfg.refit.damping)
        current, covariance = fitted.current, fitted.covariance
    eq = equation.describe(chosen, current.coefficients, covariance, tcfg.ude.replaced, c0, sel.covariance)
    ude_rec = eqx.tree_at(lambda u: u.network, ude_net, current)
    x = jnp.asarray(s.inputs)
    recovered = np.asarray(jax.vmap(current)(x))
    true = np.asarray(jax.vmap(TrueCurrent(ude_net))(x)) if recording.clean is not None else None
    solver, edges = tcfg.solve.solver, tcfg.solve.declare_stimulus_edges
    fit = ude_evaluate.fit(ude_rec, prep.stimulus, recording, solver, edges)
    fit_net = ude_evaluate.fit(ude_net, prep.stimulus, recording, solver, edges)
    val = ude_evaluate.validate(ude_rec, prep.truth, prep.validation_stimulus, recording, tcfg.validation.solver)
    val_net = ude_evaluate.validate(ude_net, prep.truth, prep.validation_stimulus, recording, tcfg.validation.solver)
    return Result(s, sel, chosen, c0, sel.covariance, fitted, current, eq, recovered, true, fit, fit_net, val, val_net)
