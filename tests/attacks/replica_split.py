"""Run as a script (by test_replica_split.py): sPGD and Sparse-RS inside a MirroredStrategy replica
context on two logical CPUs give, image for image, what one device gives on the global batch.

Keyed randomness makes an image's attack independent of the replica it lands on. Logical devices
must be configured before TensorFlow initialises its devices, hence a separate process. Exits
non-zero (an AssertionError) on any mismatch.
"""

import numpy as np
import tensorflow as tf

from tf_fastls0.attacks import sparse_pgd, sparse_rs

SHAPE, CLASSES, BATCH = (6, 6, 3), 4, 8


def configure_two_cpus():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def model():
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(size=(int(np.prod(SHAPE)), 16)) * 0.3, tf.float32)
    w2 = tf.constant(rng.normal(size=(16, CLASSES)) * 0.25, tf.float32)
    return lambda x: tf.nn.relu(tf.reshape(x, [tf.shape(x)[0], -1]) @ w1) @ w2


def attacks(model_fn):
    def run(images, labels, keys, projected):
        pgd = sparse_pgd(model_fn, images, labels, eps=3, iterations=4, projected=projected,
                         keys=keys, seed=5, counter=7, patience=1)
        rs = sparse_rs(model_fn, images, labels, eps=3, queries=10, keys=keys, seed=5)
        return pgd.adversarial, rs.adversarial

    return run


def main():
    configure_two_cpus()
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(BATCH, *SHAPE)).astype(np.float32)
    model_fn = model()
    labels = model_fn(images).numpy().argmax(-1).astype(np.int32)
    keys = np.arange(100, 100 + BATCH)
    run = tf.function(attacks(model_fn))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, keys)).batch(BATCH)
    for projected in (False, True):
        single = run(images, labels, keys, tf.constant(projected))
        batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
        shared = strategy.run(run, args=(*batch, tf.constant(projected)))
        for name, one, many in zip(("sparse_pgd", "sparse_rs"), single, shared):
            many = np.concatenate([t.numpy() for t in strategy.experimental_local_results(many)])
            np.testing.assert_allclose(many, one.numpy(), atol=1e-6, err_msg=name)
            assert np.any(many != images), name
    print("replica split matches one device for sparse_pgd and sparse_rs")


if __name__ == "__main__":
    main()
