"""The six analyses of SPEC section 8 as steps of ``python -m tf_fastls0.analyze``.

Each step reads what it needs from an ``AnalysisContext`` (gradient_norm only from run folders),
writes its JSON and figures into the output folder, and returns a ``StepOutput``: the summary, the
figures to copy into TensorBoard, and any text (markdown) to print and log.
"""

import os
import re
from typing import Dict, NamedTuple

import numpy as np

from tf_fastls0.analysis import gradient_distance as gradient_distance_lib
from tf_fastls0.analysis import hessian as hessian_lib
from tf_fastls0.analysis import interpolation as interpolation_lib
from tf_fastls0.analysis import landscape as landscape_lib
from tf_fastls0.analysis import locations as locations_lib
from tf_fastls0.analysis import plots
from tf_fastls0.analysis import tables
from tf_fastls0.analysis import tensorboard_logs
from tf_fastls0.analysis import training_objective
from tf_fastls0.analysis.context import AnalysisError, progress_bar
from tf_fastls0.attacks import SURVIVED
from tf_fastls0.utils.atomic import atomic_path, write_json

GRADIENT_BATCH_SIZE = 16  # per-example weight gradients: a batch x parameters Jacobian in memory


class StepOutput(NamedTuple):
    summary: dict
    figures: Dict[str, str]  # TensorBoard tag -> PNG path
    texts: Dict[str, str]  # TensorBoard tag -> markdown


def file_label(label):
    """A model label made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def save_figure(path, draw, *args, **kwargs):
    """``draw(*args, temporary_png, **kwargs)`` written atomically to ``path``."""
    with atomic_path(path) as temporary:
        draw(*args, temporary + ".png", **kwargs)  # matplotlib picks the format by suffix
        os.replace(temporary + ".png", temporary)
    return path


def _save_npz(path, **arrays):
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
    return path


def gradient_norm_curves(sources, labels):
    """Each run's logged ``step/gradient_norm`` and epoch robust accuracy (where logged), read
    before any analysis runs; ``AnalysisError`` for a model without training logs."""
    curves, robust = {}, {}
    for source, label in zip(sources, labels):
        if not source.run_dir:
            raise AnalysisError(f"{source.path!r} is not in a run folder, so it has no training logs "
                                "for --analysis=gradient_norm; pass the run folder")
        curve = tensorboard_logs.gradient_norm_curve(source.run_dir)
        if not len(curve.steps):
            raise AnalysisError(f"no {tensorboard_logs.GRADIENT_NORM_TAG!r} scalars under "
                                f"{os.path.join(source.run_dir, 'logs', 'train')}")
        curves[label] = curve
        robust_curve = tensorboard_logs.robust_accuracy_curve(source.run_dir)
        if len(robust_curve.steps):
            robust[label] = robust_curve
    return curves, robust


def gradient_norm(logged, output_dir):
    """The ``gradient_norm_curves`` on one axis, epoch robust accuracy below if logged."""
    curves, robust = logged
    path = save_figure(os.path.join(output_dir, "gradient_norm.png"), plots.plot_gradient_norms,
                       curves, robust_curves=robust)
    summary = {label: {"steps": curve.steps.tolist(), "gradient_norm": curve.values.tolist(),
                       "max": float(curve.values.max()),
                       "max_step": int(curve.steps[curve.values.argmax()]),
                       "robust_accuracy_by_epoch": (robust[label].values.tolist()
                                                    if label in robust else None)}
               for label, curve in curves.items()}
    write_json(os.path.join(output_dir, "gradient_norm.json"), {"models": summary})
    return StepOutput(summary, {"gradient_norm/curves": path}, {})


def _eigenpairs(context, model, k):
    """Top-k eigenpairs of the model's objective (cached; a larger k computed before serves too)."""
    key = ("eigenpairs", model.label)
    cached = context.cache.get(key)
    if cached is not None and len(cached.values) >= k:
        return cached
    config = context.config
    parts = context.objective_parts(model)
    with progress_bar(f"{model.label}: Hessian power iteration (top {k})") as bar:
        def report(index, iteration, value):
            bar.set_postfix(eigenvalue=index + 1, iteration=iteration, estimate=f"{value:.4g}")
            bar.update(1)

        pairs = hessian_lib.top_eigenpairs(model.network, parts, k=k,
                                           max_iterations=config.hessian_max_iterations,
                                           tolerance=config.hessian_tolerance, seed=config.seed,
                                           progress=report)
    context.cache[key] = pairs
    return pairs


