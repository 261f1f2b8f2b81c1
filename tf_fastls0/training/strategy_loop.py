"""A tf.distribute loop over the trainer's own train_step and test_step, for multi-worker runs.

Keras 3's ``Model.fit`` does not drive ``MultiWorkerMirroredStrategy``: its batches reach the
step as ``PerReplica`` values (keras-team/keras#20585, open). Multi-worker runs therefore use this
loop. It runs the same ``train_step``/``test_step`` under ``strategy.run`` and calls the same Keras
callbacks at the same points as ``fit``, so logs, checkpoints and TensorBoard look the same.
"""

import keras
import tensorflow as tf


def fit_with_strategy(trainer, strategy, train_data, *, epochs, initial_epoch, steps_per_epoch,
                      validation_data, callbacks, verbose):
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=trainer, verbose=verbose,
        epochs=epochs, steps=steps_per_epoch)
    train_one, evaluate = _compiled_steps(trainer, strategy)
    batches = iter(strategy.experimental_distribute_dataset(train_data))
    trainer.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        _reset(trainer)
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = _as_floats(train_one(batches))
            callback_list.on_train_batch_end(step, logs)
            if trainer.stop_training:
                break
        epoch_logs = dict(logs)
        _reset(trainer)
        for batch in strategy.experimental_distribute_dataset(validation_data):
            validation = evaluate(batch)
        epoch_logs.update({f"val_{name}": value for name, value in _as_floats(validation).items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if trainer.stop_training:
            break
    callback_list.on_train_end(logs)
    return trainer.history


def _compiled_steps(trainer, strategy):
    @tf.function
    def train_one(iterator):
        return _mean_over_replicas(strategy, strategy.run(trainer.train_step, args=(next(iterator),)))

    @tf.function
    def evaluate(batch):
        return _mean_over_replicas(strategy, strategy.run(trainer.test_step, args=(batch,)))

    return train_one, evaluate


def _mean_over_replicas(strategy, logs):
    return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
            for name, value in logs.items()}


def _reset(trainer):
    for metric in trainer.metrics:
        metric.reset_state()


def _as_floats(logs):
    return {name: float(value) for name, value in logs.items()}
