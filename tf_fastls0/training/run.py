"""One training run, start to end: data, model, fit, checkpoints, export, summary."""

import dataclasses
import functools
import json
import math
import os
import platform
import sys
import tempfile
import time

import keras
import tensorflow as tf

from tf_fastls0 import data as data_lib
from tf_fastls0.attacks import threats
from tf_fastls0.attacks.budget import check_eps_fits
from tf_fastls0.data.image_set import RESIZED_CROP
from tf_fastls0.data.streamed_split import READ_ERRORS, unreadable_example
from tf_fastls0.models import build_model, initial_weights, precision
from tf_fastls0.training.config import KERAS_SUFFIX
from tf_fastls0.training import callbacks as callbacks_lib
from tf_fastls0.training import checkpoints, hparams, run_folder
from tf_fastls0.training.export import export_network
from tf_fastls0.training.optimizer import loss_scaled, optimizer_named
from tf_fastls0.training.recipe import recipe_for
from tf_fastls0.training.schedule import schedule_named
from tf_fastls0.training.strategies import is_chief, make_strategy
from tf_fastls0.training.strategy_loop import fit_with_strategy
from tf_fastls0.training.sparse_adversarial_model import SparseAdversarialModel
from tf_fastls0.utils import interrupts
from tf_fastls0.training.run_folder import SUMMARY_FILE
from tf_fastls0.utils.atomic import write_json
from tf_fastls0.utils.cli import RunFailed, UsageError, stopped
from tf_fastls0.utils.output_paths import check_output_dir, describe, environment_errors
from tf_fastls0.utils.run_lock import hold_run_lock


class TrainingDiverged(RunFailed):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def train_and_evaluate(config):
    """Trains as ``config`` says and returns the summary it writes to ``summary.json``."""
    started = time.perf_counter()
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(config.strategy)
    config = resolve_for_strategy(config, strategy)
    chief = is_chief(strategy)
    if chief:
        check_output_dir(config.output_dir)
    splits = data_lib.load_data(config.data)
    _check_fits(config, splits)
    if not chief:
        plan = run_folder.RESUME if config.resume else run_folder.FRESH
        return _train(_precision_for(config, plan), strategy, splits, chief, plan, started)
    with hold_run_lock(config.output_dir):
        listing = run_folder.image_listing(config)
        plan = run_folder.plan(config, listing)
        return _train(_precision_for(config, plan), strategy, splits, chief, plan, started,
                      listing)


def _precision_for(config, plan):
    """``resolve_precision`` for a run that resumes the folder's run or starts afresh, and the
    start line saying what it chose and why."""
    started = run_folder.started_precision(config.output_dir) if plan == run_folder.RESUME \
        else None
    config = resolve_precision(config, started)
    print(f"mixed precision: {config.mixed_precision} ({config.mixed_precision_reason})")
    return config


def resolve_precision(config, started=None):
    """The config with ``mixed_precision`` decided and ``mixed_precision_reason`` saying why: a
    value given stays; ``auto`` takes ``started`` (the ``precision.Choice`` of the run being
    resumed: a run keeps the precision it started with), else the device's
    (``precision.auto_precision``)."""
    if config.mixed_precision != precision.AUTO:
        return config if config.mixed_precision_reason else dataclasses.replace(
            config, mixed_precision_reason=precision.GIVEN)
    if started is None:
        choice = precision.auto_precision()
    elif started.reason.startswith(precision.KEPT):
        choice = started
    else:
        choice = dataclasses.replace(started, reason=f"{precision.KEPT}{started.reason}")
    return dataclasses.replace(config, mixed_precision=choice.precision,
                               mixed_precision_reason=choice.reason)