def hessian(context, output_dir):
    """Top ``--top_k`` Hessian eigenvalues of each model's adversarial objective; one log plot."""
    config = context.config
    spectra, summary = {}, {}
    for model in context.models:
        pairs = _eigenpairs(context, model, config.top_k)
        spectra[model.label] = pairs.values[:config.top_k]
        summary[model.label] = {
            "objective": context.objective(model)._asdict(),
            "eigenvalues": pairs.values[:config.top_k].tolist(),
            "iterations": pairs.iterations[:config.top_k].tolist(),
            "reached_iteration_cap": bool(np.any(
                pairs.iterations[:config.top_k] >= config.hessian_max_iterations)),
            "model_path": model.source.path,
        }
    path = save_figure(os.path.join(output_dir, "hessian_spectrum.png"), plots.plot_spectra,
                       spectra, title=f"Top {config.top_k} Hessian eigenvalues "
                       f"({len(context.train.labels)} training images, eps "
                       f"{_title_value(context, 'train_eps')})")
    write_json(os.path.join(output_dir, "hessian.json"),
               {"models": summary, "settings": _settings(context, "top_k", "hessian_max_iterations",
                                                         "hessian_tolerance", "train_eps",
                                                         "attack_variant", "attack_patience",
                                                         "nfgsm")})
    return StepOutput(summary, {"hessian/spectrum": path}, {})


def landscape(context, output_dir):
    """Each model's loss on a grid around its weights: PNG (surface + contour) and .npz."""
    config = context.config
    figures, summary = {}, {}
    for model in context.models:
        if config.directions == "hessian":
            directions = _eigenpairs(context, model, 2).vectors[:2]
        else:
            variables = model.network.trainable_variables
            directions = [landscape_lib.filter_normalised_direction(variables, config.seed, index)
                          for index in (0, 1)]
        parts = context.objective_parts(model, reattack=config.reattack)
        with progress_bar(f"{model.label}: loss landscape", config.grid_size ** 2,
                          "point") as bar:
            grid = landscape_lib.loss_grid(model.network, parts, directions, steps=config.grid_size,
                                           extent=config.grid_range,
                                           progress=lambda i, j, loss: bar.update(1))
        objective = context.objective(model).name
        held = ("adversarial examples recomputed at each point" if config.reattack
                else "adversarial examples held fixed")
        if not training_objective.needs_adversarial(objective):
            held = "clean images"
        title = (f"{model.label}: {training_objective.DISPLAY_NAMES[objective]} loss, "
                 f"{config.directions} directions, {held}")
        name = file_label(model.label)
        png = save_figure(os.path.join(output_dir, f"landscape_{name}.png"), plots.plot_landscape,
                          grid, title=title)
        npz = _save_npz(os.path.join(output_dir, f"landscape_{name}.npz"), alphas=grid.alphas,
                        betas=grid.betas, losses=grid.losses)
        figures[f"landscape/{name}"] = png
        centre = config.grid_size // 2
        summary[model.label] = {"title": title, "png": png, "npz": npz,
                                "centre_loss": float(grid.losses[centre, centre]),
                                "min_loss": float(grid.losses.min()),
                                "max_loss": float(grid.losses.max())}
    write_json(os.path.join(output_dir, "landscape.json"),
               {"models": summary, "settings": _settings(context, "grid_size", "grid_range",
                                                         "directions", "reattack", "train_eps",
                                                         "attack_variant", "attack_patience",
                                                         "nfgsm")})
    return StepOutput(summary, figures, {})


def locations(context, output_dir):
    """Normalised l0 distance and overlap of the pixels of 1-step sPGD and of sAA, per image.

    Counted are the images sAA broke (so it perturbed some pixels) where 1-step sPGD changed the
    image too; 1-step sPGD returns the clean image where its step lowered the loss.
    """
    clean = context.test.images
    distances, overlaps, summary = {}, {}, {}
    for model in context.models:
        one_step = locations_lib.perturbed_positions(clean, context.adversarial(model, "test"))
        result = context.saa(model)
        saa_positions = locations_lib.perturbed_positions(clean, result.adversarial)
        broken = result.broken_by > 0
        moved = one_step.any(axis=(1, 2))
        counted = broken & moved
        distance = locations_lib.normalised_l0_distance(one_step[counted], saa_positions[counted])
        overlap = locations_lib.overlap_rate(one_step[counted], saa_positions[counted])
        distances[model.label], overlaps[model.label] = distance, overlap
        summary[model.label] = {
            "mean_normalised_l0_distance": _mean(distance),
            "mean_overlap_rate": _mean(overlap),
            "images_counted": int(counted.sum()),
            "images_broken_by_saa": int(broken.sum()),
            "broken_images_unchanged_by_1step": int((broken & ~moved).sum()),
            "mean_pixels_1step": _mean(one_step[counted].sum(axis=(1, 2))),
            "mean_pixels_saa": _mean(saa_positions[counted].sum(axis=(1, 2))),
        }
    path = save_figure(os.path.join(output_dir, "locations.png"), plots.plot_histograms,
                       {"normalised l0 distance": distances, "overlap rate": overlaps},
                       title=f"Pixels of 1-step sPGD (eps {_title_value(context, 'train_eps')}) "
                       f"vs sAA (eps {_title_value(context, 'eval_eps')})")
    write_json(os.path.join(output_dir, "locations.json"),
               {"models": summary, "settings": _settings(context, "train_eps", "eval_eps",
                                                         "iterations", "queries",
                                                         "attack_variant")})
    return StepOutput(summary, {"locations/histograms": path}, {})


