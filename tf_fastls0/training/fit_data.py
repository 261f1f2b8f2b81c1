"""What ``SparseAdversarialModel.fit`` does to a user's data: batches unpacked, examples indexed,
and every batch checked as it is read (see ``sparse_adversarial_model``'s docstring).

A batch is ``(images, labels, example_index)`` (the project's pipeline, or a user's indexed
data), ``((images, example_index), labels)`` (numpy arrays given to ``fit``: the index travels
inside ``x`` so that Keras' shuffle keeps it with its image), or ``(images, labels)`` for
``evaluate``.
"""

import tensorflow as tf

from tf_fastls0.utils.cli import UsageError

INDEX_ERROR = "example index beyond num_examples"
# What a later tf.data batch's checks say when they fail inside the step: tags the error's text
# carries, each with the batch's first bad values after it.
LABEL_CHECK, IMAGE_CHECK = "label beyond the classes", "pixels beyond 0 to 1"


def unpack(data):
    """``(images, labels, example_index or None)`` of a batch in any of the forms above."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("a batch must be (images, labels) or (images, labels, example_index)")
    if len(data) == 3:
        return tuple(data)
    inputs, labels = data
    if isinstance(inputs, (tuple, list)):
        return inputs[0], labels, inputs[1]
    return inputs, labels, None


def refuse_unbatched(spec):
    """One line for a data set of single examples: scalar labels beside images without their
    batch axis (a batch of one-channel images without a channel axis has labels [N])."""
    labels = spec[1]
    if isinstance(labels, tf.TensorSpec) and labels.shape.rank == 0:
        raise UsageError(f"fit: the data set's elements are single examples (images "
                         f"{list(spec[0].shape) if hasattr(spec[0], 'shape') else '?'}, one "
                         "label each): call .batch(batch_size) on it")


def refuse_weights(spec):
    """One line for batches whose third part is a float: a sample weight, not an index."""
    if len(spec) == 3 and isinstance(spec[2], tf.TensorSpec) and not spec[2].dtype.is_integer:
        raise UsageError(f"fit: the data set's third part is {spec[2].dtype.name}; it is read as "
                         "the example index (integers); sample weights are not supported: the "
                         "adversarial objectives weigh every example of a batch equally")


def checked(dataset, num_classes, num_examples):
    """``(x, y, example_index)`` batches, each checked as it is read, outside the step (an assert
    compiled into an XLA step does nothing): a label outside ``[0, num_classes)``, pixels outside
    [0, 1] or not finite, an index beyond ``num_examples`` stop ``fit`` there."""
    def check(images, labels, indices):
        checks = [_image_check(images), _label_check(labels, num_classes)]
        if num_examples is not None:
            checks.append(tf.debugging.assert_less(
                tf.cast(indices, tf.int64), tf.constant(num_examples, tf.int64),
                message=f"{INDEX_ERROR} ({num_examples})"))
        with tf.control_dependencies(checks):
            return tf.identity(images), tf.identity(labels), tf.identity(indices)

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE)


def _image_check(images):
    """Asserts that a batch's pixels are finite and in [0, 1], naming its extremes if not."""
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    inside = tf.logical_and(low >= 0, high <= 1) & tf.reduce_all(tf.math.is_finite(images))
    return tf.debugging.Assert(inside, [IMAGE_CHECK, low, high])


def _label_check(labels, num_classes):
    """Asserts that a batch's labels are class numbers in ``[0, num_classes)``, naming the
    first that is not."""
    labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
    outside = tf.logical_or(labels < 0, labels >= num_classes)
    first = tf.gather(labels, tf.argmax(tf.cast(outside, tf.int32)))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(outside)), [LABEL_CHECK, first])


def cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count > 0 else None


def with_positions(dataset, num_examples):
    """``(x, y)`` batches -> ``(x, y, position)``: each example's place in the stream (restarted
    every epoch: Keras iterates a finite data set afresh), modulo ``num_examples`` if known."""
    def add(count, batch):
        images, labels = batch
        size = tf.shape(labels, out_type=tf.int64)[0]
        positions = count + tf.range(size, dtype=tf.int64)
        if num_examples:
            positions %= num_examples
        return count + size, (images, labels, positions)

    return dataset.scan(tf.constant(0, tf.int64), add)


def with_example_index(dataset):
    """An unbatched ``(x, y)`` data set -> ``(x, y, example_index)``, the index the element's
    place in ``dataset``: call it before ``shuffle`` so the index stays with its example."""
    return dataset.enumerate().map(lambda index, element: (*element, index))