def _train(config, strategy, splits, chief, plan, started, listing=None):
    with strategy.scope():
        trainer, optimizer = build_trainer(config, splits)
        checkpoint = make_checkpoint(trainer, optimizer)
    shared_checkpoints = os.path.join(config.output_dir, run_folder.CHECKPOINT_DIR)
    latest = None
    if plan == run_folder.RESUME:
        latest = checkpoints.restore_newest_complete(checkpoint, shared_checkpoints,
                                                     repair_index=chief)
    if chief:
        with environment_errors(config.output_dir):
            if plan == run_folder.REPLACE:
                run_folder.clear(config.output_dir)
            run_folder.claim(config, listing)
            hparams.write(config)
    manager = tf.train.CheckpointManager(checkpoint, _checkpoint_dir(config, chief), max_to_keep=3,
                                         checkpoint_name=checkpoints.CHECKPOINT_NAME)
    step = int(optimizer.iterations.numpy())
    if latest:
        print(f"resuming from {latest} (step {step})")
    total_steps = config.epochs * data_lib.steps_per_epoch(splits.train, config.batch_size)
    finished = _finished_summary(config.output_dir) if step >= total_steps else None
    if finished:
        print(f"{config.output_dir} already holds a finished run of {config.epochs} epochs")
        return finished

    eval_data = data_lib.evaluation_dataset(splits.test, config.batch_size)
    timer = callbacks_lib.EpochTimer()
    try:
        if step < total_steps:
            final_metrics = _fit_until_done_or_stopped(trainer, strategy, config, splits,
                                                       eval_data, manager, timer)
        else:  # killed between the last checkpoint and the export: only the export is left to do
            final_metrics = {f"val_{name}": float(value) for name, value in
                             trainer.evaluate(eval_data, return_dict=True, verbose=0).items()}
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (exit status 143)
        raise stopped(interrupt, f"training stopped at step {int(optimizer.iterations.numpy())}; "
                      f"{_last_checkpoint(manager)}; run the same command again to "
                      "resume") from None
    except RunFailed:
        raise
    except READ_ERRORS as error:  # a streamed file or record that stopped reading
        unreadable = unreadable_example(splits, error)
        if unreadable is None:
            raise
        raise RunFailed(f"{unreadable}; training stopped at step "
                        f"{int(optimizer.iterations.numpy())}; {_last_checkpoint(manager)}; "
                        "repair or restore it and run the same command again to resume") from None
    if not all(math.isfinite(value) for value in final_metrics.values()):
        raise TrainingDiverged(
            f"the loss became NaN or infinite by step {int(optimizer.iterations.numpy())}; training stopped "
            f"and nothing was exported; the last good checkpoint is {manager.latest_checkpoint}")

    summary = _summary(config, splits, final_metrics, timer, time.perf_counter() - started)
    if chief:
        _export(trainer.network, config, splits, manager, summary)
    else:  # other workers take part in the export's collectives, into a folder they then drop
        with tempfile.TemporaryDirectory() as scratch:
            export_network(trainer.network, scratch)
    return summary


def _export(network, config, splits, manager, summary):
    """Exports, runs the final evaluation and writes ``summary`` (adding their paths) to
    summary.json; a write that fails (a full disk) stops the run naming the checkpoint to export
    from when it is run again."""
    try:
        summary["saved_model"], summary["keras_model"] = export_network(network,
                                                                        config.output_dir)
        if config.final_eval != "none":
            summary["final_eval"] = _final_evaluation(config, splits)
            hparams.write_final_evaluation(config, summary["final_eval"], step=config.epochs)
        write_json(os.path.join(config.output_dir, SUMMARY_FILE), summary)
    except (OSError, tf.errors.OpError) as error:
        raise RunFailed(f"{describe(error, config.output_dir)}; training is done, "
                        f"{_last_checkpoint(manager)}; fix that and run the same command again to "
                        "export") from None


def _last_checkpoint(manager):
    latest = checkpoints.latest(manager.directory)
    return f"the last checkpoint is {latest}" if latest else "no checkpoint was written yet"


def _finished_summary(output_dir):
    """The summary of a finished run, or None if there is none or it cannot be read (then the
    export is done again)."""
    path = os.path.join(output_dir, SUMMARY_FILE)
    if not os.path.exists(path):
        return None
    try:
        summary = read_summary(output_dir)
    except (OSError, ValueError) as error:
        print(f"warning: {path} cannot be read ({error}); exporting again", file=sys.stderr)
        return None
    return summary if isinstance(summary, dict) else None


def _final_evaluation(config, splits):
    """Sparse-AutoAttack on the exported model at ``--eval_eps`` with the named budget."""
    from tf_fastls0.evaluation import BUDGETS, EvalConfig, evaluate_model

    output_dir = os.path.join(config.output_dir, f"final_eval_{config.final_eval}")
    evaluation = EvalConfig(model=config.output_dir, data=config.data, output_dir=output_dir,
                            eps=config.eval_eps, batch_size=config.batch_size, seed=config.seed,
                            threat_model=config.threat_model,
                            progress=_verbosity(config) == 1, **BUDGETS[config.final_eval])
    report = evaluate_model(evaluation, splits)
    return {"report": os.path.join(output_dir, "report.json"), "budget": config.final_eval,
            "k": config.eval_eps, "k_unit": report["k_unit"], "clean_acc": report["clean_acc"],
            "robust_acc": report["robust_acc"], "units": "percent"}


