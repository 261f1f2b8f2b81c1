"""Keras callbacks of a training run: per-step summaries, epoch checkpoints, epoch timing.

``StepSummaries``, ``RobustValidation`` and ``CatastrophicOverfittingMonitor`` are public
(``tf_fastls0.RobustValidation`` ...): add them to your own ``fit``, on a
``SparseAdversarialModel`` or on any Keras classifier (the monitor also needs the training
attack's accuracy, ``adversarial_accuracy``, which ``SparseAdversarialModel`` logs); put
``RobustValidation`` before the monitor, which reads its ``val_robust_accuracy``.

The callbacks with batch hooks read no device value on a step that does not need it: their
step numbers come from the optimizer's step counter read once per epoch, plus the batch number
(``_StepCounter``), and ``StepSummaries`` tells the trainer which steps it logs, so that only
those compute the exact gradient norm. They are ``async_safe`` where that holds (``Checkpointing``
only without step checkpoints, which must hold the state after exactly their step;
``StopWhenRequested`` looks before each step, on the main thread). Keras 3's TensorFlow backend
does not use that (``IS_THREAD_SAFE = False``, tensorflow/tensorflow#78338): its ``CallbackList``
turns every step's logs into Python numbers on the main thread, whatever the callbacks, so the
host still waits for each step there; ``--steps_per_execution`` (Keras' ``steps_per_execution``)
makes that once per group of steps, and these callbacks count steps right with groups too.
"""

import math
import time
import warnings

import keras
import numpy as np
from absl import logging
import tensorflow as tf

from tf_fastls0.training import checkpoints


class _StepCounter(keras.callbacks.Callback):
    """The optimizer step reached after batch ``batch`` of the epoch: the counter read once, when
    the epoch begins (on the main thread), plus the batches since. Every batch is one optimizer
    step (a float16 step skipped for overflow still counts).

    With ``steps_per_execution`` N > 1 Keras calls the batch hooks once per N steps, with the
    group's last batch number, which runs past the epoch for its last, shorter group; the step
    is clamped to the epoch's end. ``crossed(step, every)`` says whether a multiple of ``every``
    lies among the steps since the last call, so that a callback acting every ``every`` steps
    acts at the end of the group holding that step (the same step when N divides ``every``)."""

    _epoch_start = None
    _last_step = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._last_step = int(self.model.optimizer.iterations.numpy())

    def step_after(self, batch):
        if self._epoch_start is None:  # a hook called outside fit's epochs
            return int(self.model.optimizer.iterations.numpy())
        steps = (self.params or {}).get("steps") or batch + 1
        return self._epoch_start + min(batch + 1, steps)

    def crossed(self, step, every):
        """Whether a multiple of ``every`` is in (last step seen, ``step``]; remembers ``step``."""
        last, self._last_step = self._last_step, step
        if last is None:
            return step % every == 0
        return step // every > last // every


class StepSummaries(_StepCounter):
    """Writes every logged value to TensorBoard every ``every`` optimizer steps, under ``step/``
    (with ``steps_per_execution`` N, at the end of the group holding each such step, labelled with
    the group's last step, whose values they are).

    Keras' own TensorBoard callback counts batches from zero in each ``fit`` call; this one uses
    the optimizer's step counter, so a resumed run's curves continue where they stopped. It tells
    the model (a ``SparseAdversarialModel``) which steps it logs, so that only they compute the
    exact gradient norm (``SparseAdversarialModel.log_every_steps``).
    """

    async_safe = True

    def __init__(self, log_dir, every):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.every = every

    def on_train_begin(self, logs=None):
        if hasattr(self.model, "log_every_steps"):
            self.model.log_every_steps = self.every

    def on_train_batch_end(self, batch, logs=None):
        step = self.step_after(batch)
        if not self.crossed(step, self.every):
            return
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"step/{name}", float(value))

    def on_train_end(self, logs=None):
        self.writer.flush()


