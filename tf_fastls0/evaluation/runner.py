"""``evaluate_model``: Sparse-AutoAttack and its single attacks on a trained model (SPEC §1, §4).

One call loads the model and the test split, checks the model (``checks``), attacks a fixed,
seed-chosen subset of test images batch by batch, and writes ``report.json``. Every random draw
of the attacks is keyed by the image's index in the test split, so a shard (``shard_index`` of
``num_shards``) or a resumed run attacks each image exactly as one uninterrupted run would.

``attacks`` names what to run, each over all chosen images: ``"saa"`` (the cascade
sPGD-unproj -> sPGD-proj -> Sparse-RS, each stage only on the survivors of the stages before) or a
single attack of the attack registry (``tf_fastls0.attacks.ATTACKS``: ``"spgd_unproj"``,
``"spgd_proj"``, ``"rs"``, ``"cornersearch"``, ``"saif"``, ``"sigma_zero"``), for the paper's
per-attack columns.
The report's ``robust_acc`` counts images that survive every attack run.
"""

import contextlib
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tf_fastls0.attacks import STAGE_CODES, SparseAutoAttack, resolve_stages
from tf_fastls0.attacks import threats
from tf_fastls0.attacks.budget import check_eps_fits
from tf_fastls0.data import load_data
from tf_fastls0.data.streamed_split import READ_ERRORS, StreamedSplit
from tf_fastls0.evaluation import in_memory as in_memory_lib
from tf_fastls0.evaluation import report as report_lib
from tf_fastls0.evaluation.adversarial_files import check_adversarial_path
from tf_fastls0.evaluation.adversarial_files import save_adversarial as write_adversarial
from tf_fastls0.evaluation.budgets import budget_name
from tf_fastls0.evaluation.checks import sanity_warnings
from tf_fastls0.evaluation.config import EvalConfig, data_config_for, default_output_dir
from tf_fastls0.evaluation.fingerprint import weights_sha256
from tf_fastls0.evaluation.records import Records
from tf_fastls0.evaluation.robust_curve import ROBUST_VS_K_FILE, plot_robust_vs_k
from tf_fastls0.evaluation.selection import plan
from tf_fastls0.evaluation.state import STATE_FILE, EvalState, load_state
from tf_fastls0.models import precision
from tf_fastls0.models.loading import load_model, locate
from tf_fastls0.utils.atomic import clean_temporaries, write_json
from tf_fastls0.utils.cli import RunFailed, UsageError, stopped
from tf_fastls0.utils.interrupts import deferred_interrupts, terminate_as_interrupt
from tf_fastls0.utils.output_paths import check_output_dir, describe, environment_errors
from tf_fastls0.utils.run_lock import hold_run_lock
from tf_fastls0.utils.run_marker import (EVALUATION, MARKER_FILE, refuse_other_kind,
                                         write_marker)
from tf_fastls0.utils import settings as settings_lib
from tf_fastls0.utils.settings import result_settings

REPORT_FILE = "report.json"
PROBE_IMAGES = 64  # the first chosen images, checked before attacking (the same for every shard)


def evaluate_model(config=None, splits=None, *, model=None, images=None, labels=None,
                   **settings):
    """Evaluates the model ``config.model`` as ``config`` (an ``EvalConfig``) says and writes
    ``report.json`` into its output folder.

    From Python, instead of ``config``: ``model`` (a path, an in-memory ``keras.Model``, or any
    callable images in [0, 1] -> logits), optionally ``images`` (uint8, or float in [0, 1]) and
    ``labels`` as numpy arrays to attack, and the ``EvalConfig`` settings as keywords
    (``evaluate_model(model=net, images=x, labels=y, eps=10, iterations=100, queries=100)``). An
    in-memory model without ``output_dir`` is evaluated in a temporary folder; the report is
    returned either way.

    ``splits``: the ``DataSplits`` to attack (its test split), if already loaded; else the data
    of ``config.data``, or, when that is None, the data the model's run was trained on.
    Every attack draw is keyed by the image's index in the test split, so shards and resumed
    runs attack each image as one uninterrupted run would. Returns the report (also written to
    ``report.json``); ``UsageError`` on bad input.
    """
    in_memory = model is not None and not isinstance(model, (str, os.PathLike))
    if config is None:
        config = EvalConfig(model=in_memory_lib.IN_MEMORY if in_memory else str(model),
                            **settings)
    elif settings or (model is not None and not in_memory):
        raise UsageError("evaluate_model: give either an EvalConfig, or model= and its settings")
    if in_memory and not config.output_dir:
        with tempfile.TemporaryDirectory(prefix="tf_fastls0_eval_") as scratch:
            return evaluate_model(dataclasses.replace(config, output_dir=scratch), splits,
                                  model=model, images=images, labels=labels)
    loaded = in_memory_lib.loaded(model) if in_memory else None
    if images is not None:
        images, labels = in_memory_lib.checked_arrays(images, labels)
        classes = (loaded or load_model(config.model)).num_classes(images.shape[1:])
        splits = in_memory_lib.splits_of(images, labels, classes)
    return _evaluate(config, splits, loaded)


