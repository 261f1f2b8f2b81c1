"""Dropping finished images from an attack's working batch while its loop runs.

An iterative attack keeps, per image, a state whose rows stop changing once the image is broken.
Those rows still cost a model pass every iteration, so once at most half of the working rows are
active the loop gathers the active rows (padded with finished ones up to a power of two, so a
compiled attack sees at most ``log2(B) + 1`` batch sizes) and goes on with that smaller batch. A
dropped row's result is final, so it is written back into the full-batch result first.

Why not sooner, or in finer buckets: the rows kept after their image fell are most of what a
stage costs above its active images (a first batch of 20 with 12 still attacked runs all 20),
but TensorFlow's CPU matmul does not give a row the same bits at every batch size, so a
different schedule of batch sizes changes results in the last bit (``tests/attacks/
test_compaction.py`` then fails): shrinking as soon as a smaller power of two holds the active
rows, or buckets of three times a power of two, were both tried and dropped for that.

Every attack here treats each image alone (keyed randomness, per-row updates, inference-mode
models), so compaction changes the cost and not the result (bit for bit at the batch sizes this
schedule gives, which the tests check; see above for why it is kept as it is).
"""

import tensorflow as tf


def bucket(count):
    """The smallest power of two >= ``count`` (scalar int32 tensor, ``count >= 1``)."""
    n = tf.cast(count, tf.int32) - 1
    for shift in (1, 2, 4, 8, 16):
        n = tf.bitwise.bitwise_or(n, tf.bitwise.right_shift(n, shift))
    return n + 1


def is_due(active):
    """Whether the working batch (``active`` ``[b]`` bool) should shrink: at most half of it is
    active and a smaller bucket holds the active rows."""
    size = tf.shape(active)[0]
    count = tf.reduce_sum(tf.cast(active, tf.int32))
    return tf.logical_and(count * 2 <= size, bucket(tf.maximum(count, 1)) < size)


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
