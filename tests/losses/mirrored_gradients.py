"""Run as a script (by test_global_reductions.py): objectives' gradients under MirroredStrategy on two
logical CPUs, summed over replicas, must equal the one-device gradients of the global batch.

Logical devices must be configured before TensorFlow initialises its devices, hence a separate
process. Exits non-zero (an AssertionError) on any mismatch.
"""

import functools

import numpy as np
import tensorflow as tf

from tf_fastls0.losses import distributed
from tf_fastls0.losses import objectives
from tf_fastls0.losses import soft_targets

FEATURES, CLASSES, BATCH = 6, 4, 8


def configure_two_cpus():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def make_batch():
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(BATCH, FEATURES)).astype(np.float32)
    adv = clean + rng.normal(size=(BATCH, FEATURES)).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=BATCH).astype(np.int32)
    # Soft rows moved away from one-hot by different amounts, so the SAT weights differ.
    rows = soft_targets.one_hot_targets(labels, CLASSES)
    for _ in range(3):
        rows = soft_targets.updated_targets(rows, rng.normal(size=(BATCH, CLASSES)) * 3, 0.6)
    return clean, adv, labels, rows.numpy()


def initial_weights():
    rng = np.random.default_rng(1)
    return (rng.normal(size=(FEATURES, CLASSES)).astype(np.float32),
            rng.normal(size=(CLASSES,)).astype(np.float32))


def loss_and_gradients(objective, variables, clean, adv, targets):
    kernel, bias = variables
    with tf.GradientTape() as tape:
        terms = objective(clean @ kernel + bias, adv @ kernel + bias, targets)
    return terms.total, tape.gradient(terms.total, variables)


def one_device_result(objective, batch):
    variables = [tf.Variable(w) for w in initial_weights()]
    return loss_and_gradients(objective, variables, *batch)


def mirrored_result(strategy, objective, batch, split):
    with strategy.scope():
        variables = [tf.Variable(w) for w in initial_weights()]
    bounds = [0, split, BATCH]

    def replica_slice(context):
        start, stop = bounds[context.replica_id_in_sync_group], bounds[context.replica_id_in_sync_group + 1]
        return tuple(tf.constant(part[start:stop]) for part in batch)

    shards = strategy.experimental_distribute_values_from_function(replica_slice)

    @tf.function
    def step(shard):
        def replica_fn(clean, adv, targets):
            assert distributed.num_replicas_in_sync() == 2
            return loss_and_gradients(objective, variables, clean, adv, targets)
        loss, grads = strategy.run(replica_fn, args=shard)
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        return total, [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in grads]

    return step(shards)


def main():
    configure_two_cpus()
    tf.get_logger().setLevel("ERROR")  # each combination traces its own step on purpose
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    clean, adv, labels, rows = make_batch()
    checked = 0
    for name, objective in objectives.OBJECTIVES.items():
        paper = {"tradeoff": {"alpha": 0.75}, "strades": {"beta": 6.0}}.get(name, {})  # others: defaults
        other = {"tradeoff": {"alpha": 0.3}, "strades": {"beta": 2.0}, "mart": {"beta": 2.0},
                 "label_smoothing": {"factor": 0.3}, "nuat": {"ramp_fraction": 0.5},
                 "advlc": {"top": 0.3},
                 "aaer": {"ce_weight": 2.0, "variation_weight": 10.0}}.get(name, {})
        for coefficient in (paper, other):
            fn = functools.partial(objective, **coefficient)
            for targets in (labels, rows):
                batch = (clean, adv, targets)
                expected_loss, expected_grads = one_device_result(fn, batch)
                for split in (4, 3):  # even and uneven shares of the global batch
                    loss, grads = mirrored_result(strategy, fn, batch, split)
                    np.testing.assert_allclose(loss.numpy(), expected_loss.numpy(), rtol=1e-5, atol=1e-6)
                    for got, want in zip(grads, expected_grads):
                        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
                    checked += 1
    print(f"checked {checked} objective/target/split combinations")


if __name__ == "__main__":
    main()