def _evaluate(config, splits, loaded):
    started, started_at = time.perf_counter(), _now()
    if config.save_adversarial:
        check_adversarial_path(config.save_adversarial)
    if config.output_dir:
        check_output_dir(config.output_dir)
    run_dir = None if loaded is not None else locate(config.model).run_dir
    data = data_config_for(config, run_dir)
    output_dir = config.output_dir or default_output_dir(config, run_dir)
    check_output_dir(output_dir)
    splits = splits if splits is not None else load_data(data)
    model = loaded or precision.for_evaluation(
        load_model(config.model, prefer="saved_model" if config.mixed_precision == precision.OFF
                   else "keras"), config.mixed_precision)
    threat = config.threat_model.structure(splits.test.image_shape)
    _check_fits(model, splits, config.eps, threat)
    chosen = plan(len(splits.test), n_examples=config.n_examples, seed=config.seed,
                  batch_size=config.batch_size, shard_index=config.shard_index,
                  num_shards=config.num_shards)
    values = config.to_dict()
    settings = {**{key: value for key, value in values.items()
                   if key not in ("data", "progress", "threat_model")},
                **values["threat_model"],  # at the top level, as before it was nested
                "attacks": list(config.attacks), "n_examples": len(chosen.indices),
                "n_examples_requested": config.n_examples, "output_dir": str(output_dir),
                **settings_lib.input_file_hashes(config)}  # merged shards must agree on them
    sha256 = weights_sha256(model.variables)
    fingerprint = _fingerprint(config, sha256, splits, data)

    with hold_run_lock(output_dir):
        refuse_other_kind(output_dir, EVALUATION)
        state = load_state(output_dir, fingerprint, chosen.shard_indices) if config.resume \
            else None
        if state is None:
            state = _fresh_state(fingerprint, splits.test, chosen.shard_indices, config.attacks,
                                 keep_adversarial=bool(config.save_adversarial),
                                 started_at=started_at)
        with environment_errors(output_dir):
            clean_temporaries(output_dir, (REPORT_FILE, STATE_FILE, MARKER_FILE))
            write_marker(output_dir, EVALUATION)
        warnings = _check_and_attack(model, splits, chosen, state, config, output_dir, threat)

        complete = state.done_batches.issuperset(chosen.batches)
        records = state.records.finished()
        shard = {"index": config.shard_index, "count": config.num_shards,
                 "batches": [chosen.batches[0], chosen.batches[-1] + 1]}
        result = {**_header(model, sha256, splits, data, settings, shard, threat),
                  **report_lib.summarise(records), "warnings": warnings, "complete": complete,
                  "started_at": state.started_at, "finished_at": _now(),
                  "wall_seconds": time.perf_counter() - started}
        with _failing_midway(output_dir, state):
            write_json(os.path.join(output_dir, REPORT_FILE), result)
            if result.get("robust_acc_by_k"):
                plot_robust_vs_k(os.path.join(output_dir, ROBUST_VS_K_FILE), result)
            if config.save_adversarial and complete:
                write_adversarial(config.save_adversarial, splits.test.images_at(records.indices),
                                  state.adversarial, records, splits.test.class_names,
                                  _predictor(model.model_fn))
    return result