class Checkpointing(_StepCounter):
    """Saves the run's state after every epoch, and every ``every_steps`` optimizer steps if set
    (with ``steps_per_execution`` N, after the group holding each such step).

    Checkpoints are numbered by optimizer step, the one counter a resumed run needs. The
    ``tf.train.CheckpointManager`` writes the new files before it rewrites its index, so a run
    killed while saving still finds the previous checkpoint intact; a save that fails (a full
    disk) leaves no partial files and stops the run; a state whose loss is not finite is never
    saved over the last good one.
    """

    def __init__(self, manager, every_steps=0):
        super().__init__()
        self.manager = manager
        self.every_steps = every_steps

    @property
    def async_safe(self):
        """Without step checkpoints its batch hook does nothing; with them it must run between
        the steps, on the main thread."""
        return not self.every_steps

    def on_train_batch_end(self, batch, logs=None):
        if not self.every_steps:
            return
        step = self.step_after(batch)
        if self.crossed(step, self.every_steps):
            self._save(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._save(int(self.model.optimizer.iterations.numpy()), logs)

    def _save(self, step, logs):
        if not self.model.stop_training:
            self.save_now(step, logs)

    def save_now(self, step, logs=None):
        """Saves checkpoint ``step`` unless it is saved already or the state is not finite."""
        if not _finite(logs) or not _finite_weights(self.model):
            return
        if self.manager.latest_checkpoint and self.manager.latest_checkpoint.endswith(f"-{step}"):
            return
        checkpoints.save(self.manager, step)


class StopWhenRequested(keras.callbacks.Callback):
    """After Ctrl-C or SIGTERM (a set ``interrupts.StopRequest``), saves a checkpoint at the
    step reached and raises ``KeyboardInterrupt`` (``Terminated`` for SIGTERM) from here, between
    steps, where unwinding touches no TensorFlow state half-way through an operation.

    It looks before each step (and at the epoch's end), on the main thread: the state then is
    that after the step before, and its checkpoint is that step's. It has no batch-end hook, so
    it is ``async_safe``."""

    async_safe = True

    def __init__(self, request, checkpointing):
        super().__init__()
        self.request, self.checkpointing = request, checkpointing

    def on_train_batch_begin(self, batch, logs=None):
        self._stop_if_requested()

    def on_test_batch_begin(self, batch, logs=None):
        self._stop_if_requested()

    def on_epoch_end(self, epoch, logs=None):
        self._stop_if_requested()

    def _stop_if_requested(self, logs=None):
        if self.request.requested:
            self.checkpointing.save_now(int(self.model.optimizer.iterations.numpy()), logs)
            raise self.request.interrupt()  # KeyboardInterrupt, or Terminated for SIGTERM


def _finite_weights(model):
    return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(w)) for w in model.trainable_weights]))


def _finite(logs):
    return all(math.isfinite(float(value)) for value in (logs or {}).values()
               if isinstance(value, (int, float)) or hasattr(value, "__float__"))


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch (training and validation), kept for the summary."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if logs is not None:
            logs["epoch_seconds"] = self.seconds[-1]


VALIDATION_ITERATIONS = 20  # RobustValidation's budget, small enough for every epoch
VALIDATION_QUERIES = 100