def _checkpoint_dir(config, chief):
    """The chief checkpoints into the run folder. Under MultiWorkerMirroredStrategy every worker
    must save too (saving may read distributed variables collectively), each into its own
    scratch folder; they resume from the chief's checkpoints, which all workers can read."""
    shared = os.path.join(config.output_dir, "checkpoints")
    if chief:
        return shared
    return tempfile.mkdtemp(prefix="tf_fastls0_worker_ckpt_")


def _fit_until_done_or_stopped(trainer, strategy, config, splits, eval_data, manager, timer):
    """``_fit``, where the first Ctrl-C stops training after the current step and saves a
    checkpoint there. Multi-worker runs keep the immediate stop: one worker leaving the step
    loop early would leave the others waiting in a collective."""
    checkpointing = callbacks_lib.Checkpointing(manager, config.checkpoint_every_steps)
    if config.strategy == "multi_worker":
        return _fit(trainer, strategy, config, splits, eval_data, checkpointing, timer, [])
    notice = "stopping after this step and saving a checkpoint (Ctrl-C again to stop at once)"
    with interrupts.stop_at_step_end(notice) as request:
        metrics = _fit(trainer, strategy, config, splits, eval_data, checkpointing, timer,
                       [callbacks_lib.StopWhenRequested(request, checkpointing)])
        if request.requested:  # pressed after the last step's callbacks: its checkpoint is saved
            raise request.interrupt()
    return metrics


def _fit(trainer, strategy, config, splits, eval_data, checkpointing, timer, stoppers):
    """Runs the remaining steps; a run resumed mid-epoch first finishes that epoch."""
    steps = data_lib.steps_per_epoch(splits.train, config.batch_size)
    epoch, done_in_epoch = divmod(int(trainer.optimizer.iterations.numpy()), steps)
    logs_dir = os.path.join(config.output_dir, "logs")
    callbacks = (stoppers + [keras.callbacks.TerminateOnNaN(), timer]
                 + _robustness_callbacks(config, splits, logs_dir)
                 + [keras.callbacks.TensorBoard(logs_dir, update_freq="epoch", write_graph=False),
                    callbacks_lib.StepSummaries(os.path.join(logs_dir, "train"),
                                                config.log_every_steps),
                    checkpointing])
    history = None
    while epoch < config.epochs and not trainer.stop_training:
        # One fit call for a partial first epoch, one for all the whole epochs after it; one per
        # epoch with several steps per execution, whose last group of an epoch would otherwise
        # run on into the next epoch's batches (Keras groups within a fit call, not an epoch).
        one_epoch = done_in_epoch or trainer.steps_per_execution > 1
        last_epoch = epoch + 1 if one_epoch else config.epochs
        data = data_lib.training_dataset(splits.train, config.batch_size, last_epoch, config.seed,
                                         config.augment, start_epoch=epoch,
                                         skip_steps=done_in_epoch)
        fit = functools.partial(trainer.fit, shuffle=False) if config.strategy != "multi_worker" \
            else functools.partial(fit_with_strategy, trainer, strategy)
        history = fit(data, epochs=last_epoch, initial_epoch=epoch, steps_per_epoch=steps -
                      done_in_epoch, validation_data=eval_data, verbose=_verbosity(config),
                      callbacks=callbacks)
        epoch, done_in_epoch = last_epoch, 0
    return {name: float(values[-1]) for name, values in history.history.items()}


def _robustness_callbacks(config, splits, logs_dir):
    """Per-epoch robust validation and the catastrophic-overfitting monitor (adversarial methods)."""
    val = config.validation
    if not config.method_entry.adversarial or not val.val_robust_examples:
        return []
    subset = splits.test.subset(val.val_robust_examples, seed=config.seed)
    validation = callbacks_lib.RobustValidation(
        subset.float_images(), subset.labels, config.eval_eps,
        val.val_attack_iterations, config.batch_size, config.seed, val.val_queries,
        config.threat_model.structured(splits.image_shape))
    monitor = callbacks_lib.CatastrophicOverfittingMonitor(
        os.path.join(logs_dir, "validation"), val.co_robust_drop, val.co_train_margin,
        val.stop_on_co)
    return [validation, monitor]