def interpolation(context, output_dir):
    """Accuracy on ``x + a * delta_1step`` for a = 0, 0.1, ..., 1 beside sAA robust accuracy."""
    test = context.test
    accuracies, robust, summary = {}, {}, {}
    for model in context.models:
        deltas = context.adversarial(model, "test") - test.images
        accuracies[model.label] = interpolation_lib.interpolation_accuracy(
            model.model_fn, test.images, test.labels, deltas, batch_size=context.config.batch_size)
        result = context.saa(model)
        robust[model.label] = float(np.mean(result.broken_by == SURVIVED))
        summary[model.label] = {"accuracy_by_alpha": {f"{a:.1f}": acc for a, acc in
                                                      accuracies[model.label].items()},
                                "saa_robust_accuracy": robust[model.label],
                                "saa_report": result.report}
    table = tables.interpolation_table(accuracies, robust)
    path = save_figure(os.path.join(output_dir, "interpolation.png"), plots.plot_interpolation,
                       accuracies, reference=robust)
    with atomic_path(os.path.join(output_dir, "interpolation.md")) as temporary:
        with open(temporary, "w") as handle:
            handle.write(table + "\n")
    write_json(os.path.join(output_dir, "interpolation.json"),
               {"models": summary, "table": table,
                "settings": _settings(context, "train_eps", "eval_eps", "iterations", "queries",
                                      "attack_variant")})
    return StepOutput(summary, {"interpolation/accuracy": path}, {"interpolation/table": table})


def gradient_distance(context, output_dir):
    """Mean ``||dL/dtheta(x + d_1step) - dL/dtheta(x + d_multistep)||_2`` on the training images."""
    config, train = context.config, context.train
    distances, summary = {}, {}
    for model in context.models:
        one_step = context.adversarial(model, "train") - train.images
        multistep = (context.adversarial(model, "train", iterations=config.multistep_iterations)
                     - train.images)
        with progress_bar(f"{model.label}: per-example gradients", len(train.labels), "img") as bar:
            distances[model.label] = gradient_distance_lib.per_example_gradient_distances(
                model.network, train.images, train.labels, one_step, multistep,
                batch_size=GRADIENT_BATCH_SIZE, progress=bar.update)
        summary[model.label] = {"mean": _mean(distances[model.label]),
                                "std": float(np.std(distances[model.label])),
                                "median": float(np.median(distances[model.label])),
                                "examples": len(distances[model.label])}
    path = save_figure(os.path.join(output_dir, "gradient_distance.png"), plots.plot_distributions,
                       distances, xlabel="||grad(x + d_1step) - grad(x + d_multistep)||_2",
                       title=f"Gradient distance, 1-step vs {config.multistep_iterations}-step "
                             "sPGD")
    write_json(os.path.join(output_dir, "gradient_distance.json"),
               {"models": summary, "settings": _settings(context, "train_eps",
                                                         "multistep_iterations", "attack_variant")})
    return StepOutput(summary, {"gradient_distance/histogram": path}, {})


def _mean(values):
    values = np.asarray(values, dtype=float)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else None


# Settings each model takes from its run (``AnalysisContext.run_settings``).
RUN_SETTINGS = ("train_eps", "eval_eps", "attack_variant", "attack_patience", "nfgsm")


def _run_value(context, name):
    """The models' run setting ``name``: one value if they share it, else ``{label: value}``."""
    values = {model.label: getattr(context.run_settings(model), name) for model in context.models}
    return next(iter(values.values())) if len(set(values.values())) == 1 else values


def _title_value(context, name):
    value = _run_value(context, name)
    return "per model" if isinstance(value, dict) else value


def _settings(context, *names):
    config = context.config
    settings = {name: _run_value(context, name) if name in RUN_SETTINGS else getattr(config, name)
                for name in names}
    settings.update(seed=config.seed, data=context.data_name,
                    train_examples=len(context.train.labels), test_examples=len(context.test.labels))
    return settings


STEPS = {"hessian": hessian, "landscape": landscape, "locations": locations,
         "interpolation": interpolation, "gradient_distance": gradient_distance}