class RobustValidation(keras.callbacks.Callback):
    """Robust accuracy on a fixed validation subset after every epoch, logged as
    ``val_robust_accuracy``: the Sparse-AutoAttack cascade of ``evaluate``
    (``attacks.SparseAutoAttack``: sPGD unprojected, then projected, each for ``iterations``
    iterations, then Sparse-RS with ``queries`` queries, each on the images the ones before left
    unbroken; 0 queries: sPGD only) at the evaluation budget ``eps`` but a small iteration and
    query budget; ``threat``: a structured ``threats.Threat`` (``eps`` then counts its
    structures), None for pixels. ``steps`` and ``rs_queries`` are the old names of
    ``iterations`` and ``queries`` (deprecated)."""

    def __init__(self, images, labels, eps, iterations=VALIDATION_ITERATIONS, batch_size=128,
                 seed=0, queries=VALIDATION_QUERIES, threat=None, *, steps=None,
                 rs_queries=None):
        super().__init__()
        self.threat = threat
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        self.images, self.labels = images.astype(np.float32), np.asarray(labels, np.int32)
        self.eps, self.batch_size, self.seed = eps, batch_size, seed
        self.iterations = _renamed(iterations, steps, "iterations", "steps",
                                   VALIDATION_ITERATIONS)
        self.queries = _renamed(queries, rs_queries, "queries", "rs_queries", VALIDATION_QUERIES)
        self._cascade = None

    def on_epoch_end(self, epoch, logs=None):
        if self._cascade is None:
            from tf_fastls0.attacks import SparseAutoAttack

            network = getattr(self.model, "network", self.model)  # the classifier alone
            self._cascade = SparseAutoAttack(
                lambda images: network(images, training=False), eps=self.eps,
                iterations=self.iterations, queries=self.queries, seed=self.seed,
                threat=self.threat)
        batches = [(self.images[start:start + self.batch_size],
                    self.labels[start:start + self.batch_size])
                   for start in range(0, len(self.labels), self.batch_size)]
        result = self._cascade(batches, keep_adversarial=False)
        if logs is not None:
            logs["val_robust_accuracy"] = result.report["robust_accuracy"]


def _renamed(value, old_value, name, old_name, default):
    """``RobustValidation``'s keyword ``name``, or its old spelling (``DeprecationWarning``)."""
    if old_value is None:
        return value
    warnings.warn(f"RobustValidation({old_name}=...) is deprecated: use {name}=",
                  DeprecationWarning, stacklevel=3)
    if value != default:
        raise ValueError(f"RobustValidation: give {name}= only ({old_name}= is its old name)")
    return old_value


class CatastrophicOverfittingMonitor(keras.callbacks.Callback):
    """Flags catastrophic overfitting: validation robust accuracy falls below ``(1 - robust_drop)``
    of its best while the accuracy against the training attack stays within ``train_margin`` of its
    best. Logs a warning and a ``catastrophic_overfitting`` TensorBoard marker (1 at the epoch it
    is flagged, else 0), and stops training if asked."""

    def __init__(self, log_dir=None, robust_drop=0.5, train_margin=0.1, stop=False):
        super().__init__()
        self.writer = (tf.summary.create_file_writer(log_dir) if log_dir
                       else tf.summary.create_noop_writer())
        self.robust_drop, self.train_margin, self.stop = robust_drop, train_margin, stop
        self.best_robust = self.best_train = 0.0
        self.flagged_epochs = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "val_robust_accuracy" not in logs or "adversarial_accuracy" not in logs:
            return
        robust, train = float(logs["val_robust_accuracy"]), float(logs["adversarial_accuracy"])
        self.best_robust, self.best_train = max(self.best_robust, robust), max(self.best_train, train)
        flagged = (robust < (1.0 - self.robust_drop) * self.best_robust
                   and train >= self.best_train - self.train_margin)
        with self.writer.as_default(step=epoch):
            tf.summary.scalar("catastrophic_overfitting", float(flagged))
            if flagged:
                tf.summary.text("catastrophic_overfitting",
                                f"epoch {epoch}: robust accuracy {robust:.3f} (best "
                                f"{self.best_robust:.3f}), training-attack accuracy {train:.3f}")
        self.writer.flush()
        logs["catastrophic_overfitting"] = float(flagged)
        if flagged:
            self.flagged_epochs.append(epoch)
            logging.warning("catastrophic overfitting at epoch %d: validation robust accuracy %.3f "
                            "(best %.3f) while the training-attack accuracy is %.3f", epoch, robust,
                            self.best_robust, train)
            if self.stop:
                self.model.stop_training = True
