"""Dropping finished images from an attack's working batch while its loop runs.

An iterative attack keeps, per image, a state whose rows stop changing once the image is broken.
Those rows still cost a model pass every iteration, so as soon as a smaller bucket holds the
active rows the loop gathers them (padded with finished rows up to the bucket: a power of two or
three quarters of one, so at most a third of a shrunk batch is padding and a compiled attack sees
at most ``2 log2(B) + 1`` batch sizes) and goes on with that smaller batch. A dropped row's
result is final, so it is written back into the full-batch result first.

Every attack here treats each image alone (keyed randomness, per-row updates, inference-mode
models), so compaction changes the cost and not the arithmetic of any image: with a model whose
rows get the same bits at every batch size, compacted and full-batch results are equal bit for bit
(``tests/attacks/test_compaction.py``). Real networks on a CPU are not such models: TensorFlow's
matmul and convolution kernels sum in an order chosen by the batch size, so a row's logits and
gradients can differ in the last bit between batch sizes (``benchmarks/compaction_fidelity.py``
measures which sizes). There compaction, with this schedule or the earlier powers-of-two one that
waited until half the batch had fallen, changes logits in the last bit and, rarely, the path of an
image's attack; which images are broken was unchanged in every case measured there and in the
cascade test on a CNN trained on CIFAR-10.
"""

import tensorflow as tf


def bucket(count):
    """The smallest working-batch size >= ``count`` (scalar int32 tensor, ``count >= 1``): a power
    of two or three quarters of one (1, 2, 3, 4, 6, 8, 12, 16, 24, ...), so at most a third of a
    shrunk batch is padding."""
    n = tf.cast(count, tf.int32) - 1
    for shift in (1, 2, 4, 8, 16):
        n = tf.bitwise.bitwise_or(n, tf.bitwise.right_shift(n, shift))
    power = n + 1
    three_quarters = power // 2 + power // 4
    return tf.where(tf.cast(count, tf.int32) <= three_quarters, three_quarters, power)


def is_due(active):
    """Whether the working batch (``active`` ``[b]`` bool) should shrink: a smaller bucket holds
    its active rows."""
    count = tf.reduce_sum(tf.cast(active, tf.int32))
    return bucket(tf.maximum(count, 1)) < tf.shape(active)[0]


def survivors_first(active):
    """Row indices of the next working batch: every active row (in order), then finished rows up
    to the bucket size."""
    count = tf.maximum(tf.reduce_sum(tf.cast(active, tf.int32)), 1)
    order = tf.argsort(tf.cast(tf.logical_not(active), tf.int32), stable=True)
    return order[:bucket(count)]


def gather_rows(structure, rows):
    """Every tensor of ``structure`` (leading batch axis) at ``rows``."""
    return tf.nest.map_structure(lambda t: tf.gather(t, rows), structure)


def scatter_rows(full, rows, part):
    """``full`` with its rows ``rows`` replaced by ``part`` (matching structures)."""
    indices = tf.reshape(rows, [-1, 1])
    return tf.nest.map_structure(lambda f, p: tf.tensor_scatter_nd_update(f, indices, p),
                                 full, part)


def open_batch_shapes(structure):
    """``tf.while_loop`` shape invariants: ``structure``'s shapes with the batch axis left open."""
    return tf.nest.map_structure(
        lambda t: tf.TensorShape([None]).concatenate(t.shape[1:]), structure)
