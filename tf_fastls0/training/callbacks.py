"""Keras callbacks of a training run: per-step summaries, epoch checkpoints, epoch timing."""

import time

import keras
import tensorflow as tf


class StepSummaries(keras.callbacks.Callback):
    """Writes every logged value to TensorBoard every ``every`` optimizer steps, under ``step/``.

    Keras' own TensorBoard callback counts batches from zero in each ``fit`` call; this one uses
    the optimizer's step counter, so a resumed run's curves continue where they stopped.
    """

    def __init__(self, log_dir, every):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every:
            return
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"step/{name}", float(value))

    def on_train_end(self, logs=None):
        self.writer.flush()


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the run's state after every epoch through a ``tf.train.CheckpointManager``.

    The manager writes the new files first and only then rewrites its index file, so a run
    killed while saving still finds the previous checkpoint intact.
    """

    def __init__(self, manager, epoch_counter, enabled=True):
        super().__init__()
        self.manager = manager
        self.epoch_counter = epoch_counter
        self.enabled = enabled

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_counter.assign(epoch + 1)
        if self.enabled:
            self.manager.save(checkpoint_number=epoch + 1)


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