def build_trainer(config, splits):
    """The compiled ``SparseAdversarialModel`` and its optimizer for ``config`` (not yet
    trained), in the current strategy's scope; benchmarks and tests time or step it directly."""
    config = resolve_precision(resolve_for_strategy(config, tf.distribute.get_strategy()))
    keras.utils.set_random_seed(config.seed)  # the same initial weights for the same seed
    network = build_network(config, splits.image_shape, splits.num_classes)
    if config.init_from:
        initial_weights.load_into(network, config.init_from)
    network = precision.with_policy(network, config.mixed_precision)
    steps = data_lib.steps_per_epoch(splits.train, config.batch_size)
    trainer = SparseAdversarialModel.for_run(
        network, config, steps, splits.image_shape, train_labels=splits.train.labels,
        num_classes=splits.num_classes, augment=config.augment)
    schedule = schedule_named(config.lr_schedule, config.learning_rate, config.epochs * steps,
                              config.warmup_epochs * steps)
    optimizer = optimizer_named(config.optimizer, schedule, config.momentum, config.weight_decay)
    if config.mixed_precision == precision.FLOAT16:
        optimizer = loss_scaled(optimizer)
    trainer.compile(optimizer=optimizer, jit_compile=config.jit_compile,
                    steps_per_execution=config.steps_per_execution)
    optimizer.build(network.trainable_variables)  # so a checkpoint can restore its slots
    return trainer, optimizer


def build_network(config, image_shape, num_classes):
    """The classifier to train: a builder of ``MODELS`` by name, or a user's architecture from a
    ``.keras`` file (``--model=path.keras``), trained from the weights the file holds, or from
    fresh ones drawn by its layers' initializers with ``--reinitialize``."""
    if not config.model.endswith(KERAS_SUFFIX):
        return build_model(config.model, image_shape, num_classes, config.width,
                           config.sync_batchnorm)
    network = _load_architecture(config.model)
    if config.reinitialize:
        network = keras.models.clone_model(network)  # the same layers, fresh weights (seeded)
    want = (*image_shape, num_classes)
    have = (*network.input_shape[1:], network.output_shape[-1])
    if any(h is not None and h != w for h, w in zip(have, want)):
        raise UsageError(f"--model={config.model} takes {network.input_shape[1:]} images to "
                         f"{network.output_shape[-1]} classes; the data has {image_shape} images "
                         f"of {num_classes} classes")
    return network


def _load_architecture(path):
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except (OSError, ValueError, TypeError) as error:
        raise UsageError(f"--model={path} cannot be loaded: {str(error).splitlines()[0]}") \
            from None


def make_checkpoint(trainer, optimizer):
    """What a checkpoint holds: the network, the optimizer (slots and step), the method's state."""
    return tf.train.Checkpoint(network=trainer.network, optimizer=optimizer,
                               **trainer.checkpoint_items())


def _check_fits(config, splits):
    if config.model.endswith(KERAS_SUFFIX) and not os.path.isfile(config.model):
        raise UsageError(f"--model={config.model}: no such file")
    if config.batch_size > len(splits.train):
        raise UsageError(f"--batch_size={config.batch_size} is larger than the "
                         f"{len(splits.train)} training images")
    check_eps_fits(splits.image_shape, train_eps=config.train_eps, eval_eps=config.eval_eps)
    if config.carries_perturbations and config.augment and getattr(splits.train, "augmentation",
                                                  None) == RESIZED_CROP:
        raise UsageError("--method=atta carries perturbations through pad-crop-flip "
                         "augmentation only: turn --augment off for random-resized crops")
    threat = config.threat_model.structured(splits.image_shape)
    if threat is not None:
        threats.check_budget(threat, "train_eps", config.train_eps)
        threats.check_budget(threat, "eval_eps", config.eval_eps)


def resolve_for_strategy(config, strategy):
    """The config with ``sync_batchnorm`` decided: on whenever there is more than one replica
    (unless the user said otherwise), so several replicas give the same update as one."""
    if config.sync_batchnorm is not None:
        return config
    return dataclasses.replace(config, sync_batchnorm=strategy.num_replicas_in_sync > 1)


def _verbosity(config):
    if config.verbose is not None:
        return config.verbose
    return 1 if sys.stdout.isatty() else 2


def _summary(config, splits, final, timer, seconds):
    return {
        "config": config.to_dict(),
        "dataset": splits.name,
        "num_train_examples": len(splits.train),
        "num_eval_examples": len(splits.test),
        "num_classes": splits.num_classes,
        "final_metrics": final,
        "clean_accuracy": final.get("val_accuracy"),
        "robust_accuracy_validation": final.get("val_robust_accuracy"),
        "epoch_seconds": timer.seconds,
        "wall_seconds": seconds,
        "train_images_per_second": (len(splits.train) // config.batch_size * config.batch_size
                                    * len(timer.seconds) / max(sum(timer.seconds), 1e-9)),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "devices": [device.name for device in tf.config.list_logical_devices()],
    }


def read_summary(output_dir):
    with open(os.path.join(output_dir, SUMMARY_FILE)) as handle:
        return json.load(handle)