def _check_fits(model, splits, eps, threat):
    shape = splits.test.image_shape
    expected = model.image_shape
    if any(want is not None and want != have for want, have in zip(expected, shape)):
        raise UsageError(f"the model takes {_shape(expected)} images but {splits.name} has "
                         f"{_shape(shape)}; pass the data flags the model was trained with")
    classes = model.num_classes(shape)
    if classes != splits.test.num_classes:
        raise UsageError(f"the model gives {classes} class scores but {splits.name} has "
                         f"{splits.test.num_classes} classes; pass the data flags the model was "
                         "trained with")
    check_eps_fits(shape, eps=eps)
    threats.check_budget(threat, "eps", eps)


def _shape(shape):
    return "x".join("?" if size is None else str(size) for size in shape)


def _fingerprint(config, sha256, splits, data):
    """Everything that changes what a run computes: a saved state must match it to be resumed.
    Input files (a group map) count by their content, not only by their path."""
    return {**result_settings(config), **settings_lib.input_file_hashes(config),
            "data": result_settings(data),
            "attacks": list(config.attacks), "model_sha256": sha256,
            "dataset": splits.name, "test_images": len(splits.test),
            "keep_adversarial": bool(config.save_adversarial)}


def _fresh_state(fingerprint, test, shard_indices, attacks, *, keep_adversarial, started_at):
    records = Records.empty(shard_indices, test.labels[shard_indices], attacks)
    adversarial = test.float_images(shard_indices) if keep_adversarial else None
    return EvalState(fingerprint, records, set(), adversarial, started_at)


def _check_and_attack(model, splits, chosen, state, config, output_dir, threat):
    """The sanity checks (their warnings are returned), then the attacks; Ctrl-C or SIGTERM
    saves the state and stops with one line (exit status 130 or 143)."""
    try:
        with terminate_as_interrupt():
            with deferred_interrupts():  # a few images' forward pass; see its docstring
                warnings = _warnings(model, splits, chosen.indices[:PROBE_IMAGES])
            _attack_pending(model.model_fn, splits.test, chosen, state, config, output_dir,
                            threat)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM as a job scheduler stops a job
        with _failing_midway(output_dir, state):
            state.save(output_dir)  # a batch cut short is not done: it is attacked again
        raise stopped(interrupt, f"evaluation stopped after {_batches_done(state, chosen)}; "
                      f"its state is saved in {os.path.join(output_dir, STATE_FILE)}; continue "
                      "with --resume") from None
    except RunFailed:
        raise
    except READ_ERRORS as error:  # a streamed test image or record that stopped reading
        unreadable = (splits.test.unreadable(error, chosen.indices)
                      if isinstance(splits.test, StreamedSplit) else None)
        if unreadable is None:
            raise
        with _failing_midway(output_dir, state):
            state.save(output_dir)
        raise RunFailed(f"{unreadable}; evaluation stopped after {_batches_done(state, chosen)}; "
                        f"its state is saved in {os.path.join(output_dir, STATE_FILE)}; repair "
                        "or restore it and continue with --resume") from None
    return warnings


def _attack_pending(model_fn, test, chosen, state, config, output_dir, threat):
    """Attacks this shard's unfinished batches (at most ``max_batches``), saving the state at
    most once a minute and once at the end (the caller saves it when Ctrl-C stops the run)."""
    pending = [b for b in chosen.batches if b not in state.done_batches]
    if config.max_batches is not None:
        pending = pending[:config.max_batches]
    cascade = SparseAutoAttack(model_fn, eps=config.eps, iterations=config.iterations,
                               queries=config.queries, seed=config.seed,
                               patience=config.patience, threat=threat)
    with _failing_midway(output_dir, state), _progress_bar(len(chosen.shard_indices), state,
                                                           config.progress) as bar:
        for batch in pending:
            start, stop = chosen.bounds[batch]
            _attack_batch(cascade, test, chosen.indices[start:stop],
                          slice(start - chosen.start, stop - chosen.start), state,
                          config.attacks, bar)
            state.done_batches.add(batch)
            bar.update(stop - start)
            state.save_if_due(output_dir)
        state.save(output_dir)


@contextlib.contextmanager
def _failing_midway(output_dir, state):
    """A write that fails once attacks have run (a full disk) stops with exit status 1, naming
    the last state saved."""
    try:
        yield
    except OSError as error:
        raise RunFailed(f"{describe(error, output_dir)}; the state last saved in "
                        f"{os.path.join(output_dir, STATE_FILE)} is kept ({state.saved_batches} "
                        "batches done); fix that and continue with --resume") from None


def _batches_done(state, chosen):
    done = len(state.done_batches & set(chosen.batches))
    return f"{done} of {len(chosen.batches)} batches"


def _attack_batch(cascade, test, indices, positions, state, attacks, bar):
    """Runs every attack on one batch and records, per image, which stage broke it."""
    images = test.float_images(indices)
    labels = test.labels[indices].astype(np.int32)
    taken = np.zeros(len(indices), bool)  # images whose saved adversarial is already chosen
    for name in attacks:
        def show(info, name=name):
            bar.set_postfix_str(f"{name}/{info['stage']}: broke {info['broken']} of "
                                f"{info['attacked']}", refresh=False)

        result = cascade([(images, labels, indices.astype(np.int64))], attacks=name,
                         keep_adversarial=state.adversarial is not None, progress=show)
        state.records.broken_by[name][positions] = result.broken_by
        if result.min_pixels is not None:
            state.records.min_pixels[name][positions] = result.min_pixels
        for stage, seconds in result.report["seconds"].items():
            state.records.seconds[name][stage] += seconds
        if state.adversarial is not None:  # the first attack that broke an image supplies it
            fresh = (result.broken_by > 0) & ~taken
            batch_adversarial = state.adversarial[positions]  # a view: writes go to the state
            batch_adversarial[fresh] = result.adversarial[fresh]
            taken |= fresh


def _warnings(model, splits, probe):
    """Sanity checks on the probe images, plus a data set the run was not trained on."""
    test = splits.test
    found = sanity_warnings(model.model_fn, test.float_images(probe),
                            test.labels[probe])
    trained_on = (model.run_summary or {}).get("dataset")
    if trained_on and trained_on != splits.name:
        found.append(f"the model was trained on {trained_on!r} but is evaluated on "
                     f"{splits.name!r}")
    for warning in found:
        logging.warning("%s", warning)
    return found


def _header(model, sha256, splits, data, settings, shard, threat):
    """The report's fixed part: the model, data, budget and settings."""
    return {
        "threat_model": "L0",
        "k": settings["eps"],
        "k_unit": threat.unit,
        "k_note": report_lib.k_note(threat),
        "threat": threat.settings(settings["eps"]),
        "units": {**report_lib.UNITS, "k": threat.unit},
        "architecture": model.architecture,
        "dataset": splits.name,
        "budget": {"iterations": settings["iterations"], "queries": settings["queries"],
                   "patience": settings["patience"]},
        "budget_name": budget_name(settings["iterations"], settings["queries"]),
        "settings": settings,
        "stage_codes": {"clean_mistake": 0, "survived": -1, **STAGE_CODES},
        "cascades": {name: list(resolve_stages(name)) for name in settings["attacks"]},
        "model": {"path": model.path, "format": model.format, "sha256": sha256,
                  "run_dir": model.run_dir, "run_config": model.run_config},
        "data": {"name": splits.name, "test_images": len(splits.test),
                 "image_shape": list(splits.test.image_shape),
                 "num_classes": splits.test.num_classes,
                 "config": dataclasses.asdict(data)},
        "shard": shard,
        "environment": {"tensorflow_version": tf.__version__, "keras_version": keras.__version__,
                        "numpy_version": np.__version__,
                        "python_version": platform.python_version(),
                        "devices": [d.name for d in tf.config.list_logical_devices()]},
    }


def _predictor(model_fn):
    def predict(images):
        return np.argmax(tf.cast(model_fn(tf.constant(images, tf.float32)), tf.float32).numpy(), -1)

    return predict


def _progress_bar(total, state, enabled):
    from tqdm import tqdm

    done = int(np.sum(state.records.done))
    return tqdm(total=total, initial=done, unit="img", desc="attacking", disable=not enabled,
                file=sys.stderr, dynamic_ncols=True)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
